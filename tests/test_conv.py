"""lab.conv: the by-hand convolution vs F.conv2d, the lecture's example, geometry, presets, hover, code."""

from __future__ import annotations

import itertools
import json

import numpy as np
import plotly.graph_objects
import plotly.io
import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

from lab import conv
from lab.codegen import run_snippet
from lab.conv import Geometry


def test_lecture_worked_example_gives_the_slide_output():
    Y = conv.convolve_by_hand(conv.LECTURE_IMAGE[None], conv.LECTURE_KERNEL[None, None])
    assert_close(Y[0], torch.tensor([[4.0, 3, 4], [2, 4, 3], [2, 3, 4]]))
    fast = conv.convolve(conv.LECTURE_IMAGE[None, None], conv.LECTURE_KERNEL[None, None])
    assert_close(fast[0, 0], conv.LECTURE_OUTPUT)
    assert conv.output_size(5, 3) == 3  # 5 − 3 + 1


def test_stepper_shows_patch_products_and_sums_of_the_slide():
    steps = conv.conv_steps(conv.LECTURE_IMAGE, conv.LECTURE_KERNEL)
    assert [s.total for s in steps.steps] == [4, 3, 4, 2, 4, 3, 2, 3, 4]
    first = steps.steps[0]
    assert_close(first.patch, conv.LECTURE_IMAGE[:3, :3])
    assert_close(first.products, conv.LECTURE_IMAGE[:3, :3] * conv.LECTURE_KERNEL)
    assert first.sum_text().endswith("= 4") and first.sum_text().count("·") == 9
    last = steps.steps[-1]
    assert (last.row, last.col, last.rows, last.cols) == (2, 2, [2, 3, 4], [2, 3, 4])


@pytest.mark.parametrize(
    ("stride", "padding", "dilation", "mode"),
    [
        (s, p, d, m)
        for s, p, d, m in itertools.product((1, 2, 3), (0, 1, 2), (1, 2), conv.PADDING_MODES)
        if not (m != "zeros" and p == 0 and (s, d) != (1, 1))  # keep the grid small; p=0 modes are all equal
    ],
)
def test_by_hand_equals_conv2d(stride, padding, dilation, mode):
    gen = torch.Generator().manual_seed(stride * 100 + padding * 10 + dilation)
    X = torch.randn(2, 7, 9, generator=gen)
    W = torch.randn(3, 2, 3, 3, generator=gen)
    b = torch.randn(3, generator=gen)
    g = Geometry(stride, padding, mode, dilation)
    by_hand = conv.convolve_by_hand(X, W, b, g)
    # The reference: nn.Conv2d with the same padding_mode (its own padding code, not ours).
    layer = torch.nn.Conv2d(2, 3, 3, stride, padding, dilation, padding_mode=mode)
    with torch.no_grad():
        layer.weight.copy_(W)
        layer.bias.copy_(b)
        reference = layer(X[None])[0]
    assert_close(by_hand, reference, atol=1e-5, rtol=1e-5)
    assert_close(conv.convolve(X[None], W, b, g)[0], reference, atol=1e-5, rtol=1e-5)
    assert by_hand.shape[-2:] == (
        conv.output_size(7, 3, stride, padding, dilation),
        conv.output_size(9, 3, stride, padding, dilation),
    )


@pytest.mark.parametrize("mode", conv.PADDING_MODES)
def test_pad_by_hand_equals_f_pad(mode):
    X = torch.arange(20.0).view(1, 4, 5)
    ref = F.pad(X[None], (3,) * 4, mode="constant" if mode == "zeros" else mode)[0]
    assert_close(conv.pad_by_hand(X, 3, mode), ref)


