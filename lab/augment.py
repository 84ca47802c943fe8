"""Data augmentation: one image becomes many.

The lecture: *"We can get N times more data by tweaking images. If you rotate a
cat image by 15°, it's still a cat."* This module builds a torchvision
``transforms.v2`` pipeline from a spec table, draws a grid of seeded samples
and reports, for each sample, the parameters that were actually drawn.

The spec table
    :data:`TRANSFORMS` lists every transform the lab offers: its widgets
    (:class:`lab.params.Param`: name, range, default), the ``v2`` class it
    builds and how the widget values become that class's arguments. Pages
    build their controls from it in a loop; tests run every entry on RGB,
    grayscale and odd-sized images.

Preview resolution first
    Random geometry and colour ops cost time proportional to the pixel count,
    and torchvision on a uint8 tensor is several times slower than OpenCV
    (DESIGN §5). The preview is shown at ~256 px, so the photo is resized *once*
    to the preview size before the random part; a random resized crop, when on,
    is the first step and cuts a copy of the photo just large enough that no
    window is enlarged (:func:`crop_source_size`) straight to the preview size:
    zooms stay sharp, and only the crop is resampled at more than preview size.
    After it the image is converted to float32 *once* (each ``v2`` op on uint8
    converts to float and back internally) and the blur kernel covers ±2σ.
    Previews use both CPU cores while no other session computes
    (:func:`lab.device.cores_if_alone`).

Seeding and the drawn parameters (how the captions are made)
    Sample ``i`` of a grid draws as if after ``torch.manual_seed(first_seed +
    i)`` with ``first_seed = seed * 100_000 + draw * 100`` (``draw`` counts
    the "resample" clicks). The draws come from a *private* generator seeded
    that way (:func:`lab.augment_rng.private_rng`), never from torch's global
    one, so sessions drawing at the same time cannot change each other's grids,
    and the numbers are the ones ``torch.manual_seed`` gives: the generated
    code (:func:`pipeline_code`) reproduces the page exactly.

    To *show* what was drawn we do not re-implement any sampling: the pipeline
    runs exactly as ``Compose`` runs it, but on each transform instance we wrap
    the method torchvision itself calls with the random draws —
    ``make_params`` for ordinary transforms (it returns e.g. ``{"angle": 7.3}``)
    and ``_apply_image_or_video_transform`` for the automatic policies (it
    receives the chosen op and magnitude). The wrappers only record; the random
    stream and the images are identical to an unwrapped pipeline (tested).
    A transform with a probability ``p`` that did not fire never reaches
    ``make_params``; its caption says "no".
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torchvision.transforms import v2

from lab import augment_fast
from lab.augment_rng import PrivateRNG
from lab.codegen import code, render_snippet
from lab.device import cores_if_alone
from lab.params import Param

Stage = Literal["crop", "uint8", "float"]  # where it runs: first on the photo, or on which dtype

#: Longest side of the preview images (pixels), offered as a choice.
PREVIEW_SIDES = (128, 192, 256, 320, 384)


# --- the spec table ------------------------------------------------------------------------


@dataclass(frozen=True)
class TransformSpec:
    """One transform the lab offers: its widgets and how they become a ``v2`` transform."""

    key: str  # also the name of its on/off toggle in the URL
    title: str  # what the page calls it
    group: str  # "Geometry", "Colour and noise" or "Automatic policies"
    v2_class: str  # the class in torchvision.transforms.v2 it builds
    params: tuple[Param, ...]  # its widgets (without the on/off toggle)
    kwargs: Callable[[Mapping[str, Any], tuple[int, int]], dict[str, Any]]  # (values, (H, W) out) → kwargs
    describe: Callable[[Any], str]  # drawn parameters → a short caption
    stage: Stage = "float"  # "crop" runs first on the full uint8 photo; "uint8" needs 0–255 integers
    on: bool = False  # enabled by default
    note: str = ""  # one sentence: what it does, and when the label may not survive
    short: str = ""  # caption name when its probability did not fire ("no h-flip"); default: the title

    @property
    def toggle(self) -> Param:
        return Param(self.key, self.title, self.on, kind="bool", help=self.note)

    @property
    def specs(self) -> tuple[Param, ...]:
        """The toggle plus the transform's own widgets."""
        return (self.toggle, *self.params)

    def build(self, values: Mapping[str, Any], size: tuple[int, int]) -> v2.Transform:
        """The ``v2`` transform for these widget values; ``size`` is the (H, W) of the output image."""
        return getattr(v2, self.v2_class)(**self.kwargs(values, size))

    def source(self, values: Mapping[str, Any], size: tuple[int, int]) -> str:
        """The same transform as Python source, e.g. ``v2.RandomRotation(degrees=(-15.0, 15.0))``."""
        args = ", ".join(f"{k}={_py(v)}" for k, v in self.kwargs(values, size).items())
        return f"v2.{self.v2_class}({args})"


def _py(value: Any) -> str:
    """A Python literal that round-trips exactly (floats via repr), enums as ``v2.Enum.NAME``."""
    if isinstance(value, Enum):
        return f"v2.{type(value).__name__}.{value.name}"
    if isinstance(value, torch.dtype):
        return str(value)
    if isinstance(value, tuple | list):
        inner = ", ".join(_py(v) for v in value)
        if isinstance(value, list):
            return f"[{inner}]"
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    return repr(value)


