"""Convolution: the same small weights applied to every patch of an image.

Taught twice, as everywhere in this project:

- :func:`convolve_by_hand` — explicit loops over output cells, padding done by
  index arithmetic (:func:`pad_by_hand`); slow, readable, the lecture's picture;
- :func:`convolve` — the fast path: one ``F.conv2d`` call on the whole image (no
  Python loops, no copies beyond the padding a mode needs).

Tests prove they agree over stride, padding (zeros / reflect / replicate /
circular) and dilation, and that the lecture's worked example gives
``[[4,3,4],[2,4,3],[2,3,4]]``.

Also here: the kernel presets, the output-size formula written out with numbers
(and an explanation when a setting leaves no output), the worked-example stepper
(:func:`conv_steps`) and the per-cell hover text for a zoomed feature map
(:func:`hover_arithmetic`).

Shapes: images are ``(N, C, H, W)`` float tensors in ``[0, 1]``; weights
``(C_out, C_in / groups, k, k)`` like ``nn.Conv2d``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from lab.device import large_work
from lab.params import Param

#: Luminance weights (ITU-R 601-2, as ``torchvision.transforms.functional.rgb_to_grayscale``).
GRAY_WEIGHTS = (0.299, 0.587, 0.114)
PADDING_MODES = ("zeros", "reflect", "replicate", "circular")
#: How the kernel meets the colour channels.
MODES = ("gray", "rgb", "bank")
MODE_LABELS = {
    "gray": "Grayscale: 1 map",
    "rgb": "Per RGB channel: the same k×k kernel on R, G, B (3 maps)",
    "bank": "Filter bank: several C×k×k filters on the colour image (one map each)",
}


class ConvGeometryError(ValueError):
    """A stride/padding/dilation/kernel setting that leaves no output; ``str()`` is for the student."""


# --- kernels ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kernel:
    """A named k×k kernel preset."""

    name: str  # key used in the URL
    label: str  # what the picker shows
    what: str  # one sentence: what it detects / does
    sizable: bool = False  # True: its size follows the size slider (blurs); else fixed 3×3


KERNELS: dict[str, Kernel] = {
    k.name: k
    for k in (
        Kernel("identity", "Identity", "Copies the image: the centre weight is 1, every other is 0."),
        Kernel(
            "edge",
            "Lecture edge [[-1,-1,-1],[-1,8,-1],[-1,-1,-1]]",
            "“How edge-like is this square?” — zero on flat patches, large where the centre differs from its ring.",
        ),
        Kernel("sobel_x", "Sobel x", "Horizontal gradient: responds to vertical edges (left ↔ right change)."),
        Kernel("sobel_y", "Sobel y", "Vertical gradient: responds to horizontal edges (top ↔ bottom change)."),
        Kernel("prewitt_x", "Prewitt x", "Like Sobel x without the extra weight on the centre row."),
        Kernel("prewitt_y", "Prewitt y", "Like Sobel y without the extra weight on the centre column."),
        Kernel("laplacian", "Laplacian", "Second derivative: zero on flat and linear ramps, signed at edges."),
        Kernel("box_blur", "Box blur", "The mean of the k×k patch.", sizable=True),
        Kernel("gaussian_blur", "Gaussian blur", "A weighted mean, heavier at the centre (σ = k/6).", sizable=True),
        Kernel(
            "sharpen",
            "Sharpen",
            "Identity minus the Laplacian (the Laplacian above, centre −4): adds back the difference from the "
            "neighbours, so edges get exaggerated.",
        ),
        Kernel(
            "emboss",
            "Emboss",
            "Identity plus a diagonal gradient (bottom-right minus top-left): looks like light from the top-left.",
        ),
        Kernel("outline", "Outline", "Setosa's outline kernel (the lecture's edge kernel is the same matrix)."),
        Kernel("custom", "Custom (edit the grid)", "Your own weights, 3×3 up to 7×7."),
    )
}


def kernel_preset(name: str, size: int = 3) -> torch.Tensor:
    """The preset ``name`` as a ``(k, k)`` float32 tensor (``size`` only for the blurs).

    ``custom`` returns the identity of that size (a neutral starting grid).
    """
    k3 = {
        "identity": [[0, 0, 0], [0, 1, 0], [0, 0, 0]],
        "edge": [[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]],
        "outline": [[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]],
        "sobel_x": [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
        "sobel_y": [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
        "prewitt_x": [[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]],
        "prewitt_y": [[-1, -1, -1], [0, 0, 0], [1, 1, 1]],
        "laplacian": [[0, 1, 0], [1, -4, 1], [0, 1, 0]],
        "sharpen": [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
        "emboss": [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]],
    }
    if name in k3:
        return torch.tensor(k3[name], dtype=torch.float32)
    if name == "box_blur":
        return torch.full((size, size), 1.0 / size**2)
    if name == "gaussian_blur":
        sigma = max(size / 6.0, 0.5)
        x = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
        g = torch.exp(-(x**2) / (2 * sigma**2))
        g2 = torch.outer(g, g)
        return g2 / g2.sum()
    if name == "custom":
        eye = torch.zeros(size, size)
        eye[size // 2, size // 2] = 1.0
        return eye
    raise KeyError(f"unknown kernel preset {name!r}; choose one of {list(KERNELS)}")


def normalise_kernel(K: torch.Tensor) -> torch.Tensor:
    """Scale ``K`` so its weights sum to 1 (brightness kept); for zero-sum kernels, so the positive part sums to 1.

    Zero-sum kernels (edges) cannot sum to 1 without changing what they detect,
    so their *scale* is fixed instead. An all-zero kernel is returned unchanged.
    """
    total = float(K.sum())
    if abs(total) > 1e-6 * max(float(K.abs().sum()), 1e-12):
        return K / total
    positive = float(K.clamp(min=0).sum())
    return K / positive if positive > 0 else K.clone()


#: Longest custom-kernel text accepted (7×7 weights of up to 12 characters each, with separators).
MAX_KERNEL_TEXT = 7 * 7 * 13


def parse_kernel(text: str) -> torch.Tensor:
    """``"0,-1,0;-1,5,-1;0,-1,0"`` → a ``(k, k)`` tensor; raises ValueError unless square, 1..7, finite.

    The error messages never repeat the text (it may come from a link: see DESIGN.md §5).
    """
    if len(text) > MAX_KERNEL_TEXT:
        raise ValueError(f"a kernel is at most {MAX_KERNEL_TEXT} characters (7×7 numbers)")
    rows = [r for r in text.strip().split(";") if r.strip()]
    values = []
    for i, r in enumerate(rows, start=1):
        row = []
        for j, v in enumerate(r.split(","), start=1):
            try:
                row.append(float(v))
            except ValueError:
                raise ValueError(f"row {i}, entry {j} is not a number") from None
        values.append(row)
    k = len(values)
    if not 1 <= k <= 7 or any(len(r) != k for r in values):
        raise ValueError(f"a kernel must be square, 1×1 to 7×7; got rows of lengths {[len(r) for r in values]}")
    K = torch.tensor(values, dtype=torch.float32)
    if not torch.isfinite(K).all():
        raise ValueError("a kernel's weights must be finite numbers")
    return K


def format_kernel(K: torch.Tensor) -> str:
    """Inverse of :func:`parse_kernel` (compact, for the URL)."""
    return ";".join(",".join(f"{float(v):.4g}" for v in row) for row in K)


def resize_kernel(K: torch.Tensor, size: int) -> tuple[torch.Tensor, int]:
    """``K (k, k)`` grown (zeros around) or cut (outer rings dropped) to ``(size, size)``, centred.

    Returns ``(kernel, dropped)`` where ``dropped`` counts the non-zero weights
    that a cut removed, so the page can say what a smaller grid lost.
    """
    k = K.shape[-1]
    if size >= k:
        return F.pad(K, _centre_pad(size - k)), 0
    a = (k - size) // 2
    cut = K[a : a + size, a : a + size].clone()
    return cut, int((K != 0).sum()) - int((cut != 0).sum())


def flip_kernel(K: torch.Tensor) -> torch.Tensor:
    """``K`` rotated by 180° (flipped along both axes): what a mathematician's convolution would slide.

    ``F.conv2d(x, flip_kernel(K))`` is the textbook convolution ``x ∗ K``;
    ``F.conv2d(x, K)`` (every deep-learning library) is cross-correlation.
    """
    return K.flip(-2, -1)


#: What the page says about the name "convolution" (tests check the claims about Sobel and emboss).
CROSS_CORRELATION_NOTE = (
    "**“Convolution” in deep learning is cross-correlation:** `nn.Conv2d` / `F.conv2d` slide the kernel as "
    "written, without the 180° flip of the mathematical convolution. For a learned kernel it makes no "
    "difference (it would just learn the flipped weights). For the presets here: the symmetric ones (lecture "
    "edge, Laplacian, sharpen, blurs, identity) are unchanged by a flip; **Sobel and Prewitt** flip into their "
    "negatives, so every edge's sign reverses (red ↔ blue); **emboss** keeps its identity centre but its "
    "gradient reverses, so the light seems to come from the bottom-right instead of the top-left."
)


# --- geometry ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Geometry:
    """How the kernel slides: the four numbers of ``nn.Conv2d`` besides the weights."""

    stride: int = 1  # step between neighbouring output cells, in input pixels
    padding: int = 0  # pixels added on every side before sliding
    padding_mode: str = "zeros"  # what the added pixels hold: zeros / reflect / replicate / circular
    dilation: int = 1  # spacing between the kernel's taps (1 = dense)


GEOMETRY_SPECS = (
    Param("stride", "Stride s", 1, kind="int", lo=1, hi=8, help="Step between output cells, in input pixels."),
    Param("padding", "Padding p", 1, kind="int", lo=0, hi=10, help="Pixels added on each side before sliding."),
    Param(
        "padding_mode",
        "Padding mode",
        "zeros",
        kind="choice",
        options=PADDING_MODES,
        labels={
            "zeros": "zeros",
            "reflect": "reflect (mirror, edge not repeated)",
            "replicate": "replicate (repeat the edge pixel)",
            "circular": "circular (wrap around)",
        },
        help="What the padded border contains.",
    ),
    Param("dilation", "Dilation d", 1, kind="int", lo=1, hi=5, help="Spacing of the kernel taps: d−1 holes between."),
)


def output_size(n: int, k: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """⌊(n + 2p − d(k − 1) − 1) / s⌋ + 1, the length of a convolution's output along one axis (may be ≤ 0)."""
    return (n + 2 * padding - dilation * (k - 1) - 1) // stride + 1


