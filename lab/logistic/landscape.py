"""Pictures' numbers: the model's probability over the plane and the loss landscape over (w₁, w₂)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from lab import data2d, features
from lab.device import large_work
from lab.logistic.model import bce_from_logits, predict_proba


def probability_map(
    w: np.ndarray,
    b: float,
    feature_names: Sequence[str],
    bounds: tuple[float, float, float, float],
    resolution: int = 80,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """P(y=1|x) on a grid over ``bounds``: ``xs`` (R,), ``ys`` (R,), ``prob`` (R, R) with rows along x₂."""
    xs, ys, points = data2d.grid(bounds, resolution)
    Phi = features.expand(torch.from_numpy(points), feature_names)
    with torch.no_grad():
        prob = predict_proba(Phi, torch.as_tensor(w, dtype=Phi.dtype), float(b))
    return xs, ys, prob.reshape(resolution, resolution).numpy()


@dataclass(frozen=True)
class Landscape:
    """The training objective over a grid of (w₁, w₂), everything else held fixed."""

    w1s: np.ndarray  # (R,) grid values of w₁ (x axis)
    w2s: np.ndarray  # (R,) grid values of w₂ (y axis)
    loss: np.ndarray  # (R, R) objective; row i is w₂ = w2s[i], column j is w₁ = w1s[j]
    b: float  # the bias held fixed
    rest: np.ndarray  # (D−2,) the other weights held fixed (hand-made features)

    @property
    def argmin(self) -> tuple[float, float]:
        """(w₁, w₂) of the lowest grid cell."""
        i, j = np.unravel_index(int(np.nanargmin(self.loss)), self.loss.shape)
        return float(self.w1s[j]), float(self.w2s[i])


@large_work  # a hot path: the compute policy picks its threads (lab.device)
def loss_landscape(
    X: torch.Tensor | np.ndarray,
    y: torch.Tensor | np.ndarray,
    w: np.ndarray,
    b: float,
    window: tuple[float, float, float, float],
    *,
    feature_names: Sequence[str] = (),
    weight_decay: float = 0.0,
    reduction: str = "sum",
    resolution: int = 100,
    device: str = "cpu",
) -> Landscape:
    """The objective for every (w₁, w₂) on a ``resolution``² grid over ``window`` in one tensor op.

    ``X`` are points (N, 2) (features are added here) or ready inputs (N, D) when
    ``feature_names`` is empty and D > 2. ``w`` (D,) supplies the weights held
    fixed (all but the first two), ``b`` the bias. ``window`` is
    (w₁ min, w₁ max, w₂ min, w₂ max). Cost: one (N, 2) @ (2, R²) matmul.
    """
    X = torch.as_tensor(X, dtype=torch.float32)
    Phi = features.expand(X, feature_names) if X.shape[1] == 2 else X
    Phi, y_t = Phi.to(device), torch.as_tensor(y).to(device=device, dtype=Phi.dtype)
    w_t = torch.as_tensor(np.asarray(w), dtype=Phi.dtype, device=device)
    w1s = torch.linspace(window[0], window[1], resolution, device=device)
    w2s = torch.linspace(window[2], window[3], resolution, device=device)
    g2, g1 = torch.meshgrid(w2s, w1s, indexing="ij")  # (R, R): row = w₂, column = w₁
    grid_w = torch.stack([g1.reshape(-1), g2.reshape(-1)])  # (2, R²)
    fixed = Phi[:, 2:] @ w_t[2:] + b  # (N,) what the other weights and the bias add
    logits = Phi[:, :2] @ grid_w + fixed[:, None]  # (N, R²) every point under every grid model
    objective = bce_from_logits(logits, y_t, reduction) + 0.5 * weight_decay * (
        (grid_w**2).sum(0) + (w_t[2:] ** 2).sum()
    )
    return Landscape(
        w1s.cpu().numpy(),
        w2s.cpu().numpy(),
        objective.reshape(resolution, resolution).cpu().numpy(),
        float(b),
        w_t[2:].cpu().numpy(),
    )


def landscape_window(paths: Sequence[np.ndarray], margin: float = 0.3, min_half: float = 1.5) -> tuple[float, ...]:
    """A (w₁ min, w₁ max, w₂ min, w₂ max) window around every path (each (T, 2)), with a margin."""
    points = np.concatenate([np.asarray(p, dtype=np.float64)[:, :2] for p in paths])
    points = points[np.isfinite(points).all(1)]
    if len(points) == 0:
        points = np.zeros((1, 2))
    lo, hi = points.min(0), points.max(0)
    center, half = (lo + hi) / 2, np.maximum((hi - lo) / 2 * (1 + margin), min_half)
    half = np.maximum(half, half.max() / 3)  # keep the aspect within 3:1 so contours stay readable
    return (
        float(center[0] - half[0]),
        float(center[0] + half[0]),
        float(center[1] - half[1]),
        float(center[1] + half[1]),
    )


def landscape_around(
    X: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    b: float,
    paths: Sequence[np.ndarray],
    *,
    feature_names: Sequence[str] = (),
    weight_decay: float = 0.0,
    reduction: str = "sum",
    resolution: int = 100,
    device: str = "cpu",
    max_grow: int = 3,
) -> Landscape:
    """:func:`loss_landscape` over a window around ``paths`` (each (T, 2)), grown until the slice's
    minimum is inside it (searched on a coarse 24² grid, at most ``max_grow`` times — on separable
    data the minimum is at infinity)."""
    window = list(landscape_window(paths))
    kwargs = {"feature_names": feature_names, "weight_decay": weight_decay, "reduction": reduction, "device": device}
    for _ in range(max_grow):
        coarse = loss_landscape(X, y, w, b, tuple(window), resolution=24, **kwargs)
        i, j = np.unravel_index(int(np.nanargmin(coarse.loss)), coarse.loss.shape)
        span1, span2 = window[1] - window[0], window[3] - window[2]
        grown = False
        if j == 0 or j == 23:
            window[0 if j == 0 else 1] += -span1 if j == 0 else span1
            grown = True
        if i == 0 or i == 23:
            window[2 if i == 0 else 3] += -span2 if i == 0 else span2
            grown = True
        if not grown:
            break
    return loss_landscape(X, y, w, b, tuple(window), resolution=resolution, **kwargs)