def _p(key: str) -> Param:
    return Param(f"{key}_p", "probability p", 0.5, lo=0.0, hi=1.0, step=0.05, help="Chance that it is applied.")


def _fmt(x: float, digits: int = 2) -> str:
    return f"{x:+.{digits}f}".replace("-", "−")


def _blur_kernel(sigma_max: float, size: tuple[int, int]) -> int:
    """An odd kernel covering ±2σ of the largest σ, capped so reflect-padding fits the image.

    ±2σ keeps 95 % of each 1-D Gaussian's mass (the kernel is renormalised), close
    to torchvision's own rule of thumb σ = 0.15 k + 0.35 (k = 9 ↔ σ = 1.7).
    ``GaussianBlur`` convolves with the full 2-D k×k kernel, so the cost grows as
    k²: ±3σ (k = 13 at σ = 2) costs twice as much for a difference that does not
    show at preview size.
    """
    k = 2 * math.ceil(2 * sigma_max) + 1
    cap = 2 * min(size) - 1
    return max(1, min(k, cap if cap % 2 else cap - 1))


def _describe_crop(p: Mapping[str, Any]) -> str:
    """The window as a share of the area it was cut from (the crop's source copy is not the photo's size)."""
    height, width = p["_size"]
    area = p["width"] * p["height"] / (width * height)
    return f"crop {area:.0%} ({p['width'] / p['height']:.2f}:1) @{p['left'] / width:.0%},{p['top'] / height:.0%}"


def _describe_affine(p: Mapping[str, Any]) -> str:
    tx, ty = p["translate"]
    sx, sy = p["shear"]
    return f"shift {tx},{ty} ×{p['scale']:.2f} shear {sx:+.0f}°,{sy:+.0f}°".replace("-", "−")


def _describe_perspective(p: Mapping[str, Any]) -> str:
    # The coefficients map output pixels to input pixels: x_in = (a x + b y + c) / (g x + h y + 1), …
    # Where the photo's corners land is the inverse map (well defined: torchvision draws those end points).
    a, b, c, d, e, f, g, h = p["coefficients"]
    height, width = p["_size"]
    corners = np.array([[0, 0, 1], [width - 1, 0, 1], [width - 1, height - 1, 1], [0, height - 1, 1]], float)
    landed = corners @ np.linalg.inv(np.array([[a, b, c], [d, e, f], [g, h, 1.0]])).T
    moved = landed[:, :2] / landed[:, 2:]
    return f"perspective: corners moved ≤{np.abs(moved - corners[:, :2]).max():.0f} px"


def _describe_elastic(p: Mapping[str, Any]) -> str:
    d = p["displacement"]  # (1, H, W, 2) in normalised [-1, 1] grid units
    w = d.shape[2]
    return f"elastic ≤{float(d.abs().amax()) * w / 2:.1f} px"


def _describe_jitter(p: Mapping[str, Any]) -> str:
    parts = []
    for name, short in (("brightness_factor", "b"), ("contrast_factor", "c"), ("saturation_factor", "s")):
        if p.get(name) is not None:
            parts.append(f"{short}×{p[name]:.2f}")
    if p.get("hue_factor") is not None:
        parts.append(f"h{_fmt(p['hue_factor'], 3).replace('0.', '.', 1)}")  # h−.048
    return " ".join(parts) or "jitter (no change)"


def _describe_erasing(p: Mapping[str, Any]) -> str:
    if p.get("v") is None:
        return "erase: none"
    return f"erased {p['w']}×{p['h']} @{p['j']},{p['i']}"


def _describe_ops(ops: Sequence[tuple[str, float]], shown: int = 4) -> str:
    """The policy's ops in the order applied; past ``shown`` only a count (AugMix can apply dozens)."""
    parts = [f"{name} {_fmt(m)}" if m else name for name, m in ops]
    more = f" … +{len(parts) - shown} more" if len(parts) > shown else ""
    return ", ".join(parts[:shown]) + more or "identity"