def formula_text(n: int, k: int, g: Geometry, axis: str = "n") -> str:
    """The output-size formula written out with these numbers, e.g. ``⌊(100 + 2·0 − 1·(5 − 1) − 1)/1⌋ + 1 = 96``."""
    s, p, d = g.stride, g.padding, g.dilation
    inner = n + 2 * p - d * (k - 1) - 1
    out = output_size(n, k, s, p, d)
    return f"{axis}_out = ⌊({n} + 2·{p} − {d}·({k} − 1) − 1) / {s}⌋ + 1 = ⌊{inner} / {s}⌋ + 1 = {out}"


def check_geometry(height: int, width: int, k: int, g: Geometry) -> tuple[int, int]:
    """The output ``(H_out, W_out)``, or :class:`ConvGeometryError` saying why there is none.

    Besides an empty output, ``reflect`` padding needs ``p < n`` and ``circular``
    needs ``p ≤ n`` (PyTorch refuses otherwise; we say it in words).
    """
    span = g.dilation * (k - 1) + 1  # the kernel's footprint with its holes
    for n, axis in ((height, "height"), (width, "width")):
        if g.padding_mode == "reflect" and g.padding >= n:
            raise ConvGeometryError(
                f"Reflect padding mirrors the image, so it needs p < {axis} ({g.padding} ≥ {n}). "
                "Use less padding or another mode."
            )
        if g.padding_mode == "circular" and g.padding > n:
            raise ConvGeometryError(f"Circular padding wraps around, so it needs p ≤ {axis} ({g.padding} > {n}).")
        if n + 2 * g.padding < span:
            raise ConvGeometryError(
                f"No output: the dilated kernel spans d·(k−1)+1 = {g.dilation}·({k}−1)+1 = {span} pixels, but the "
                f"padded {axis} is only n + 2p = {n} + 2·{g.padding} = {n + 2 * g.padding}. "
                "Use a smaller kernel or dilation, or more padding."
            )
    return output_size(height, k, g.stride, g.padding, g.dilation), output_size(
        width, k, g.stride, g.padding, g.dilation
    )