def test_per_channel_uses_groups_and_matches_by_hand():
    gen = torch.Generator().manual_seed(1)
    X = torch.rand(1, 3, 8, 8, generator=gen)
    cfg = conv.ConvConfig(kernel="sobel_x", mode="rgb", geometry=Geometry(padding=1))
    result = conv.apply(X, cfg)
    assert result.maps.shape == (3, 8, 8) and result.groups == 3
    for c in range(3):
        ref = conv.convolve_by_hand(X[0, c : c + 1], conv.kernel_preset("sobel_x")[None, None], None, cfg.geometry)
        assert_close(result.maps[c], ref[0], atol=1e-5, rtol=1e-5)


def test_filter_bank_is_c_by_k_by_k_and_matches_gray():
    gen = torch.Generator().manual_seed(2)
    X = torch.rand(1, 3, 10, 12, generator=gen)
    cfg = conv.ConvConfig(kernel="sobel_x", mode="bank", bank=("sobel_x", "box_blur", "laplacian"), size=5)
    result = conv.apply(X, cfg)
    assert result.weight.shape == (3, 3, 5, 5)  # 3×k×k filters, the 3×3 presets padded to 5×5 with zeros
    assert result.maps.shape[0] == 3
    # A filter w_c·K on RGB equals K on the luminance image (the convolution is linear).
    gray = conv.apply(X, conv.ConvConfig(kernel="sobel_x", mode="gray", geometry=cfg.geometry))
    assert_close(result.maps[0, 1:-1, 1:-1], gray.maps[0, 2:-2, 2:-2], atol=1e-5, rtol=1e-5)