TRANSFORMS: tuple[TransformSpec, ...] = (
    # --- geometry ---------------------------------------------------------------------
    TransformSpec(
        "crop",
        "Random resized crop (zoom in)",
        "Geometry",
        "RandomResizedCrop",
        (
            Param("crop_scale", "smallest area kept", 0.5, lo=0.08, hi=1.0, step=0.01, help="Fraction of the photo."),
            Param("crop_ratio", "aspect change up to ×", 1.33, lo=1.0, hi=2.0, step=0.01),
        ),
        lambda v, s: {
            "size": s,
            "scale": (float(v["crop_scale"]), 1.0),
            # Aspect ratios around the photo's own, so "no change" is possible.
            "ratio": (s[1] / s[0] / float(v["crop_ratio"]), s[1] / s[0] * float(v["crop_ratio"])),
            "antialias": True,
        },
        _describe_crop,
        stage="crop",
        on=True,
        note="Cuts a random window and resizes it to the output size: a zoom. Too small a window may lose the object.",
    ),
    TransformSpec(
        "rotate",
        "Rotation",
        "Geometry",
        "RandomRotation",
        (Param("rotate_deg", "max angle ±°", 15, kind="int", lo=0, hi=180, step=1),),
        lambda v, s: {"degrees": (-float(v["rotate_deg"]), float(v["rotate_deg"]))},
        lambda p: f"rot {_fmt(p['angle'], 1)}°",
        on=True,
        note="Rotates by a random angle; corners are filled with black. A cat at 15° is a cat; a 6 at 180° is a 9.",
    ),
    TransformSpec(
        "hflip",
        "Horizontal flip",
        "Geometry",
        "RandomHorizontalFlip",
        (_p("hflip"),),
        lambda v, s: {"p": float(v["hflip_p"])},
        lambda p: "h-flip ↔",
        on=True,
        note="Mirror image left–right: safe for cats, wrong for text and digits.",
        short="h-flip",
    ),
    TransformSpec(
        "vflip",
        "Vertical flip",
        "Geometry",
        "RandomVerticalFlip",
        (_p("vflip"),),
        lambda v, s: {"p": float(v["vflip_p"])},
        lambda p: "v-flip ↕",
        note="Upside down: fine for satellite images, odd for cats.",
        short="v-flip",
    ),
    TransformSpec(
        "affine",
        "Affine (shift, zoom, shear)",
        "Geometry",
        "RandomAffine",
        (
            Param("affine_translate", "max shift (fraction of size)", 0.1, lo=0.0, hi=0.5, step=0.01),
            Param("affine_zoom", "zoom ± (fraction)", 0.1, lo=0.0, hi=0.5, step=0.01),
            Param("affine_shear", "max shear ±°", 10, kind="int", lo=0, hi=45, step=1),
        ),
        lambda v, s: {
            "degrees": 0.0,
            "translate": (float(v["affine_translate"]), float(v["affine_translate"])),
            "scale": (1.0 - float(v["affine_zoom"]), 1.0 + float(v["affine_zoom"])),
            "shear": (
                -float(v["affine_shear"]),
                float(v["affine_shear"]),
                -float(v["affine_shear"]),
                float(v["affine_shear"]),
            ),
        },
        _describe_affine,
        note="Shifts, scales and shears the image: at mild settings the object moves and the label usually stays. "
        "At the extremes it may not: a shift of 0.5 moves the object half the image away (it can leave the "
        "frame), and a 45° shear slants it so far that it may no longer look like itself.",
    ),
    TransformSpec(
        "perspective",
        "Perspective",
        "Geometry",
        "RandomPerspective",
        (
            Param("perspective_distortion", "distortion", 0.3, lo=0.0, hi=1.0, step=0.05),
            _p("perspective"),
        ),
        lambda v, s: {"distortion_scale": float(v["perspective_distortion"]), "p": float(v["perspective_p"])},
        _describe_perspective,
        note="As if the camera looked from another angle.",
    ),
    TransformSpec(
        "elastic",
        "Elastic",
        "Geometry",
        "ElasticTransform",
        (
            Param("elastic_alpha", "strength α (px)", 50.0, lo=0.0, hi=250.0, step=5.0),
            Param("elastic_sigma", "smoothness σ (px)", 5.0, lo=1.0, hi=10.0, step=0.5),
        ),
        # torchvision smooths the displacement with a reflect-padded kernel 8σ + 1 wide, which must fit the image.
        lambda v, s: {"alpha": float(v["elastic_alpha"]), "sigma": min(float(v["elastic_sigma"]), (min(s) - 1) / 4)},
        _describe_elastic,
        note="Bends the image like rubber (popular for handwriting). σ is capped at a quarter of the preview's "
        "shorter side: torchvision's smoothing kernel (8σ + 1 px) must fit inside the image.",
    ),
    # --- colour and noise -----------------------------------------------------------------
    TransformSpec(
        "jitter",
        "Colour jitter",
        "Colour and noise",
        "ColorJitter",
        (
            Param("jitter_brightness", "brightness ±", 0.3, lo=0.0, hi=1.0, step=0.05),
            Param("jitter_contrast", "contrast ±", 0.3, lo=0.0, hi=1.0, step=0.05),
            Param("jitter_saturation", "saturation ±", 0.3, lo=0.0, hi=1.0, step=0.05),
            Param("jitter_hue", "hue ±", 0.05, lo=0.0, hi=0.5, step=0.01),
        ),
        lambda v, s: {
            "brightness": float(v["jitter_brightness"]),
            "contrast": float(v["jitter_contrast"]),
            "saturation": float(v["jitter_saturation"]),
            "hue": float(v["jitter_hue"]),
        },
        _describe_jitter,
        on=True,
        note="Random brightness, contrast, saturation and hue: other light, other cameras.",
    ),
    TransformSpec(
        "grayscale",
        "Grayscale",
        "Colour and noise",
        "RandomGrayscale",
        (_p("grayscale"),),
        lambda v, s: {"p": float(v["grayscale_p"])},
        lambda p: "grayscale",
        note="Drops colour (keeps 3 channels), so the model cannot rely on colour alone.",
    ),
    TransformSpec(
        "blur",
        "Gaussian blur",
        "Colour and noise",
        "GaussianBlur",
        (Param("blur_sigma", "max σ (px)", 2.0, lo=0.1, hi=10.0, step=0.1),),
        lambda v, s: {
            "kernel_size": _blur_kernel(float(v["blur_sigma"]), s),
            "sigma": (0.1, float(v["blur_sigma"])),
        },
        lambda p: f"blur σ={p['sigma'][0]:.2f}",
        note="Out-of-focus photos.",
    ),
    TransformSpec(
        "posterize",
        "Posterize",
        "Colour and noise",
        "RandomPosterize",
        (Param("posterize_bits", "bits kept", 3, kind="int", lo=1, hi=8, step=1), _p("posterize")),
        lambda v, s: {"bits": int(v["posterize_bits"]), "p": float(v["posterize_p"])},
        lambda p: "posterize",
        stage="uint8",
        note="Keeps only a few bits per colour: banding.",
    ),
    TransformSpec(
        "solarize",
        "Solarize",
        "Colour and noise",
        "RandomSolarize",
        (Param("solarize_threshold", "threshold (0–255)", 192, kind="int", lo=0, hi=255, step=1), _p("solarize")),
        lambda v, s: {"threshold": float(v["solarize_threshold"]), "p": float(v["solarize_p"])},
        lambda p: "solarize",
        stage="uint8",
        note="Inverts every pixel brighter than the threshold.",
    ),
    TransformSpec(
        "equalize",
        "Equalize",
        "Colour and noise",
        "RandomEqualize",
        (_p("equalize"),),
        lambda v, s: {"p": float(v["equalize_p"])},
        lambda p: "equalize",
        stage="uint8",
        note="Spreads the histogram over all 256 levels.",
    ),
    # --- automatic policies (uint8 in, uint8 out) -------------------------------------------
    TransformSpec(
        "autoaugment",
        "AutoAugment",
        "Automatic policies",
        "AutoAugment",
        (
            Param(
                "autoaugment_policy",
                "learned policy",
                "imagenet",
                kind="choice",
                options=("imagenet", "cifar10", "svhn"),
                labels={"imagenet": "ImageNet", "cifar10": "CIFAR-10", "svhn": "SVHN"},
            ),
        ),
        lambda v, s: {"policy": v2.AutoAugmentPolicy(v["autoaugment_policy"])},
        _describe_ops,
        stage="uint8",
        note="Cubuk et al. 2019: a policy found by search — one random sub-policy of two ops per image.",
    ),
    TransformSpec(
        "randaugment",
        "RandAugment",
        "Automatic policies",
        "RandAugment",
        (
            Param("randaugment_ops", "ops per image N", 2, kind="int", lo=1, hi=5, step=1),
            Param("randaugment_magnitude", "magnitude M (0–30)", 9, kind="int", lo=0, hi=30, step=1),
        ),
        lambda v, s: {"num_ops": int(v["randaugment_ops"]), "magnitude": int(v["randaugment_magnitude"])},
        _describe_ops,
        stage="uint8",
        note="Cubuk et al. 2020: N random ops at one shared magnitude M — two numbers instead of a search.",
    ),
    TransformSpec(
        "trivialaugment",
        "TrivialAugmentWide",
        "Automatic policies",
        "TrivialAugmentWide",
        (Param("trivialaugment_bins", "magnitude bins", 31, kind="int", lo=2, hi=64, step=1),),
        lambda v, s: {"num_magnitude_bins": int(v["trivialaugment_bins"])},
        _describe_ops,
        stage="uint8",
        note="Müller & Hutter 2021: one random op at a random magnitude per image — no policy to search; "
        "the only setting is how finely the magnitudes are graded (bins).",
    ),
    TransformSpec(
        "augmix",
        "AugMix",
        "Automatic policies",
        "AugMix",
        (
            Param("augmix_severity", "severity", 3, kind="int", lo=1, hi=10, step=1),
            Param("augmix_width", "chains mixed", 3, kind="int", lo=1, hi=5, step=1),
        ),
        lambda v, s: {"severity": int(v["augmix_severity"]), "mixture_width": int(v["augmix_width"])},
        _describe_ops,
        stage="uint8",
        note="Hendrycks et al. 2020: several chains of ops, mixed with the original by random weights.",
    ),
    # --- on float images in [0, 1] ---------------------------------------------------------
    TransformSpec(
        "noise",
        "Gaussian noise",
        "Colour and noise",
        "GaussianNoise",
        (Param("noise_sigma", "σ (fraction of full scale)", 0.05, lo=0.0, hi=0.5, step=0.01),),
        lambda v, s: {"sigma": float(v["noise_sigma"])},
        lambda p: "noise",
        stage="float",
        note="Adds sensor noise, clipped to the valid range.",
    ),
    TransformSpec(
        "erasing",
        "Random erasing (cutout)",
        "Colour and noise",
        "RandomErasing",
        (Param("erasing_scale", "max area erased", 0.2, lo=0.02, hi=0.5, step=0.01), _p("erasing")),
        lambda v, s: {"p": float(v["erasing_p"]), "scale": (0.02, float(v["erasing_scale"])), "value": 0.0},
        _describe_erasing,
        stage="float",
        note="Blacks out a random rectangle: the model must use more than one part of the object.",
        short="erasing",
    ),
)