# --- images as tensors -----------------------------------------------------------------------------


def image_tensor(rgb: np.ndarray, long_side: int | None = None) -> torch.Tensor:
    """``(H, W, 3)`` uint8 → ``(1, 3, H', W')`` float32 in [0, 1], downscaled to ``long_side`` (area average)."""
    X = torch.from_numpy(np.require(rgb, np.uint8, ["C", "W"])).permute(2, 0, 1).unsqueeze(0).float().div_(255.0)
    H, W = X.shape[-2:]
    if long_side is not None and max(H, W) > long_side:
        scale = long_side / max(H, W)
        size = (max(1, round(H * scale)), max(1, round(W * scale)))
        X = F.interpolate(X, size=size, mode="area")
    return X


def to_gray(X: torch.Tensor) -> torch.Tensor:
    """``(N, 3, H, W)`` → ``(N, 1, H, W)`` luminance (a 1×1 convolution with :data:`GRAY_WEIGHTS`)."""
    w = torch.tensor(GRAY_WEIGHTS, dtype=X.dtype, device=X.device).view(1, 3, 1, 1)
    return F.conv2d(X, w)


# --- the fast path -------------------------------------------------------------------------------------


def convolve(
    X: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    geometry: Geometry = Geometry(),
    *,
    groups: int = 1,
    device: str | torch.device = "cpu",
) -> torch.Tensor:
    """``F.conv2d`` on the whole batch: ``X (N, C_in, H, W)``, ``weight (C_out, C_in/groups, k, k)`` → ``(N, C_out, H', W')``.

    Zero padding goes straight into ``F.conv2d``; the other modes pad with
    ``F.pad`` first (what ``nn.Conv2d(padding_mode=...)`` does). Tensors already on
    ``device`` in float32 are not copied. Raises :class:`ConvGeometryError` for
    settings without output. Returns a CPU tensor.
    """
    k_h, k_w = weight.shape[-2:]
    check_geometry(X.shape[-2], X.shape[-1], max(k_h, k_w), geometry)
    X = X.to(device=device, dtype=torch.float32)
    weight = weight.to(device=device, dtype=torch.float32)
    bias = None if bias is None else bias.to(device=device, dtype=torch.float32)
    g = geometry
    if g.padding_mode == "zeros" or g.padding == 0:
        Y = F.conv2d(X, weight, bias, stride=g.stride, padding=g.padding, dilation=g.dilation, groups=groups)
    else:
        X = F.pad(X, (g.padding,) * 4, mode=g.padding_mode)
        Y = F.conv2d(X, weight, bias, stride=g.stride, dilation=g.dilation, groups=groups)
    return Y.cpu()