def test_custom_kernel_joins_the_bank_first():
    cfg = conv.ConvConfig(kernel="custom", custom="1,2;3,4", mode="bank", bank=("edge",))
    weight, groups, names = conv.build_weight(cfg)
    assert weight.shape == (2, 3, 3, 3) and groups == 1 and names[0].startswith("Custom")
    assert_close(weight[0].sum(0)[:2, :2], torch.tensor([[1.0, 2], [3, 4]]), atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("name", [k for k in conv.KERNELS])
def test_presets_are_square_and_finite(name):
    for size in (3, 5, 7):
        K = conv.kernel_preset(name, size)
        assert K.ndim == 2 and K.shape[0] == K.shape[1] and torch.isfinite(K).all()


def test_preset_facts():
    flat = torch.full((1, 1, 9, 9), 0.7)
    for name in ("edge", "sobel_x", "sobel_y", "prewitt_x", "prewitt_y", "laplacian"):
        assert_close(conv.convolve(flat, conv.kernel_preset(name)[None, None]), torch.zeros(1, 1, 7, 7))  # flat → 0
    for name in ("box_blur", "gaussian_blur", "identity", "sharpen"):
        assert conv.kernel_preset(name, 5).sum().item() == pytest.approx(1.0, abs=1e-6)  # keep brightness
    ramp = torch.arange(9.0).repeat(9, 1)[None, None]  # brightness grows to the right
    assert (conv.convolve(ramp, conv.kernel_preset("sobel_x")[None, None]) > 0).all()
    assert_close(conv.convolve(ramp, conv.kernel_preset("sobel_y")[None, None]), torch.zeros(1, 1, 7, 7))


def test_normalise_kernel():
    assert conv.normalise_kernel(torch.ones(3, 3)).sum().item() == pytest.approx(1.0)
    edge = conv.normalise_kernel(conv.kernel_preset("edge"))
    assert edge.sum().item() == pytest.approx(0.0, abs=1e-6) and edge.max().item() == pytest.approx(1.0)
    assert_close(conv.normalise_kernel(torch.zeros(3, 3)), torch.zeros(3, 3))


def test_parse_and_format_kernel_round_trip():
    K = torch.tensor([[0.5, -1, 0], [2, 3.25, 1], [0, 0, -7]])
    assert_close(conv.parse_kernel(conv.format_kernel(K)), K)
    for bad in ("1,2;3", "", "1,nan;2,3", ";".join([",".join(["1"] * 8)] * 8), "a,b;c,d"):
        with pytest.raises(ValueError):
            conv.parse_kernel(bad)


def test_formula_text_writes_the_numbers():
    text = conv.formula_text(100, 5, Geometry(), "H")
    assert text == "H_out = ⌊(100 + 2·0 − 1·(5 − 1) − 1) / 1⌋ + 1 = ⌊95 / 1⌋ + 1 = 96"
    assert conv.formula_text(7, 3, Geometry(2, 1, "zeros", 2), "W").endswith("= 3")


def test_impossible_geometry_is_explained_not_crashed():
    with pytest.raises(conv.ConvGeometryError, match="No output"):
        conv.check_geometry(5, 5, 7, Geometry(dilation=1, padding=0))
    with pytest.raises(conv.ConvGeometryError, match="spans"):
        conv.convolve(torch.zeros(1, 1, 6, 6), torch.zeros(1, 1, 3, 3), geometry=Geometry(dilation=4))
    with pytest.raises(conv.ConvGeometryError, match="Reflect"):
        conv.check_geometry(4, 10, 3, Geometry(padding=4, padding_mode="reflect"))
    with pytest.raises(conv.ConvGeometryError, match="Circular"):
        conv.check_geometry(4, 10, 3, Geometry(padding=5, padding_mode="circular"))
    # PyTorch agrees these are impossible.
    with pytest.raises(RuntimeError):
        F.conv2d(torch.zeros(1, 1, 6, 6), torch.zeros(1, 1, 3, 3), dilation=4)
    # And the boundary case works: span 7 in a padded 7.
    assert conv.check_geometry(5, 5, 4, Geometry(padding=1, dilation=2)) == (1, 1)


def test_image_tensor_and_gray():
    rgb = np.zeros((40, 60, 3), dtype=np.uint8)
    rgb[..., 0] = 255
    X = conv.image_tensor(rgb, long_side=30)
    assert X.shape == (1, 3, 20, 30) and X.dtype == torch.float32
    assert_close(conv.to_gray(X), torch.full((1, 1, 20, 30), 0.299))


@pytest.mark.parametrize("mode", ["gray", "rgb", "bank"])
@pytest.mark.parametrize("geometry", [Geometry(padding=1), Geometry(2, 2, "reflect", 2), Geometry(1, 3, "circular", 1)])
@pytest.mark.parametrize("kernel", ["sobel_y", "gaussian_blur"])
def test_hover_arithmetic_equals_conv2d_for_sampled_pixels(mode, geometry, kernel):
    gen = torch.Generator().manual_seed(3)
    X = torch.rand(1, 3, 30, 40, generator=gen)
    cfg = conv.ConvConfig(kernel=kernel, size=5, mode=mode, geometry=geometry)
    result = conv.apply(X, cfg)
    channel = result.maps.shape[0] - 1
    region = conv.zoom_region(result.maps.shape[-2], result.maps.shape[-1], 0.9, 0.1, size=6)
    arith = conv.hover_arithmetic(result.X_in, result.weight, geometry, channel, result.groups, region)
    r0, r1, c0, c1 = region
    # The reference: F.conv2d itself (padding done by F.pad for the non-zero modes), not lab.conv.
    X_in = result.X_in[:, channel : channel + 1] if result.groups > 1 else result.X_in
    weight = result.weight[channel : channel + 1]
    pad_mode = "constant" if geometry.padding_mode == "zeros" else geometry.padding_mode
    reference = F.conv2d(
        F.pad(X_in, (geometry.padding,) * 4, mode=pad_mode), weight, stride=geometry.stride, dilation=geometry.dilation
    )[0, 0]
    for i, j in [(0, 0), (r1 - r0 - 1, c1 - c0 - 1), (2, 3), (r1 - r0 - 1, 0)]:  # sampled pixels of the window
        assert arith.sums[i, j] == pytest.approx(float(reference[r0 + i, c0 + j]), abs=1e-5)
        # The hover's products are patch ⊙ kernel, and they add up to the sum shown.
        np.testing.assert_allclose(arith.products[i, j], arith.patches[i, j] * arith.kernel, atol=1e-12)
        assert arith.products[i, j].sum() == pytest.approx(arith.sums[i, j], abs=1e-12)
    np.testing.assert_allclose(arith.sums, result.maps[channel, r0:r1, c0:c1].numpy(), atol=1e-5)
    np.testing.assert_allclose(arith.kernel, weight[0].numpy())


def test_hover_customdata_spells_out_patch_kernel_products_and_sum():
    from lab import conv_figures

    X = torch.rand(1, 3, 12, 12, generator=torch.Generator().manual_seed(6))
    for cfg in (
        conv.ConvConfig(),
        conv.ConvConfig(mode="bank"),
        conv.ConvConfig(mode="bank", kernel="box_blur", size=5),
    ):
        result = conv.apply(X, cfg)
        region = (0, 4, 0, 5)
        arith = conv.hover_arithmetic(result.X_in, result.weight, cfg.geometry, 0, result.groups, region)
        data, template = conv_figures.hover_customdata(arith)
        assert data.shape[:2] == (4, 5)
        assert "%{z:.4g}" in template and "Σ products" in template
        total_index = int(template.split("Σ products = <b>%{customdata[")[1].split("]")[0])
        np.testing.assert_allclose(data[..., total_index], arith.sums, rtol=1e-6)
        C, k = result.weight.shape[1], result.weight.shape[-1]
        if C * k * k <= conv_figures.HOVER_MAX_TERMS:  # every patch value and product is in the cell's data
            np.testing.assert_allclose(data[..., : C * k * k], arith.patches.reshape(4, 5, -1), atol=5e-5)
            np.testing.assert_allclose(
                data[..., C * k * k : 2 * C * k * k], arith.products.reshape(4, 5, -1), atol=5e-5
            )
            assert "kernel" in template and "products" in template
        fig = conv_figures.hover_figure(arith, result.maps[0, :4, :5].numpy(), "t")
        heat = fig.data[1]
        assert list(heat.x) == list(range(5)) and list(heat.y) == list(range(4))


def test_zoom_region_stays_inside():
    assert conv.zoom_region(100, 50, 1.0, 0.0, 24) == (76, 100, 0, 24)
    assert conv.zoom_region(10, 5, 0.5, 0.5, 24) == (0, 10, 0, 5)


@pytest.mark.parametrize(
    ("cfg", "pool"),
    [
        (conv.ConvConfig(), ("max", 2, 2, True)),
        (
            conv.ConvConfig(kernel="gaussian_blur", size=5, mode="rgb", geometry=Geometry(2, 2, "reflect", 1)),
            ("mean", 3, 2, False),
        ),
        (conv.ConvConfig(mode="bank", normalise=True, geometry=Geometry(1, 3, "circular", 3)), ("max", 2, 1, True)),
        (
            conv.ConvConfig(
                kernel="custom", custom="1,0,-1;2,0,-2;1,0,-1", geometry=Geometry(padding=1, padding_mode="replicate")
            ),
            ("max", 2, 2, True),
        ),
    ],
)
def test_show_me_the_code_reproduces_the_page(cfg, pool):
    gen = torch.Generator().manual_seed(4)
    image = torch.rand(1, 3, 24, 32, generator=gen)
    kind, k, s, relu = pool
    source = conv.snippet(cfg, pool_kind=kind, pool_k=k, pool_s=s, relu=relu)
    assert "F.conv2d" in source and ("max_pool2d" if kind == "max" else "avg_pool2d") in source
    ns = run_snippet(source, image=image)
    result = conv.apply(image, cfg)
    assert_close(ns["maps"][0], result.maps, atol=1e-5, rtol=1e-5)
    features = result.maps.clamp(min=0) if relu else result.maps
    from lab import pooling

    assert_close(ns["pooled"][0], pooling.pool(features[None], kind, k, s)[0], atol=1e-5, rtol=1e-5)


def test_clip_for_display_bounds_outliers():
    m = torch.zeros(1, 100, 100)
    m[0, 0, 0] = 1000.0
    m[0, 1:, :] = torch.linspace(-1, 1, 99 * 100).view(99, 100)
    out = conv.clip_for_display(m)
    assert out.max() < 2 and out.min() >= -1


def test_crop_gray_is_small_and_rounded():
    X = torch.rand(1, 3, 50, 60, generator=torch.Generator().manual_seed(5))
    crop = conv.crop_gray(X, 1.0, 0.0, 7)
    assert crop.shape == (7, 7)
    assert_close(crop, torch.round(conv.to_gray(X)[0, 0, 43:50, 0:7] * 100) / 100)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    X = torch.rand(1, 3, 64, 64)
    cfg = conv.ConvConfig(mode="bank", geometry=Geometry(2, 2, "reflect", 2))
    cpu = conv.apply(X, cfg, device="cpu").maps
    gpu = conv.apply(X, cfg, device="cuda").maps
    assert gpu.device.type == "cpu"
    assert_close(gpu, cpu, atol=1e-4, rtol=1e-4)


def test_sharpen_is_identity_minus_the_apps_laplacian():
    identity, laplacian = conv.kernel_preset("identity"), conv.kernel_preset("laplacian")
    assert laplacian[1, 1] == -4
    assert_close(conv.kernel_preset("sharpen"), identity - laplacian)
    what = conv.KERNELS["sharpen"].what
    assert "minus the Laplacian" in what and "plus" not in what.split("(")[0]


def test_dl_convolution_is_cross_correlation_and_the_flip_claims_hold():
    from scipy.signal import convolve2d, correlate2d

    X = torch.rand(9, 11, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    for name in conv.KERNELS:
        K = conv.kernel_preset(name).double()
        torch_out = F.conv2d(X[None, None], K[None, None])[0, 0].numpy()
        np.testing.assert_allclose(torch_out, correlate2d(X.numpy(), K.numpy(), mode="valid"), atol=1e-12)
        flipped = F.conv2d(X[None, None], conv.flip_kernel(K)[None, None])[0, 0].numpy()
        np.testing.assert_allclose(flipped, convolve2d(X.numpy(), K.numpy(), mode="valid"), atol=1e-12)
    note = conv.CROSS_CORRELATION_NOTE
    # Symmetric presets: a flip changes nothing.
    for name in ("edge", "laplacian", "sharpen", "identity", "box_blur", "gaussian_blur"):
        assert_close(conv.flip_kernel(conv.kernel_preset(name)), conv.kernel_preset(name))
    # Sobel/Prewitt: a flip negates them (every edge's sign reverses).
    for name in ("sobel_x", "sobel_y", "prewitt_x", "prewitt_y"):
        assert_close(conv.flip_kernel(conv.kernel_preset(name)), -conv.kernel_preset(name))
    assert "Sobel" in note and "negatives" in note
    # Emboss = identity + gradient: a flip keeps the identity and reverses the gradient.
    identity, emboss = conv.kernel_preset("identity"), conv.kernel_preset("emboss")
    assert_close(conv.flip_kernel(emboss), identity - (emboss - identity))
    assert "emboss" in note and "bottom-right" in note


def test_resize_kernel_keeps_weights_centred():
    K = torch.arange(1.0, 10.0).view(3, 3)
    grown, dropped = conv.resize_kernel(K, 5)
    assert grown.shape == (5, 5) and dropped == 0 and grown.sum() == K.sum()
    assert_close(grown[1:4, 1:4], K)
    back, dropped = conv.resize_kernel(grown, 3)
    assert_close(back, K) and dropped == 0
    cut, dropped = conv.resize_kernel(K, 1)
    assert cut.tolist() == [[5.0]] and dropped == 8


def test_parse_kernel_never_echoes_the_text_and_caps_its_length():
    with pytest.raises(ValueError) as caught:
        conv.parse_kernel("1,2,3;4,[evil](http://x),6;7,8,9")
    assert "evil" not in str(caught.value) and "row 2, entry 2" in str(caught.value)
    with pytest.raises(ValueError, match="at most"):
        conv.parse_kernel("1" * 5000)


def test_stepper_shows_the_kernel_whole_cells_and_plays_client_side():
    from lab import conv_figures

    steps = conv.conv_steps(conv.LECTURE_IMAGE, conv.LECTURE_KERNEL, Geometry(padding=1))
    fig = conv_figures.stepper_figure(steps, 4)
    kernel = next(t for t in fig.data if t.name == "kernel")
    np.testing.assert_array_equal(np.asarray(kernel.z), conv.LECTURE_KERNEL.numpy())
    for axis in [a for a in fig.layout if a.startswith(("xaxis", "yaxis"))]:
        assert fig.layout[axis].dtick == 1, axis  # whole cells: no 0.5 ticks
    # One frame per output cell; each frame's output panel holds exactly the cells filled so far.
    spec = json.loads(plotly.io.to_json(fig, validate=False))  # what the browser gets
    assert len(spec["frames"]) == len(steps.steps) == 25
    for n, frame in enumerate(spec["frames"]):
        out = np.asarray(frame["data"][1]["z"], dtype=float)  # null (not yet filled) → nan
        assert np.isfinite(out).sum() == n + 1
        step = steps.steps[n]
        assert frame["data"][1]["z"][step.row][step.col] == step.total
        assert_close(torch.tensor(frame["data"][0]["z"]), step.products, atol=1e-6, rtol=0)
        assert frame["traces"] == [2, 3] and f"out[{step.row}, {step.col}]" in frame["layout"]["title"]["text"]
    assert spec["layout"]["sliders"][0]["active"] == 4 and len(spec["layout"]["sliders"][0]["steps"]) == 25
    assert [b["label"] for b in spec["layout"]["updatemenus"][0]["buttons"]] == ["▶ Play", "❚❚ Pause"]
    # The frames replace every trace/shape they name with a valid plotly figure.
    plotly.graph_objects.Figure(spec)


def test_map_pictures_choose_the_scale_per_map_and_pixelated_never_blends():
    from lab import conv_figures
    from lab.figures import colorize

    X = torch.rand(1, 3, 20, 20, generator=torch.Generator().manual_seed(8))
    result = conv.apply(X, conv.ConvConfig(mode="bank", bank=("gaussian_blur", "sobel_x")))
    maps = conv.clip_for_display(result.maps)
    pictures = conv_figures.map_pictures(maps)
    names = result.names
    blur = names.index("Gaussian blur (3×k×k)")
    sobel = names.index("Sobel x (3×k×k)")
    assert pictures[blur][1] is False and pictures[sobel][1] is True
    np.testing.assert_array_equal(pictures[blur][0], colorize(maps[blur], signed=False)[0])  # viridis, not RdBu
    np.testing.assert_array_equal(pictures[sobel][0], colorize(maps[sobel], signed=True)[0])
    small = np.arange(3 * 4 * 3, dtype=np.uint8).reshape(3, 4, 3)
    big = conv_figures.pixelated(small, min_side=240)
    assert big.shape[0] >= 240 and set(np.unique(big)) == set(np.unique(small))  # only original colours
    np.testing.assert_array_equal(big[:: big.shape[0] // 3, :: big.shape[1] // 4], small)


def test_filter_bank_takes_each_preset_once():
    cfg = conv.ConvConfig(mode="bank", bank=("sobel_x",) * 1000 + ("edge", "sobel_x", "nope"))
    weight, _, names = conv.build_weight(cfg)
    assert weight.shape[0] == 2 and names == ["Sobel x (3×k×k)", "Lecture edge (3×k×k)"]