TRANSFORMS_BY_KEY: dict[str, TransformSpec] = {t.key: t for t in TRANSFORMS}


# --- the drawn parameters in words (the page's per-sample detail table) ---------------------------


def _signed(x: float, unit: str = "", digits: int = 1) -> str:
    return f"{x:+.{digits}f}{unit}".replace("-", "−")


def _rows_crop(p: Mapping[str, Any], settings: Mapping[str, Any]) -> list[tuple[str, str]]:
    height, width = p["_size"]
    return [
        ("window", f"{p['width']}×{p['height']} px of the {width}×{height} px copy it is cut from"),
        ("area kept", f"{p['width'] * p['height'] / (width * height):.0%} (at least {settings['crop_scale']:.0%})"),
        ("shape (width : height)", f"{p['width'] / p['height']:.2f} : 1"),
        ("top-left corner", f"{p['left'] / width:.0%} from the left, {p['top'] / height:.0%} from the top"),
        ("then", "resized to the preview size: a zoom"),
    ]


def _rows_affine(p: Mapping[str, Any], settings: Mapping[str, Any]) -> list[tuple[str, str]]:
    tx, ty = p["translate"]
    sx, sy = p["shear"]
    return [
        ("shift", f"{abs(tx)} px {'left' if tx < 0 else 'right'}, {abs(ty)} px {'up' if ty < 0 else 'down'}"),
        ("zoom", f"×{p['scale']:.3f}"),
        ("shear", f"{_signed(sx, '°')} along x, {_signed(sy, '°')} along y"),
    ]