# --- the teaching version ----------------------------------------------------------------------------


def pad_by_hand(X: torch.Tensor, p: int, mode: str = "zeros") -> torch.Tensor:
    """Pad the last two axes of ``X (..., H, W)`` by ``p`` on every side, by index arithmetic.

    For each padded position we ask "which input pixel does it show?":
    reflect mirrors without repeating the edge, replicate clamps to the edge,
    circular wraps around; zeros shows nothing.
    """
    H, W = X.shape[-2:]
    out = X.new_zeros((*X.shape[:-2], H + 2 * p, W + 2 * p))

    def source(i: int, n: int) -> int | None:
        if 0 <= i < n:
            return i
        if mode == "zeros":
            return None
        if mode == "replicate":
            return min(max(i, 0), n - 1)
        if mode == "circular":
            return i % n
        if mode == "reflect":
            period = 2 * (n - 1)
            j = abs(i) % period if period else 0
            return period - j if j >= n else j
        raise ValueError(f"unknown padding mode {mode!r}")

    for r in range(H + 2 * p):
        src_r = source(r - p, H)
        if src_r is None:
            continue
        for c in range(W + 2 * p):
            src_c = source(c - p, W)
            if src_c is not None:
                out[..., r, c] = X[..., src_r, src_c]
    return out


