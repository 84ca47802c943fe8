"""Pooling: summarise each k×k window by its max or mean — smaller maps, less sensitive to small shifts.

Taught twice: :func:`pool_by_hand` (loops over windows) and :func:`pool`
(``F.max_pool2d`` / ``F.avg_pool2d``); tests prove they agree.

:func:`shift_test` turns "pooling makes the network less sensitive to small
shifts" into numbers: shift the photo by 1–4 pixels, and compare how much the
feature map changes before and after pooling.

Shapes: maps are ``(N, C, H, W)`` float tensors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from lab.conv import Geometry, convolve, output_size
from lab.params import Param

POOL_KINDS = ("max", "mean")
#: The default geometry of the shift test: a 3×3 kernel with padding 1 keeps the size.
SAME_3x3 = Geometry(padding=1)

POOL_SPECS = (
    Param("pool", "Pooling", "max", kind="choice", options=POOL_KINDS, help="Keep the largest value, or the mean."),
    Param("pool_k", "Pool kernel", 2, kind="int", lo=1, hi=8, help="Window size k×k."),
    Param("pool_s", "Pool stride", 2, kind="int", lo=1, hi=8, help="Step between windows (usually = kernel)."),
    Param(
        "relu", "ReLU before pooling", True, kind="bool", help="conv → ReLU → pool, as in a CNN; off pools raw values."
    ),
)


class PoolingError(ValueError):
    """A pooling window larger than the map; ``str()`` is for the student."""


def pooled_size(n: int, k: int, s: int) -> int:
    """⌊(n − k)/s⌋ + 1 (no padding, no ceil mode — PyTorch's defaults)."""
    return output_size(n, k, s, 0, 1)


def _check(H: int, W: int, k: int) -> None:
    if k > min(H, W):
        raise PoolingError(f"The {k}×{k} pooling window does not fit in the {H}×{W} map: use a smaller pool kernel.")


def pool(X: torch.Tensor, kind: str = "max", kernel: int = 2, stride: int | None = None, *, device: str = "cpu"):
    """``F.max_pool2d`` / ``F.avg_pool2d`` on ``X (N, C, H, W)`` → ``(N, C, H', W')`` on the CPU."""
    stride = stride or kernel
    _check(X.shape[-2], X.shape[-1], kernel)
    X = X.to(device=device, dtype=torch.float32)
    Y = F.max_pool2d(X, kernel, stride) if kind == "max" else F.avg_pool2d(X, kernel, stride)
    return Y.cpu()


def pool_by_hand(X: torch.Tensor, kind: str = "max", kernel: int = 2, stride: int | None = None) -> torch.Tensor:
    """The same in loops: ``X (C, H, W)`` → ``(C, H', W')``; each cell is the max/mean of its k×k window."""
    stride = stride or kernel
    C, H, W = X.shape
    _check(H, W, kernel)
    H_out, W_out = pooled_size(H, kernel, stride), pooled_size(W, kernel, stride)
    Y = torch.zeros(C, H_out, W_out, dtype=X.dtype)
    for c in range(C):
        for i in range(H_out):
            for j in range(W_out):
                window = [float(X[c, i * stride + u, j * stride + v]) for u in range(kernel) for v in range(kernel)]
                Y[c, i, j] = max(window) if kind == "max" else sum(window) / len(window)
    return Y


# --- the shift test ---------------------------------------------------------------------------


@dataclass
class ShiftRow:
    """How much the maps change when the crop window moves ``shift`` pixels right and down.

    Moving the window right and down moves the *content* up and left inside it.
    """

    shift: int  # pixels
    change_conv: float  # mean |F(x) − F(shifted x)| / mean |F(x)|, before pooling
    change_pool: float  # the same after pooling
    corr_conv: float  # Pearson correlation of the two maps, before pooling
    corr_pool: float  # after pooling


@dataclass
class ShiftResult:
    """The shift test over several shifts, plus the maps of one of them to look at."""

    rows: list[ShiftRow]
    conv: torch.Tensor  # (H', W') feature map of the unshifted crop
    conv_shifted: torch.Tensor  # (H', W') of the crop moved by `shown` pixels
    pooled: torch.Tensor  # (H'', W'')
    pooled_shifted: torch.Tensor  # (H'', W'')
    shown: int  # the shift the maps above belong to


def _relative_change(A: torch.Tensor, B: torch.Tensor) -> tuple[float, float]:
    scale = float(A.abs().mean())
    change = float((A - B).abs().mean()) / scale if scale > 0 else 0.0
    a, b = A.flatten().double(), B.flatten().double()
    a, b = a - a.mean(), b - b.mean()
    denom = float(a.norm() * b.norm())
    corr = float(a @ b) / denom if denom > 0 else 1.0
    return change, corr


def shift_test(
    X: torch.Tensor,
    weight: torch.Tensor,
    geometry: Geometry = SAME_3x3,
    *,
    kind: str = "max",
    kernel: int = 2,
    stride: int | None = None,
    relu: bool = True,
    shifts: tuple[int, ...] = (1, 2, 3, 4),
    shown: int = 1,
    groups: int = 1,
    device: str = "cpu",
) -> ShiftResult:
    """Compare feature maps of a crop and of the same crop moved by ``s`` pixels, before and after pooling.

    ``X (1, C, H, W)``: the reference crop is ``X[..., :H−m, :W−m]`` and the
    shifted one ``X[..., s:H−m+s, s:W−m+s]`` (``m = max(shifts)``): the crop
    *window* moves right and down, so the content moves up and left by ``s``
    pixels (``shifted[i, j] == reference[i + s, j + s]``) and new content
    enters at the bottom and right edges, as when a camera pans, rather than
    wrapping around.
    Maps are compared at the *same* positions; the change is relative to the
    map's mean magnitude, so "before" and "after" are on one scale.
    Only the first output map (``weight[0]``) is used.
    """
    stride = stride or kernel
    m = max(shifts)
    H, W = X.shape[-2:]
    if min(H, W) - m < 8:
        raise PoolingError("The image is too small for the shift test.")
    if groups > 1:  # per-channel kernels: follow the first channel's map
        X = X[:, :1]
    crops = [X[..., : H - m, : W - m]] + [X[..., s : H - m + s, s : W - m + s] for s in shifts]
    batch = torch.cat(crops)  # (1 + len(shifts), C, H−m, W−m): one conv call for all of them
    maps = convolve(batch, weight[:1], None, geometry, device=device)[:, :1]
    if relu:
        maps = maps.clamp(min=0)
    if kernel > min(maps.shape[-2:]):
        raise PoolingError(
            f"The {kernel}×{kernel} pooling window does not fit in the shift test's "
            f"{maps.shape[-2]}×{maps.shape[-1]} maps (the photo minus {m} px, after the convolution): "
            "use a smaller pool kernel or a higher compute resolution."
        )
    pooled = pool(maps, kind, kernel, stride, device=device)
    rows = []
    for n, s in enumerate(shifts, start=1):
        change_c, corr_c = _relative_change(maps[0], maps[n])
        change_p, corr_p = _relative_change(pooled[0], pooled[n])
        rows.append(ShiftRow(s, change_c, change_p, corr_c, corr_p))
    i = shifts.index(shown) + 1 if shown in shifts else 1
    return ShiftResult(rows, maps[0, 0], maps[i, 0], pooled[0, 0], pooled[i, 0], shifts[i - 1])


def size_reduction(H: int, W: int, kernel: int, stride: int) -> tuple[int, int, float]:
    """``(H', W', factor)``: the pooled size and how many times fewer cells it has."""
    Hp, Wp = pooled_size(H, kernel, stride), pooled_size(W, kernel, stride)
    return Hp, Wp, (H * W) / max(Hp * Wp, 1)


def shift_table(result: ShiftResult) -> dict[str, np.ndarray]:
    """The shift test as columns for a table or chart."""
    return {
        "shift px": np.array([r.shift for r in result.rows]),
        "change before": np.array([r.change_conv for r in result.rows]),
        "change after": np.array([r.change_pool for r in result.rows]),
        "corr. before": np.array([r.corr_conv for r in result.rows]),
        "corr. after": np.array([r.corr_pool for r in result.rows]),
    }