_JITTER = (("brightness_factor", "brightness"), ("contrast_factor", "contrast"), ("saturation_factor", "saturation"))


def _rows_jitter(p: Mapping[str, Any], settings: Mapping[str, Any]) -> list[tuple[str, str]]:
    rows = [(name, f"×{p[key]:.3f}") for key, name in _JITTER if p.get(key) is not None]
    if p.get("hue_factor") is not None:
        h = float(p["hue_factor"])
        rows.append(("hue", f"{_signed(h, '', 3)} of a turn ({_signed(h * 360, '°')} around the colour wheel)"))
    names = ["brightness", "contrast", "saturation", "hue"]
    order = [names[int(i)] for i in p["fn_idx"].tolist() if p.get(f"{names[int(i)]}_factor") is not None]
    if order:
        rows.append(("order applied", " → ".join(order)))
    return rows or [("change", "none (all four ranges are 0)")]


def _rows_erasing(p: Mapping[str, Any], settings: Mapping[str, Any]) -> list[tuple[str, str]]:
    if p.get("v") is None:
        return [("rectangle", "none (no rectangle of the drawn size and shape fitted)")]
    height, width = p["_size"]
    return [
        ("rectangle", f"{p['w']}×{p['h']} px, {p['w'] * p['h'] / (width * height):.1%} of the image"),
        ("top-left corner", f"x = {p['j']} px, y = {p['i']} px"),
    ]


_ROWS: dict[str, Callable[[Any, Mapping[str, Any]], list[tuple[str, str]]]] = {
    "crop": _rows_crop,
    "rotate": lambda p, s: [("angle", f"{_signed(p['angle'], '°')} (positive: counter-clockwise)")],
    "affine": _rows_affine,
    "perspective": lambda p, s: [
        ("corners moved", _describe_perspective(p).split("≤")[1].replace(" px", "") + " px at most")
    ],
    "elastic": lambda p, s: [("largest displacement", _describe_elastic(p).split("≤")[1])],
    "jitter": _rows_jitter,
    "blur": lambda p, s: [("σ", f"{p['sigma'][0]:.2f} px (drawn from 0.1–{s['blur_sigma']:g})")],
    "posterize": lambda p, s: [("bits kept", f"{s['posterize_bits']} of 8")],
    "solarize": lambda p, s: [("inverted", f"every value above {s['solarize_threshold']}")],
    "noise": lambda p, s: [("σ", f"{s['noise_sigma']:g} of full scale, a new draw for every pixel")],
    "erasing": _rows_erasing,
}