def convolve_by_hand(
    X: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None, geometry: Geometry = Geometry()
) -> torch.Tensor:
    """The lecture's picture in loops: for every output cell, multiply the patch by the kernel and add it up.

    ``X (C_in, H, W)``, ``weight (C_out, C_in, k, k)`` → ``(C_out, H', W')``.
    (Like every deep-learning library this is cross-correlation: the kernel is not flipped.)
    """
    g = geometry
    C_out, C_in, k, _ = weight.shape
    H_out, W_out = check_geometry(X.shape[-2], X.shape[-1], k, g)
    Xp = pad_by_hand(X, g.padding, g.padding_mode)  # (C_in, H + 2p, W + 2p)
    Y = torch.zeros(C_out, H_out, W_out, dtype=X.dtype)
    for o in range(C_out):  # every filter…
        for i in range(H_out):  # …at every output row…
            for j in range(W_out):  # …and column
                total = 0.0 if bias is None else float(bias[o])
                for c in range(C_in):
                    for u in range(k):
                        for v in range(k):
                            # the same weights, whichever patch we are on
                            total += float(weight[o, c, u, v]) * float(
                                Xp[c, i * g.stride + u * g.dilation, j * g.stride + v * g.dilation]
                            )
                Y[o, i, j] = total
    return Y


# --- what the page computes -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConvConfig:
    """Settings of the "kernel on a photo" view."""

    kernel: str = "edge"  # a key of KERNELS
    size: int = 3  # k for the blurs and the custom grid
    normalise: bool = False  # scale the kernel (see normalise_kernel)
    mode: str = "gray"  # gray / rgb / bank (see MODES)
    bank: tuple[str, ...] = ("sobel_x", "sobel_y", "edge", "emboss")  # presets in the filter bank
    geometry: Geometry = Geometry(padding=1)
    custom: str = ""  # custom kernel as "a,b,c;d,e,f;…" (used when kernel == "custom")


@dataclass
class ConvResult:
    """Feature maps plus everything needed to explain them."""

    X: torch.Tensor  # (1, 3, H, W) the image at compute resolution
    X_in: torch.Tensor  # (1, C_in, H, W) what the kernel sees (gray or RGB)
    weight: torch.Tensor  # (C_out, C_in/groups, k, k)
    groups: int  # 1, or 3 for per-channel
    maps: torch.Tensor  # (C_out, H', W')
    names: list[str]  # one caption per map
    formulas: list[str] = field(default_factory=list)  # the size formula for H and W


def build_weight(cfg: ConvConfig) -> tuple[torch.Tensor, int, list[str]]:
    """The ``(weight, groups, names)`` the config means, for 1-channel (gray) or 3-channel input."""
    K = parse_kernel(cfg.custom) if cfg.kernel == "custom" and cfg.custom else kernel_preset(cfg.kernel, cfg.size)
    if cfg.normalise:
        K = normalise_kernel(K)
    label = KERNELS[cfg.kernel].label.split(" [")[0]
    if cfg.mode == "gray":
        return K[None, None], 1, [f"{label} on gray"]
    if cfg.mode == "rgb":
        return K.expand(3, 1, *K.shape).clone(), 3, [f"{label} on {c}" for c in ("red", "green", "blue")]
    if cfg.mode == "bank":
        # The chosen kernel first (so a custom grid joins the bank), then the bank's presets.
        # Each preset once, whatever a link repeats (1,000 copies would be 1,000 full-size maps).
        bank = [n for n in dict.fromkeys(cfg.bank) if n in KERNELS and n != "custom"]
        chosen = [(label, K)] if cfg.kernel not in bank else []
        chosen += [(KERNELS[n].label.split(" [")[0], kernel_preset(n, cfg.size)) for n in bank]

        filters = []
        for _, Kn in chosen:
            Kn = normalise_kernel(Kn) if cfg.normalise and Kn is not K else Kn
            # A C×k×k filter: the kernel weighted by each channel's share of brightness.
            filters.append(torch.stack([w * Kn for w in GRAY_WEIGHTS]))
        k = max(f.shape[-1] for f in filters)  # pad smaller kernels with zeros so the bank is one tensor
        filters = [F.pad(f, _centre_pad(k - f.shape[-1])) for f in filters]
        return torch.stack(filters), 1, [f"{name} (3×k×k)" for name, _ in chosen]
    raise ValueError(f"unknown mode {cfg.mode!r}")


