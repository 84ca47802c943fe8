"""lab.conv_transpose: the stamping loop vs F.conv_transpose2d, the size formula vs nn.ConvTranspose2d."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch.testing import assert_close

from lab import conv, conv_transpose


@pytest.mark.parametrize(
    ("n", "k", "stride", "padding", "dilation", "output_padding"),
    [
        c
        for c in itertools.product((1, 3, 5), (1, 2, 3, 5), (1, 2, 3), (0, 1, 2), (1, 2), (0, 1))
        if c[5] < max(c[2], c[4])  # PyTorch's rule for output_padding
    ],
)
def test_output_size_formula_equals_conv_transpose2d(n, k, stride, padding, dilation, output_padding):
    layer = torch.nn.ConvTranspose2d(1, 1, k, stride, padding, output_padding, dilation=dilation)
    expected = conv_transpose.transposed_output_size(n, k, stride, padding, dilation, output_padding)
    if expected < 1:
        with pytest.raises(RuntimeError):
            layer(torch.zeros(1, 1, n, n))
        return
    assert layer(torch.zeros(1, 1, n, n)).shape[-2:] == (expected, expected)


@pytest.mark.parametrize(("stride", "padding"), list(itertools.product((1, 2, 3), (0, 1, 2))))
def test_stamping_by_hand_equals_torch(stride, padding):
    gen = torch.Generator().manual_seed(stride * 10 + padding)
    X = torch.randn(3, 4, generator=gen, dtype=torch.float64)
    K = torch.randn(3, 3, generator=gen, dtype=torch.float64)
    layer = torch.nn.ConvTranspose2d(1, 1, 3, stride, padding, bias=False).double()
    with torch.no_grad():
        layer.weight.copy_(K[None, None])
        reference = layer(X[None, None])[0, 0]
    assert_close(conv_transpose.conv_transpose_by_hand(X, K, stride, padding), reference)
    assert_close(conv_transpose.conv_transpose(X, K, stride, padding), reference)
    assert reference.shape == (
        conv_transpose.transposed_output_size(3, 3, stride, padding),
        conv_transpose.transposed_output_size(4, 3, stride, padding),
    )


def test_transpose_restores_a_convolutions_input_shape_not_its_values():
    Y = conv.convolve(conv.LECTURE_IMAGE[None, None], conv.LECTURE_KERNEL[None, None])[0, 0]  # 5×5 → 3×3
    back = conv_transpose.conv_transpose(Y, conv.LECTURE_KERNEL)
    assert back.shape == conv.LECTURE_IMAGE.shape and not torch.equal(back, conv.LECTURE_IMAGE)


def test_latex_formula_and_impossible_padding():
    tex = conv_transpose.transposed_formula_latex(3, 3, 2, 1)
    assert tex.endswith(r"= 5\end{aligned}") and r"(3 - 1)\cdot 2 - 2\cdot 1 + (3 - 1) + 1" in tex
    assert conv_transpose.transposed_output_size(3, 3, 2, 1) == 5
    with pytest.raises(conv_transpose.TransposeGeometryError, match="No output"):
        conv_transpose.check_transpose(1, 1, 1, 1, 1)
