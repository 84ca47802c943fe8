"""A faster runner for the preview's ``v2`` pipeline: same random draws, leaner kernels.

Where the preview's time went (16 samples, 256×192, one thread): ``v2``'s
per-call machinery (flatten the inputs, check them, look up the kernel — about
a millisecond per transform per sample), the hue shift (``_rgb_to_hsv`` then
``_hsv_to_rgb``: ~3.4 ms per image) and the 9×9 Gaussian blur (one 2-D
convolution, 81 multiply-adds per pixel: ~2.2 ms per image).

:func:`run` runs each sample through the *same transform instances* as
``v2.Compose`` does, and draws in the same order: the probability test
``torch.rand(1) >= p`` of the random-apply transforms, then ``make_params``
(so the recording wrappers of :mod:`lab.augment` still see every draw), then
the transform's own ``transform(image, params)`` — exactly what ``forward``
does, minus the bookkeeping. Two kernels compute the same maths another way:

- the hue shift: the same HSV hue rotation written directly on the RGB
  channels (max and min stay, the middle channel moves: ~30 elementwise ops);
- the Gaussian blur: torchvision's 2-D kernel is the outer product of two 1-D
  kernels, so a horizontal then a vertical 1-D pass (18 multiply-adds per
  pixel) computes the same sum in another order.

Both agree with torchvision up to float rounding (~1e-6): on the uint8 output
at most 1 grey level, at a few pixels (tested). The other replaced kernels do
torchvision's own arithmetic with fewer passes over memory, so they are
bit-identical: rotation (one ``grid_sample``, the angle-free half of the grid
cached), brightness / contrast / saturation and noise written in place into
tensors the run made itself (never into the caller's image), and the
uint8 → float conversion in one pass. Crops, flips, the automatic policies and
the rest are torchvision's own code.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as nnF
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF
from torchvision.transforms.v2._transform import _RandomApplyTransform
from torchvision.transforms.v2._utils import _get_fill
from torchvision.transforms.v2.functional._geometry import _get_inverse_affine_matrix
from torchvision.transforms.v2.functional._misc import _get_gaussian_kernel1d


def adjust_hue(image: torch.Tensor, hue_factor: float) -> torch.Tensor:
    """Rotate the hue of float RGB ``(3, H, W)`` in [0, 1] by ``hue_factor`` turns (−0.5…0.5).

    Same maths as ``v2.functional.adjust_hue`` (HSV hue shift, S and V kept),
    written on RGB: max and min stay, chroma C = max − min, and with h' the
    shifted hue in sixths, channel k (n = 5, 3, 1 for R, G, B) is
    min + C·clamp(|t − 2| − 1, 0, 1), t = (n + h') mod 6 — the textbook
    HSV → RGB formula V − C·clamp(min(t, 4 − t), 0, 1) rearranged, and
    computed in turns (t / 6) to save passes over the image.
    """
    if image.ndim != 3 or image.shape[-3] != 3 or not image.is_floating_point():
        return TF.adjust_hue(image, hue_factor)
    r, g, b = image.unbind(dim=-3)
    maxc = torch.maximum(torch.maximum(r, g), b)
    minc = torch.minimum(torch.minimum(r, g), b)
    chroma = maxc - minc
    # Hue in sixths of a turn, by torchvision's sector rule (R wins ties, then G; grey pixels get 0),
    # with 0/1 masks from sign() of non-negative differences: torch.where is ~10× slower on the CPU.
    is_r = 1.0 - torch.sign(maxc - r)
    is_g = (1.0 - torch.sign(maxc - g)).mul_(1.0 - is_r)
    is_b = 1.0 - is_r - is_g
    num = (  # the hue in sixths of a turn, times the chroma
        (g - b)
        .mul_(is_r)
        .add_((b - r).add_(chroma, alpha=2.0).mul_(is_g))
        .add_((r - g).add_(chroma, alpha=4.0).mul_(is_b))
    )
    # In turns from here: u = ((n + h') / 6) mod 1 and the channel is min + 6C·clamp(|u − 1/3| − 1/6, 0, 1/6).
    chroma6 = chroma.mul_(6.0)
    h = num.div_(chroma6.clamp_min(_TINY)).add_(hue_factor + 1.0)  # > 0; grey pixels: 0 / tiny = 0
    t = h.unsqueeze(0) + _HUE_OFFSETS.to(image.device, image.dtype)  # (3, H, W), > 0
    t = t.frac_().sub_(1.0 / 3.0).abs_().sub_(1.0 / 6.0).clamp_(0.0, 1.0 / 6.0)  # frac: ~4× cheaper than remainder
    return torch.addcmul(minc.unsqueeze(0), t, chroma6.unsqueeze(0))


_HUE_OFFSETS = torch.tensor([5.0, 3.0, 1.0]).view(3, 1, 1) / 6.0
_TINY = torch.finfo(torch.float32).tiny  # the divisor of grey pixels (chroma 0, numerator 0)


def gaussian_blur(image: torch.Tensor, kernel_size: Sequence[int], sigma: Sequence[float]) -> torch.Tensor:
    """``v2.functional.gaussian_blur`` on a float ``(C, H, W)`` image as two 1-D passes (same kernel, reflect pad)."""
    if not image.is_floating_point() or image.ndim != 3:
        return TF.gaussian_blur(image, list(kernel_size), list(sigma))
    kx, ky = int(kernel_size[0]), int(kernel_size[1])
    wx = _get_gaussian_kernel1d(kx, float(sigma[0]), image.dtype, image.device)
    wy = _get_gaussian_kernel1d(ky, float(sigma[1]), image.dtype, image.device)
    x = nnF.pad(image.unsqueeze(0), [kx // 2, kx // 2, ky // 2, ky // 2], mode="reflect")[0]
    wx, wy = wx.tolist(), wy.tolist()  # Python floats: one conversion, not one per tap
    width, height = image.shape[-1], image.shape[-2]
    rows = x[..., 0:width] * wx[0]  # horizontal pass on the padded rows: (C, H + ky − 1, W)
    for j in range(1, kx):
        rows.add_(x[..., j : j + width], alpha=float(wx[j]))
    out = rows[..., 0:height, :] * wy[0]
    for i in range(1, ky):
        out.add_(rows[..., i : i + height, :], alpha=float(wy[i]))
    return out


def rotate_nearest(image: torch.Tensor, angle: float) -> torch.Tensor:
    """``v2.functional.rotate(image, angle)`` (nearest, fill 0, same size) for a float ``(C, H, W)`` image.

    torchvision appends a ones channel to mark the pixels that came from outside
    and then writes the fill there (``torch.where``: slow on the CPU). With
    nearest sampling, zero padding and fill 0 those pixels are already 0, so the
    same grid through one ``grid_sample`` gives the same image. The grid is
    torchvision's ``_affine_grid`` with its angle-independent half cached.
    """
    a = angle % 360
    if a in (0, 90, 180, 270) or not image.is_floating_point() or image.ndim != 3:
        return TF.rotate(image, angle, interpolation=v2.InterpolationMode.NEAREST, fill=0)
    height, width = image.shape[-2:]
    matrix = _get_inverse_affine_matrix([0.0, 0.0], -a, [0.0, 0.0], 1.0, [0.0, 0.0])
    theta = torch.tensor(matrix, dtype=image.dtype, device=image.device).reshape(1, 2, 3)
    scale = torch.tensor([0.5 * width, 0.5 * height], dtype=image.dtype, device=image.device)
    base = _base_grid(height, width, image.dtype, image.device)
    grid = base.bmm(theta.transpose(1, 2).div_(scale)).view(1, height, width, 2)  # exactly _affine_grid's ops
    return nnF.grid_sample(image.unsqueeze(0), grid, mode="nearest", padding_mode="zeros", align_corners=False)[0]


@functools.lru_cache(maxsize=8)
def _base_grid(height: int, width: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """``_affine_grid``'s (1, H·W, 3) grid of pixel centres (x, y, 1): the part that does not depend on the angle."""
    grid = torch.empty(1, height, width, 3, dtype=dtype, device=device)
    grid[..., 0].copy_(torch.linspace((1.0 - width) * 0.5, (width - 1.0) * 0.5, steps=width, device=device))
    grid[..., 1].copy_(torch.linspace((1.0 - height) * 0.5, (height - 1.0) * 0.5, steps=height, device=device)[:, None])
    grid[..., 2].fill_(1)
    return grid.view(1, height * width, 3)


def _rotate(t: v2.RandomRotation, x: torch.Tensor, p: dict[str, Any], own: bool) -> torch.Tensor:
    fill = _get_fill(t._fill, type(x))
    mode = t.interpolation.value if isinstance(t.interpolation, v2.InterpolationMode) else t.interpolation
    plain = mode == "nearest" and not t.expand and t.center is None
    zero = fill is not None and all(float(f) == 0.0 for f in (fill if isinstance(fill, list | tuple) else [fill]))
    if plain and zero and x.is_floating_point():
        return rotate_nearest(x, p["angle"])
    return t.transform(x, p)


def _blend_(x: torch.Tensor, other: torch.Tensor, ratio: float, own: bool) -> torch.Tensor:
    """torchvision's ``_blend`` for float images (``ratio·x + (1 − ratio)·other``, clamped), in place if ``own``."""
    return (x.mul_(ratio) if own else x.mul(ratio)).add_(other, alpha=1.0 - ratio).clamp_(0.0, 1.0)


def _gray(x: torch.Tensor) -> torch.Tensor:
    r, g, b = x.unbind(dim=-3)  # torchvision's _rgb_to_grayscale_image, float: the same three ops
    return r.mul(0.2989).add_(g, alpha=0.587).add_(b, alpha=0.114).unsqueeze(dim=-3)


def _jitter(t: v2.ColorJitter, x: torch.Tensor, p: dict[str, Any], own: bool) -> torch.Tensor:
    """``ColorJitter.transform``: the order it drew, torchvision's arithmetic, in place after the first op; the hue faster."""
    if not x.is_floating_point() or x.ndim != 3 or x.shape[-3] != 3:
        return t.transform(x, p)
    for fn_id in p["fn_idx"].tolist():
        if fn_id == 0 and p["brightness_factor"] is not None:
            factor = float(p["brightness_factor"])
            x = (x.mul_(factor) if own else x.mul(factor)).clamp_(0.0, 1.0)
        elif fn_id == 1 and p["contrast_factor"] is not None:
            mean = torch.mean(_gray(x), dim=(-3, -2, -1), keepdim=True)
            x = _blend_(x, mean, float(p["contrast_factor"]), own)
        elif fn_id == 2 and p["saturation_factor"] is not None:
            x = _blend_(x, _gray(x), float(p["saturation_factor"]), own)
        elif fn_id == 3 and p["hue_factor"] is not None:
            x = adjust_hue(x, p["hue_factor"])
        else:
            continue
        own = True  # every branch above returned a new tensor or wrote into one of ours
    return x


def _blur(t: v2.GaussianBlur, x: torch.Tensor, p: dict[str, Any], own: bool) -> torch.Tensor:
    return gaussian_blur(x, t.kernel_size, p["sigma"])


def _noise(t: v2.GaussianNoise, x: torch.Tensor, p: dict[str, Any], own: bool) -> torch.Tensor:
    """``gaussian_noise_image`` for float images, the same ops in place (bit-identical, fewer allocations)."""
    if not x.is_floating_point() or t.sigma < 0:
        return t.transform(x, p)
    noise = torch.randn_like(x).mul_(t.sigma).add_(t.mean)  # = mean + randn * sigma: the same two roundings
    out = noise.add_(x)  # = x + noise (addition commutes exactly)
    return out.clamp_(0, 1) if t.clip else out


def _to_dtype(t: v2.ToDtype, x: torch.Tensor, p: dict[str, Any], own: bool) -> torch.Tensor:
    """``ToDtype(scale=True)``: uint8 → float32 in one pass (torchvision: two), float32 → uint8 in place (bit-identical)."""
    if t.scale and t.dtype == torch.float32 and x.dtype == torch.uint8:
        return torch.mul(x, _INV_255)  # uint8 × float32 scalar → float32: to(float32).mul_(1/255) in one pass
    if t.scale and t.dtype == torch.uint8 and x.dtype == torch.float32 and own:
        return x.mul_(255.999).to(torch.uint8)  # to_dtype_image's ``mul(255 + 1 − 1e-3)``, in place
    return t.transform(x, p)


_INV_255 = torch.tensor(1.0 / 255, dtype=torch.float32)

FAST_KERNELS = {
    v2.ColorJitter: _jitter,
    v2.GaussianBlur: _blur,
    v2.RandomRotation: _rotate,
    v2.GaussianNoise: _noise,
    v2.ToDtype: _to_dtype,
}

#: Transforms whose ``forward`` is exactly "random-apply test, make_params, transform" (or without the test).
_PLAIN = (
    v2.RandomResizedCrop,
    v2.RandomRotation,
    v2.RandomHorizontalFlip,
    v2.RandomVerticalFlip,
    v2.RandomAffine,
    v2.RandomPerspective,
    v2.ElasticTransform,
    v2.ColorJitter,
    v2.RandomGrayscale,
    v2.GaussianBlur,
    v2.RandomPosterize,
    v2.RandomSolarize,
    v2.RandomEqualize,
    v2.GaussianNoise,
    v2.RandomErasing,
    v2.ToDtype,
    v2.Identity,
)


#: Transforms whose ``transform`` (not only ``make_params``) draws random numbers.
_DRAWS_IN_TRANSFORM = (v2.GaussianNoise,)


def apply(
    t: v2.Transform,
    x: torch.Tensor,
    *,
    fast: bool = True,
    own: bool = False,
    rng: contextlib.AbstractContextManager | None = None,
) -> torch.Tensor:
    """``t(x)`` for a plain image tensor, drawing exactly what ``t.forward`` draws, in the same order.

    ``fast=False`` keeps torchvision's own kernel (bit-identical result).
    ``own=True`` lets a fast kernel overwrite ``x`` (an intermediate nobody else holds).
    ``rng`` (a :class:`lab.augment_rng.PrivateRNG`) is entered around the parts that draw — the
    probability test, ``make_params``, a policy's whole forward, the noise — and only those:
    the mode costs a Python call per torch op, and the kernels make most of the ops.
    """
    draws = rng if rng is not None else contextlib.nullcontext()
    if type(t) not in _PLAIN:
        with draws:
            return t(x)  # automatic policies and anything else: torchvision's own forward
    with draws:
        if isinstance(t, _RandomApplyTransform) and torch.rand(1) >= t.p:
            return x
        params = t.make_params([x])
    kernel = FAST_KERNELS.get(type(t)) if fast else None
    with draws if isinstance(t, _DRAWS_IN_TRANSFORM) else contextlib.nullcontext():
        return kernel(t, x, params, own) if kernel is not None else t.transform(x, params)


def first_fast(transforms: Sequence[v2.Transform]) -> int:
    """Index from which the fast kernels may be used: after the last conversion to uint8 that is not the final one.

    A difference of ~1e-7 in float only decides the rounding of the *final*
    conversion (≤ 1 grey level). Rounded to uint8 *mid-pipeline*, that one level
    could be amplified by what follows (equalize, posterize, a policy's
    contrast), so kernels before such a conversion stay torchvision's.
    """
    start = 0
    for i, t in enumerate(transforms[:-1]):
        if isinstance(t, v2.ToDtype) and t.dtype == torch.uint8:
            start = i + 1
    return start


def run(
    transforms: Sequence[v2.Transform], x: torch.Tensor, *, rng: contextlib.AbstractContextManager | None = None
) -> torch.Tensor:
    """The pipeline on one uint8 ``(C, H, W)`` image: what ``v2.Compose(transforms)(x)`` gives (≤ 1 grey level).

    With ``rng`` (a :class:`lab.augment_rng.PrivateRNG`) every draw comes from its private generator.
    """
    start = first_fast(transforms)
    source = x.untyped_storage().data_ptr()
    for i, t in enumerate(transforms):
        # In place only on plain tensors this run made (not the caller's image or a view of it, not an expand()).
        own = x.is_contiguous() and x.untyped_storage().data_ptr() != source
        x = apply(t, x, fast=i >= start, own=own, rng=rng)
    return x