def _centre_pad(extra: int) -> tuple[int, int, int, int]:
    a = extra // 2
    return (a, extra - a, a, extra - a)


@large_work  # a hot path: the compute policy picks its threads (lab.device)
def apply(X: torch.Tensor, cfg: ConvConfig, *, device: str = "cpu") -> ConvResult:
    """Convolve the image ``X (1, 3, H, W)`` as ``cfg`` says; raises ConvGeometryError / ValueError."""
    weight, groups, names = build_weight(cfg)
    X_in = to_gray(X) if cfg.mode == "gray" else X
    k = weight.shape[-1]
    maps = convolve(X_in, weight, None, cfg.geometry, groups=groups, device=device)[0]
    H, W = X.shape[-2:]
    formulas = [formula_text(H, k, cfg.geometry, "H"), formula_text(W, k, cfg.geometry, "W")]
    return ConvResult(X, X_in, weight, groups, maps, names, formulas)


# --- the worked example, one output cell at a time --------------------------------------------------------------

#: The lecture's 5×5 binary image and 3×3 kernel.
LECTURE_IMAGE = torch.tensor(
    [[1, 1, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 1, 1], [0, 0, 1, 1, 0], [0, 1, 1, 0, 0]], dtype=torch.float32
)
LECTURE_KERNEL = torch.tensor([[1, 0, 1], [0, 1, 0], [1, 0, 1]], dtype=torch.float32)
LECTURE_OUTPUT = torch.tensor([[4, 3, 4], [2, 4, 3], [2, 3, 4]], dtype=torch.float32)


@dataclass
class Step:
    """One output cell of the stepper."""

    row: int  # output row
    col: int  # output column
    rows: list[int]  # padded-input rows the kernel taps touch
    cols: list[int]  # padded-input columns the kernel taps touch
    patch: torch.Tensor  # (k, k) the input values under the taps
    products: torch.Tensor  # (k, k) patch ⊙ kernel
    total: float  # their sum = output[row, col]
    kernel_flat: torch.Tensor = field(default_factory=lambda: torch.empty(0))  # (k·k,) the weights, for sum_text

    def sum_text(self, digits: int = 3) -> str:
        """``1·1 + 1·0 + … = 4`` with the products spelled out."""
        fmt = lambda v: f"{float(v):.{digits}g}"  # noqa: E731
        terms = [f"{fmt(a)}·{fmt(b)}" for a, b in zip(self.patch.flatten(), self.kernel_flat, strict=True)]
        return " + ".join(terms) + f" = {fmt(self.total)}"


@dataclass
class Steps:
    """The whole stepper: padded input, kernel, the steps in reading order and the full output."""

    padded: torch.Tensor  # (H + 2p, W + 2p)
    kernel: torch.Tensor  # (k, k)
    output: torch.Tensor  # (H', W')
    steps: list[Step]
    geometry: Geometry


def conv_steps(X: torch.Tensor, K: torch.Tensor, geometry: Geometry = Geometry()) -> Steps:
    """Every output cell of ``X (H, W) ∗ K (k, k)`` as a :class:`Step`, in reading order."""
    g = geometry
    k = K.shape[-1]
    H_out, W_out = check_geometry(X.shape[-2], X.shape[-1], k, g)
    Xp = pad_by_hand(X, g.padding, g.padding_mode)
    out = torch.zeros(H_out, W_out)
    steps = []
    for i in range(H_out):
        for j in range(W_out):
            rows = [i * g.stride + u * g.dilation for u in range(k)]
            cols = [j * g.stride + v * g.dilation for v in range(k)]
            patch = Xp[rows][:, cols]
            products = patch * K
            total = float(products.sum())
            out[i, j] = total
            steps.append(Step(i, j, rows, cols, patch, products, total, K.flatten()))
    return Steps(Xp, K, out, steps, g)