def detail_rows(config: PipelineConfig, drawn: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """One sample's drawn parameters in words: ``(transform, parameter, value)`` rows, in running order.

    ``drawn`` is an entry of :attr:`Preview.drawn`. A transform whose
    probability did not fire gets one row saying so.
    """
    settings = config.settings
    rows: list[tuple[str, str, str]] = []
    for spec in config.specs:
        p = drawn.get(spec.key)
        if spec.group == "Automatic policies":
            ops = list(p or [])
            if not ops:
                rows.append((spec.title, "ops", "identity (no change)"))
            for i, (name, magnitude) in enumerate(ops, 1):
                rows.append((spec.title, f"op {i}", f"{name} {_signed(magnitude, '', 2)}" if magnitude else name))
        elif p is None:
            chance = settings.get(f"{spec.key}_p")
            why = f"its probability p = {chance:g} did not fire" if chance is not None else "it did not fire"
            rows.append((spec.title, "applied", f"no ({why})"))
        elif spec.key in _ROWS:
            rows += [(spec.title, name, value) for name, value in _ROWS[spec.key](p, settings)]
        else:
            rows.append((spec.title, "applied", "yes"))
    return rows


GROUPS: tuple[str, ...] = ("Geometry", "Colour and noise", "Automatic policies")

#: Preview settings (not part of the pipeline itself).
PREVIEW_SPECS: tuple[Param, ...] = (
    Param("num_samples", "samples", 12, kind="int", lo=1, hi=36, step=1, help="How many augmented copies to draw."),
    Param(
        "side",
        "preview size (longest side, px)",
        256,
        kind="choice",
        options=PREVIEW_SIDES,
        help="The pipeline works at this resolution: smaller is faster.",
    ),
    Param("draw", "draw", 0, kind="int", lo=0, hi=999, help="Counts the resample clicks; part of every sample's seed."),
)


def all_specs() -> tuple[Param, ...]:
    """Every widget of the pipeline builder (toggles and their settings), for URL round trips."""
    return tuple(p for t in TRANSFORMS for p in t.specs)


def default_values() -> dict[str, Any]:
    return {p.name: p.default for p in all_specs()}


# --- pipeline config, build and code -------------------------------------------------------------


@dataclass(frozen=True)
class PipelineConfig:
    """Which transforms are on, with their widget values (hashable: usable as a cache key)."""

    enabled: tuple[str, ...]  # transform keys, in table order
    values: tuple[tuple[str, Any], ...]  # (param name, value) for the enabled transforms' widgets

    @classmethod
    def from_values(cls, values: Mapping[str, Any], enabled: Sequence[str] | None = None) -> PipelineConfig:
        """From widget values ``{name: value}``; missing settings take their defaults.

        ``enabled`` overrides the toggles (e.g. ``["rotate"]`` for one transform alone).
        """
        merged = {**default_values(), **values}
        keys = [t.key for t in TRANSFORMS if (t.key in enabled if enabled is not None else bool(merged[t.key]))]
        settings = tuple((p.name, p.validate(merged[p.name])) for k in keys for p in TRANSFORMS_BY_KEY[k].params)
        return cls(tuple(keys), settings)

    @property
    def settings(self) -> dict[str, Any]:
        return dict(self.values)

    @property
    def specs(self) -> list[TransformSpec]:
        return [TRANSFORMS_BY_KEY[k] for k in self.enabled]


#: The preview's shortest side is never shrunk below this (a panorama's samples would be slivers).
MIN_PREVIEW_SHORT = 32


def preview_size(image_size: tuple[int, int], side: int) -> tuple[int, int]:
    """(H, W) with the longest side ``side`` (never enlarging), aspect kept. ``image_size`` is (H, W).

    A very elongated photo keeps a short side of at least :data:`MIN_PREVIEW_SHORT`
    px (or its own, if smaller), so its long side may exceed ``side``: a 1280×16
    panorama at side 256 would otherwise give 256×3 px samples (slivers).
    """
    h, w = image_size
    scale = min(1.0, max(side / max(h, w), MIN_PREVIEW_SHORT / min(h, w)))
    return max(1, round(h * scale)), max(1, round(w * scale))


def _stages(config: PipelineConfig, size: tuple[int, int]) -> list[tuple[TransformSpec | None, Any]]:
    """The pipeline as (spec or None for a dtype step, transform) in running order.

    The crop (if on) cuts the uint8 photo; then the image becomes float32 in
    [0, 1] *once* and stays float through every transform that accepts it —
    each ``v2`` op on a uint8 image would otherwise convert to float and back
    (rotation, every colour-jitter factor, the blur). Only the ops defined on
    0–255 integers (posterize, solarize, equalize, the automatic policies) get a
    uint8 image; the result is uint8 for display.
    """
    settings = config.settings
    specs = config.specs
    ordered = [t for t in specs if t.stage == "crop"] + [t for t in specs if t.stage != "crop"]
    steps: list[tuple[TransformSpec | None, Any]] = []
    dtype = torch.uint8
    for t in ordered:
        want = torch.float32 if t.stage == "float" else torch.uint8
        if want != dtype:
            steps.append((None, v2.ToDtype(want, scale=True)))
            dtype = want
        steps.append((t, t.build(settings, size)))
    if dtype != torch.uint8:
        steps.append((None, v2.ToDtype(torch.uint8, scale=True)))
    if not steps:
        steps.append((None, v2.Identity()))  # nothing switched on: every sample is the original
    return steps


def build_pipeline(config: PipelineConfig, size: tuple[int, int]) -> v2.Compose:
    """The random part of the pipeline: uint8 ``(C, H', W')`` in → uint8 ``(C, *size)`` out.

    With a random resized crop the input is the crop's source copy (the crop
    resizes to ``size``); without it, the photo at ``size`` (:func:`prepare`).
    """
    return v2.Compose([t for _, t in _stages(config, size)])


def crop_source_size(image_size: tuple[int, int], config: PipelineConfig, size: tuple[int, int]) -> tuple[int, int]:
    """(H, W) of the copy the random resized crop cuts from: just large enough that no window is enlarged.

    The crop keeps at least ``crop_scale`` of the area and changes the aspect
    by at most ``crop_ratio``, so its narrowest window spans sqrt(scale / ratio)
    of the source's width (and its flattest, of its height). A source
    sqrt(ratio / scale) times the preview ``size`` therefore still gives every
    window about one source pixel or more per output pixel: zooms are as sharp
    as the preview can show. A bigger photo is shrunk to that once (antialiased)
    before the samples are drawn — 4.5× fewer pixels for every crop of a
    1024×768 photo at the defaults, the largest cost of a preview otherwise.
    """
    settings = config.settings
    k = math.sqrt(float(settings["crop_ratio"]) / float(settings["crop_scale"]))
    return preview_size(image_size, math.ceil(max(size) * k))


def prepare(image: torch.Tensor, config: PipelineConfig, size: tuple[int, int]) -> torch.Tensor:
    """The input of :func:`build_pipeline`: the crop's source copy (crop on) or the photo at the preview ``size``."""
    if "crop" in config.enabled:
        source = crop_source_size(tuple(image.shape[-2:]), config, size)
        return image if source == tuple(image.shape[-2:]) else v2.functional.resize(image, list(source), antialias=True)
    # The resize keeps a channels-last layout; per-pixel float ops (noise: 5× here) are faster on a plain one.
    return v2.functional.resize(image, list(size), antialias=True).contiguous()


CODE_TEMPLATE = """
import torch
from PIL import Image
from torchvision.transforms import v2

# The photo exactly as the page used it (upright, RGB, ≤ 1024 px): the PNG download under this code.
image = v2.functional.pil_to_tensor(Image.open({path}).convert("RGB"))  # (3, H, W) uint8
{prepare}
pipeline = v2.Compose([
{steps}
])

samples = []
for i in range({num_samples}):
    torch.manual_seed({first_seed} + i)  # one seed per sample: each is reproducible on its own
    samples.append(pipeline(image))  # (3, {h}, {w}) uint8
"""


def pipeline_code(
    config: PipelineConfig,
    size: tuple[int, int],
    *,
    image_size: tuple[int, int],
    num_samples: int,
    first_seed: int,
    path: str = "photo.png",
) -> str:
    """Runnable ``transforms.v2.Compose([...])`` code that draws the same samples as :func:`preview`.

    ``size`` is the preview's (H, W) and ``image_size`` the photo's (H, W).
    """
    settings = config.settings
    lines = []
    for spec, t in _stages(config, size):
        if spec is not None:
            lines.append(f"    {spec.source(settings, size)},")
        elif isinstance(t, v2.ToDtype):
            lines.append(f"    v2.ToDtype({_py(t.dtype)}, scale=True),")
        else:
            lines.append("    v2.Identity(),  # no transform switched on")
    if "crop" in config.enabled:
        source = crop_source_size(image_size, config, size)
        if source == tuple(image_size):
            prep = "# the random resized crop below cuts the photo straight to the preview size"
        else:
            prep = (
                f"image = v2.functional.resize(image, {list(source)}, antialias=True)"
                "  # the crop's source: just big enough that no window is enlarged"
            )
    else:
        prep = f"image = v2.functional.resize(image, {list(size)}, antialias=True).contiguous()  # preview size, once"
    return render_snippet(
        CODE_TEMPLATE,
        path=path,
        prepare=code(prep),
        steps=code("\n".join(lines)),
        num_samples=num_samples,
        first_seed=first_seed,
        h=size[0],
        w=size[1],
    )


# --- drawing samples and recording what was drawn ---------------------------------------------


def first_seed(seed: int, draw: int = 0) -> int:
    """The seed of sample 0 of a grid; sample ``i`` uses ``first_seed + i`` (up to 100 samples per draw)."""
    return int(seed) * 100_000 + (int(draw) % 1000) * 100


def _policy_ops(t: Any, log: list[tuple[str, float]]) -> None:
    orig = t._apply_image_or_video_transform

    def recorded(image: Any, transform_id: str, magnitude: float, *args: Any, **kwargs: Any) -> Any:
        log.append((transform_id, float(magnitude)))
        return orig(image, transform_id, magnitude, *args, **kwargs)

    t._apply_image_or_video_transform = recorded


def _instrument(
    steps: list[tuple[TransformSpec | None, Any]],
) -> Callable[[], tuple[list[str], dict[str, Any]]]:
    """Wrap each transform instance so that it records its drawn parameters; returns a reader.

    Calling the reader returns, for the sample just drawn, one caption part per
    transform and the raw drawn parameters ``{key: params or None}``, and
    resets the log for the next sample.
    """
    records: dict[int, Any] = {}

    for index, (spec, t) in enumerate(steps):
        if spec is None:
            continue
        if spec.group == "Automatic policies":
            ops: list[tuple[str, float]] = []
            records[index] = ops
            _policy_ops(t, ops)
            continue
        orig = t.make_params

        def make_params(flat_inputs: list[Any], _orig: Callable = orig, _i: int = index) -> dict[str, Any]:
            params = _orig(flat_inputs)
            first = flat_inputs[0]
            plain = len(flat_inputs) == 1 and type(first) is torch.Tensor  # query_size costs ~10 µs
            size = tuple(first.shape[-2:]) if plain else tuple(v2.query_size(flat_inputs))
            records[_i] = {**params, "_size": size}  # a copy, plus the (H, W)
            return params

        t.make_params = make_params

    def read() -> tuple[list[str], dict[str, Any]]:
        parts, raw = [], {}
        for index, (spec, _) in enumerate(steps):
            if spec is None:
                continue
            drawn = records.get(index)
            if spec.group == "Automatic policies":
                parts.append(f"{spec.title}: {spec.describe(list(drawn))}")
                raw[spec.key] = list(drawn)
                drawn.clear()
            elif drawn is None:
                parts.append(f"no {spec.short or spec.title.lower()}")  # its probability p did not fire
                raw[spec.key] = None
            else:
                parts.append(spec.describe(drawn))
                raw[spec.key] = records.pop(index)
        return parts, raw

    return read


@dataclass
class Preview:
    """A grid of augmented samples of one photo."""

    original: np.ndarray  # (H, W, 3) or (H, W) uint8 at the preview size
    samples: list[np.ndarray]  # each (H, W, 3) or (H, W) uint8
    captions: list[list[str]]  # per sample: the parameters drawn by each enabled transform
    seeds: list[int]  # the torch seed of each sample
    size: tuple[int, int]  # (H, W) of every sample
    seconds: float  # time to draw the samples (after the one-off resize)
    drawn: list[dict[str, Any]] = field(default_factory=list, repr=False)  # per sample: {key: raw params}
    tensors: list[torch.Tensor] = field(default_factory=list, repr=False)  # the samples as (C, H, W) uint8


def to_numpy(image: torch.Tensor) -> np.ndarray:
    """uint8 ``(C, H, W)`` tensor → ``(H, W, C)`` array, or ``(H, W)`` for one channel."""
    arr = image.detach().cpu().permute(1, 2, 0).numpy()
    return arr[..., 0] if arr.shape[2] == 1 else arr


def to_tensor(image: np.ndarray | Any) -> torch.Tensor:
    """A PIL image or ``(H, W[, C])`` uint8 array → uint8 ``(C, H, W)`` tensor (channels-last strides)."""
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = arr[..., None]
    # A (C, H, W) view of the (H, W, C) pixels, exactly what ``v2.functional.pil_to_tensor`` returns:
    # no transposing copy, and the antialiased uint8 resize is ~40 % faster on this layout.
    return torch.from_numpy(np.array(arr, dtype=np.uint8, copy=True)).permute(2, 0, 1)


def preview(
    image: torch.Tensor,
    config: PipelineConfig,
    *,
    num_samples: int = 12,
    side: int = 256,
    seed: int = 0,
    draw: int = 0,
    device: str = "cpu",
    fast: bool = True,
) -> Preview:
    """Draw ``num_samples`` augmented copies of ``image`` (uint8 ``(C, H, W)``, C = 1 or 3).

    Sample ``i`` draws what ``torch.manual_seed(first_seed(seed, draw) + i)`` would
    give, from a private generator (the global RNG is neither read nor moved). On the CPU the
    result equals :func:`pipeline_code` executed with the same arguments —
    bit for bit with ``fast=False`` (``v2.Compose`` itself); with ``fast=True``
    (:mod:`lab.augment_fast`: same draws, leaner hue and blur kernels) within
    1 grey level at a few pixels when the hue jitter or the blur is on.
    Returns CPU arrays.
    """
    if image.dtype != torch.uint8 or image.ndim != 3:
        raise ValueError(f"expected a uint8 (C, H, W) image, got {tuple(image.shape)} {image.dtype}")
    size = preview_size(tuple(image.shape[-2:]), side)
    image = image.to(device)
    steps = _stages(config, size)
    read = _instrument(steps)
    transforms = [t for _, t in steps]
    pipeline = v2.Compose(transforms)
    original = v2.functional.resize(image, list(size), antialias=True).contiguous()
    start = prepare(image, config, size) if "crop" in config.enabled else original
    base = first_seed(seed, draw)
    outputs, captions, drawn = [], [], []
    t0 = time.perf_counter()
    # Private generators, never the process-wide one: another session drawing at the same time cannot
    # change this grid (lab.augment_rng), and the draws equal those after ``torch.manual_seed(base + i)``.
    rng = PrivateRNG(base)
    with cores_if_alone():
        for i in range(num_samples):
            rng.reseed(base + i)
            if fast:
                outputs.append(augment_fast.run(transforms, start, rng=rng).cpu())  # enters rng where it draws
            else:
                with rng:
                    outputs.append(pipeline(start).cpu())
            parts, raw = read()
            captions.append(parts)
            drawn.append(raw)
    seconds = time.perf_counter() - t0
    return Preview(
        original=to_numpy(original.cpu()),
        samples=[to_numpy(x) for x in outputs],
        captions=captions,
        seeds=[base + i for i in range(num_samples)],
        size=size,
        seconds=seconds,
        drawn=drawn,
        tensors=outputs,
    )


# --- does the label survive? (GoogLeNet, only when its weights are already on disk) ------------


def googlenet_checkpoint() -> Path:
    """Where torch hub keeps GoogLeNet's ImageNet weights (the file may not exist)."""
    from torchvision.models import GoogLeNet_Weights

    url = GoogLeNet_Weights.IMAGENET1K_V1.url
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(url).name


def googlenet_available() -> bool:
    """True when the pretrained weights are already in the torch hub cache (we never download)."""
    return googlenet_checkpoint().is_file()


def load_googlenet(device: str = "cpu") -> torch.nn.Module | None:
    """Pretrained GoogLeNet from the hub cache in eval mode, or ``None`` when the file is absent.

    Loads with ``weights_only=True`` and never touches the network.
    """
    from torchvision.models import googlenet

    path = googlenet_checkpoint()
    if not path.is_file():
        return None
    # The ImageNet weights were trained with transform_input=True and include the aux heads.
    model = googlenet(weights=None, aux_logits=True, transform_input=True, init_weights=False)
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    model.aux_logits, model.aux1, model.aux2 = False, None, None
    return model.eval().to(device)


@dataclass(frozen=True)
class Label:
    """GoogLeNet's top-1 answer for one image."""

    index: int  # ImageNet class index 0–999
    name: str  # e.g. "tabby"
    prob: float  # softmax probability of that class


def top1(model: torch.nn.Module, images: Sequence[torch.Tensor], *, device: str = "cpu") -> list[Label]:
    """Top-1 ImageNet class of each uint8 ``(C, H, W)`` image (C = 1 or 3).

    Uses the weights' own preprocessing (resize 256, centre crop 224,
    ImageNet normalisation), batched, under ``inference_mode``.
    """
    from torchvision.models import GoogLeNet_Weights

    weights = GoogLeNet_Weights.IMAGENET1K_V1
    categories = weights.meta["categories"]
    preprocess = weights.transforms()
    batch = torch.stack([preprocess(x.expand(3, -1, -1) if x.shape[0] == 1 else x) for x in images]).to(device)
    with torch.inference_mode():
        probs = torch.softmax(model(batch), dim=1).cpu()  # (N, 1000)
    p, idx = probs.max(dim=1)
    return [Label(int(i), categories[int(i)], float(q)) for i, q in zip(idx, p, strict=True)]
