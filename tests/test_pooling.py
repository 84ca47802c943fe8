"""lab.pooling: by-hand pooling vs F.max_pool2d / F.avg_pool2d, and the shift test."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

from lab import conv, pooling


@pytest.mark.parametrize("kind", pooling.POOL_KINDS)
@pytest.mark.parametrize(("kernel", "stride"), [(2, 2), (3, 2), (2, 1), (3, 3), (4, 2)])
def test_by_hand_equals_torch(kind, kernel, stride):
    X = torch.randn(2, 9, 11, generator=torch.Generator().manual_seed(kernel * 10 + stride))
    reference = F.max_pool2d(X[None], kernel, stride) if kind == "max" else F.avg_pool2d(X[None], kernel, stride)
    assert_close(pooling.pool_by_hand(X, kind, kernel, stride), reference[0])
    assert_close(pooling.pool(X[None], kind, kernel, stride), reference)
    assert reference.shape[-2:] == (pooling.pooled_size(9, kernel, stride), pooling.pooled_size(11, kernel, stride))


def test_size_reduction():
    assert pooling.size_reduction(96, 96, 2, 2) == (48, 48, 4.0)
    H, W, factor = pooling.size_reduction(7, 7, 3, 2)
    assert (H, W) == (3, 3) and factor == pytest.approx(49 / 9)


def test_pool_window_too_big_is_explained():
    with pytest.raises(pooling.PoolingError, match="does not fit"):
        pooling.pool(torch.zeros(1, 1, 3, 5), "max", 4)


def test_max_pool_is_invariant_to_shifts_inside_the_window():
    X = torch.zeros(1, 1, 8, 8)
    X[0, 0, 2, 2] = 1.0
    moved = torch.roll(X, 1, dims=-1)  # (2,2) → (2,3): same 2×2 window
    assert_close(pooling.pool(X), pooling.pool(moved))
    assert not torch.equal(X, moved)


def test_shift_test_numbers():
    gen = torch.Generator().manual_seed(0)
    X = torch.rand(1, 1, 64, 64, generator=gen)
    X = F.avg_pool2d(X, 3, 1, 1)  # some spatial correlation, like a photo
    weight = conv.kernel_preset("edge")[None, None]
    result = pooling.shift_test(X, weight, kind="max", kernel=4, stride=4)
    assert [r.shift for r in result.rows] == [1, 2, 3, 4]
    for r in result.rows:
        assert r.change_conv > 0 and -1 <= r.corr_pool <= 1
    # Pooling makes the map less sensitive to a 1-pixel shift, on both measures.
    one = result.rows[0]
    assert one.change_pool < one.change_conv and one.corr_pool > one.corr_conv
    # The comparison is at the same positions: unshifted maps compared with themselves change by 0.
    same = pooling._relative_change(result.conv, result.conv)
    assert same == pytest.approx((0.0, 1.0))
    # The maps shown belong to the shift asked for.
    assert result.shown == 1 and result.pooled.shape == (15, 15)


def test_shift_test_matches_a_direct_computation():
    X = torch.rand(1, 1, 40, 40, generator=torch.Generator().manual_seed(1))
    weight = conv.kernel_preset("sobel_x")[None, None]
    result = pooling.shift_test(X, weight, conv.Geometry(padding=1), kind="mean", kernel=2, stride=2, shown=3)
    crop0, crop3 = X[..., :36, :36], X[..., 3:39, 3:39]
    m0 = F.conv2d(crop0, weight, padding=1).clamp(min=0)
    m3 = F.conv2d(crop3, weight, padding=1).clamp(min=0)
    assert_close(result.conv_shifted, m3[0, 0])
    expected = float((F.avg_pool2d(m0, 2) - F.avg_pool2d(m3, 2)).abs().mean() / F.avg_pool2d(m0, 2).abs().mean())
    assert result.rows[2].change_pool == pytest.approx(expected, rel=1e-5)


def test_shift_test_per_channel_and_bank():
    X = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    rgb = conv.build_weight(conv.ConvConfig(kernel="laplacian", mode="rgb"))[0]
    assert pooling.shift_test(X, rgb, groups=3).rows
    bank = conv.build_weight(conv.ConvConfig(mode="bank"))[0]
    assert pooling.shift_test(X, bank).rows
    with pytest.raises(pooling.PoolingError):
        pooling.shift_test(X[..., :10, :10], bank)


def test_shift_test_moves_the_window_right_and_down_so_the_content_moves_up_and_left():
    # Identity kernel, no pooling effect on the comparison: the shifted map is the content moved up-left by s.
    X = torch.rand(1, 1, 30, 30, generator=torch.Generator().manual_seed(3))
    identity = conv.kernel_preset("identity")[None, None]
    result = pooling.shift_test(X, identity, conv.Geometry(padding=1), relu=False, shown=2)
    assert_close(result.conv_shifted[:-2, :-2], result.conv[2:, 2:])  # shifted[i, j] == reference[i + 2, j + 2]
    # The docstrings say so too (the page's text is checked in tests/test_page_convolution.py).
    assert "up and left" in pooling.ShiftRow.__doc__ and "up and left" in pooling.shift_test.__doc__


def test_shift_test_pooling_window_too_big_gets_a_pooling_message():
    # The shift test's maps are the photo minus 4 px: a 14×14 window fits the 16×16 photo, not its 12×12 maps.
    X = torch.rand(1, 1, 16, 16, generator=torch.Generator().manual_seed(4))
    edge = conv.kernel_preset("edge")[None, None]
    with pytest.raises(pooling.PoolingError) as caught:
        pooling.shift_test(X, edge, conv.Geometry(padding=1), kernel=14, stride=14)
    message = str(caught.value)
    assert "pooling window" in message and "12×12" in message
    assert "dilated" not in message and "kernel spans" not in message  # not the convolution's message