def crop_gray(X: torch.Tensor, top: float, left: float, size: int = 7) -> torch.Tensor:
    """A ``(size, size)`` grayscale crop of ``X (1, 3, H, W)`` at fractional position (top, left), rounded to 0.01."""
    gray = to_gray(X)[0, 0]
    H, W = gray.shape
    size = min(size, H, W)
    r = round(top * (H - size))
    c = round(left * (W - size))
    return torch.round(gray[r : r + size, c : c + size] * 100) / 100


# --- hover: the patch behind a feature-map cell -------------------------------------------------------------------


@dataclass
class HoverArithmetic:
    """The arithmetic behind every cell of a window of one feature map (sent to the browser for hover).

    ``region = (r0, r1, c0, c1)`` in output cells. For cell ``(i, j)`` of the
    window, ``products[i, j] = patches[i, j] * kernel`` and ``sums[i, j]`` is
    their total: the value of ``out[r0 + i, c0 + j]``.
    """

    region: tuple[int, int, int, int]
    kernel: np.ndarray  # (C, k, k) the weights of this map's filter
    patches: np.ndarray  # (h, w, C, k, k) the input values under the taps
    products: np.ndarray  # (h, w, C, k, k) patch ⊙ kernel
    sums: np.ndarray  # (h, w) Σ products
    input_window: np.ndarray  # (C, rows, cols) the (padded) input that feeds the window
    input_origin: tuple[int, int]  # unpadded input (row, col) of input_window[:, 0, 0] (negative inside padding)


def hover_arithmetic(
    X_in: torch.Tensor,
    weight: torch.Tensor,
    geometry: Geometry,
    channel: int,
    groups: int,
    region: tuple[int, int, int, int],
) -> HoverArithmetic:
    """Patches, products and sums for output cells ``rows r0:r1, cols c0:c1`` of map ``channel``.

    ``X_in (1, C_in, H, W)`` is what the kernel sees (gray or RGB); only the
    input window that feeds the region is padded and unfolded, never the photo.
    """
    g = geometry
    r0, r1, c0, c1 = region
    k = weight.shape[-1]
    if groups > 1:  # per-channel: map c sees channel c only
        X_src, Wc = X_in[:, channel : channel + 1], weight[channel]
    else:
        X_src, Wc = X_in, weight[channel]
    if g.padding:
        X_src = F.pad(X_src, (g.padding,) * 4, mode="constant" if g.padding_mode == "zeros" else g.padding_mode)
    span = g.dilation * (k - 1) + 1
    top, left = r0 * g.stride, c0 * g.stride
    window = X_src[..., top : (r1 - 1) * g.stride + span, left : (c1 - 1) * g.stride + span]
    cols = F.unfold(window.double(), k, dilation=g.dilation, stride=g.stride)  # (1, C·k·k, h·w)
    C = window.shape[1]
    h, w = r1 - r0, c1 - c0
    patches = cols[0].T.reshape(h, w, C, k, k)
    products = patches * Wc.double()
    return HoverArithmetic(
        region=region,
        kernel=Wc.numpy().astype(np.float64),
        patches=patches.numpy(),
        products=products.numpy(),
        sums=products.sum(dim=(2, 3, 4)).numpy(),
        input_window=window[0].numpy(),
        input_origin=(top - g.padding, left - g.padding),
    )


def zoom_region(H_out: int, W_out: int, center_y: float, center_x: float, size: int = 24) -> tuple[int, int, int, int]:
    """A ``size × size`` window of output cells centred at fractional (y, x), clipped to the map."""
    h, w = min(size, H_out), min(size, W_out)
    r0 = min(max(0, round(center_y * H_out) - h // 2), H_out - h)
    c0 = min(max(0, round(center_x * W_out) - w // 2), W_out - w)
    return r0, r0 + h, c0, c0 + w


def center_fraction(index: int, n: int, size: int = 24, step: float = 0.01) -> float:
    """The window-centre slider value (a multiple of ``step`` in [0, 1]) that best centres cell ``index``.

    :func:`zoom_region` puts cell ``round(f·n)`` at the window's middle; the
    slider only holds multiples of ``step``, so this picks the one whose middle
    cell is nearest ``index`` (the window then contains ``index`` whenever
    ``step·n < size``: every map this lab computes). A click on the map moves
    the sliders to these values, so the link records it like a slider move.
    """
    index = min(max(int(index), 0), n - 1)
    ticks = round(1 / step)
    best = min(range(ticks + 1), key=lambda j: (abs(round(j / ticks * n) - index), j))
    return round(best / ticks, 6)


def clip_for_display(maps: torch.Tensor, q: float = 0.995) -> np.ndarray:
    """``maps (C, H, W)`` with each map's magnitudes clipped at its ``q`` quantile (display only).

    A few extreme pixels would otherwise wash every other cell out to white/dark.
    """
    flat = maps.flatten(1).abs()
    if flat.shape[1] > 1_000_000:  # the quantile of a subsample is plenty for a colour scale
        flat = flat[:, :: flat.shape[1] // 1_000_000 + 1]
    bound = torch.quantile(flat, q, dim=1).clamp(min=1e-12)[:, None, None]
    return torch.maximum(torch.minimum(maps, bound), -bound).numpy()


def receptive_span(k: int, dilation: int) -> int:
    """Pixels one output cell sees along an axis: d·(k − 1) + 1."""
    return dilation * (k - 1) + 1


def macs(C_in: int, C_out: int, k: int, H_out: int, W_out: int, groups: int = 1) -> int:
    """Multiply-adds of a convolution: every output cell does C_in/groups · k² of them."""
    return C_out * H_out * W_out * (C_in // groups) * k * k


# --- show me the code ----------------------------------------------------------------------------------------------

SNIPPET = """
import torch
import torch.nn.functional as F

# image: your photo as a (1, 3, H, W) float tensor in [0, 1], at the compute resolution, e.g.
# from PIL import Image; import numpy as np
# image = torch.from_numpy(np.asarray(Image.open("photo.jpg").convert("RGB"))).permute(2, 0, 1)[None].float() / 255
x = {gray_line}
weight = torch.tensor({weight}, dtype=torch.float32)  # (C_out, C_in/groups, k, k) = {shape}
{pad_line}
maps = F.conv2d(x, weight, stride={stride}, padding={conv_padding}, dilation={dilation}, groups={groups})
features = {relu_line}
pooled = F.{pool_fn}(features, kernel_size={pool_k}, stride={pool_s})
print(maps.shape, pooled.shape)
"""


def snippet(cfg: ConvConfig, *, pool_kind: str = "max", pool_k: int = 2, pool_s: int = 2, relu: bool = True) -> str:
    """Plain PyTorch reproducing :func:`apply` and the pooling on screen; reads ``image``, defines ``maps``/``pooled``."""
    from lab.codegen import code, render_snippet

    weight, groups, _ = build_weight(cfg)
    g = cfg.geometry
    gray = f"F.conv2d(image, torch.tensor({list(GRAY_WEIGHTS)}).view(1, 3, 1, 1))  # grayscale: (1, 1, H, W)"
    pad = g.padding_mode != "zeros" and g.padding > 0
    return render_snippet(
        SNIPPET,
        gray_line=code(gray if cfg.mode == "gray" else "image  # all three channels: (1, 3, H, W)"),
        weight=[[[[round(float(v), 6) for v in row] for row in ch] for ch in f] for f in weight],
        shape=tuple(weight.shape),
        pad_line=code(
            f'x = F.pad(x, ({g.padding}, {g.padding}, {g.padding}, {g.padding}), mode="{g.padding_mode}")'
            if pad
            else "# zero padding is done by F.conv2d itself"
        ),
        stride=g.stride,
        conv_padding=0 if pad else g.padding,
        dilation=g.dilation,
        groups=groups,
        relu_line=code("maps.clamp(min=0)  # ReLU, as in a CNN" if relu else "maps  # no ReLU"),
        pool_fn=code("max_pool2d" if pool_kind == "max" else "avg_pool2d"),
        pool_k=pool_k,
        pool_s=pool_s,
    )
