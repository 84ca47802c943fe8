"""Dropout and DropConnect by hand (inverted dropout), and the pictures that explain them.

Training mode: every unit is kept with probability 1 − p and zeroed with
probability p; the kept ones are multiplied by 1/(1 − p) so the *expected*
activation is unchanged ("inverted dropout", what ``nn.Dropout`` does). Eval
mode: the identity — no mask, no scaling — so nothing needs rescaling at test
time. A fresh mask is drawn for every batch: each batch trains a different
thinned network.

DropConnect (Wan et al. 2013) drops individual *weights* instead of units.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from lab.figures import layout


def dropout_mask(
    shape: Sequence[int], p: float, generator: torch.Generator | None = None, device: str = "cpu"
) -> Tensor:
    """A keep-mask of ``shape``: 1.0 with probability 1 − p, 0.0 with probability p (float32)."""
    return torch.empty(tuple(shape), device=device).bernoulli_(1.0 - p, generator=generator)


def dropout(x: Tensor, p: float, training: bool = True, generator: torch.Generator | None = None) -> Tensor:
    """Inverted dropout by hand: ``x`` (any shape) → same shape.

    Train: ``x · mask / (1 − p)`` with a fresh Bernoulli(1 − p) mask. Eval (or
    p = 0): ``x`` unchanged. p = 1 drops everything (returns zeros).
    """
    if not training or p <= 0.0:
        return x
    if p >= 1.0:
        return torch.zeros_like(x)
    # scale the mask, not x: one multiplication on the autograd path
    return x * dropout_mask(x.shape, p, generator, str(x.device)).mul_(1.0 / (1.0 - p))


class Dropout(nn.Module):
    """``nn.Dropout`` with a private generator, so every configuration gets reproducible masks."""

    def __init__(self, p: float, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.p = float(p)
        self.generator = generator

    def forward(self, x: Tensor) -> Tensor:  # (N, C) → (N, C)
        return dropout(x, self.p, self.training, self.generator)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class DropConnectLinear(nn.Linear):
    """A Linear layer whose *weights* are dropped (p) in training, one mask per batch, rescaled by 1/(1 − p)."""

    def __init__(self, *args, p: float = 0.5, generator: torch.Generator | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.p = float(p)
        self.generator = generator

    def forward(self, x: Tensor) -> Tensor:  # (N, in) → (N, out)
        weight = dropout(self.weight, self.p, self.training, self.generator)
        return F.linear(x, weight, self.bias)


def dropconnect_by_hand(x: Tensor, weight: Tensor, bias: Tensor, mask: Tensor, p: float) -> Tensor:
    """DropConnect in training, written out: ``y = x · ((M ⊙ W)/(1 − p))ᵀ + b`` with a 0/1 mask M per weight.

    In eval mode the lab (like most implementations) uses the full W — the
    mask's expectation. Wan et al. (2013) instead sample each unit's input from
    a Gaussian fitted to its mean and variance over masks; the mean is the
    simplification.
    """
    return F.linear(x, weight * mask / (1.0 - p), bias)


# --- pictures ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MaskDemo:
    """Keep-masks of the hidden layers of a small drawn network for consecutive batches."""

    layer_sizes: tuple[int, ...]  # units per layer, input first, output last, e.g. (6, 8, 8, 3)
    p: float  # drop probability of hidden units
    masks: list[list[np.ndarray]]  # masks[batch][hidden_layer] (units,) of 0/1


def mask_demo(
    layer_sizes: Sequence[int] = (6, 8, 8, 3), p: float = 0.5, num_batches: int = 3, seed: int = 0
) -> MaskDemo:
    """Draw one dropout mask per hidden layer for each of ``num_batches`` consecutive batches (seeded)."""
    g = torch.Generator().manual_seed(seed)
    masks = [[dropout_mask((n,), p, g).numpy() for n in layer_sizes[1:-1]] for _ in range(num_batches)]
    return MaskDemo(tuple(layer_sizes), float(p), masks)


def network_figure(layer_sizes: Sequence[int], hidden_masks: Sequence[np.ndarray] | None, title: str) -> go.Figure:
    """A drawn fully connected network; dropped hidden units (mask 0) are grey crosses with their links removed."""
    sizes = list(layer_sizes)
    keep = [np.ones(sizes[0])] + [np.asarray(m) for m in (hidden_masks or [np.ones(n) for n in sizes[1:-1]])]
    keep.append(np.ones(sizes[-1]))
    pos = [[(i, (j - (n - 1) / 2) / max(max(sizes) - 1, 1)) for j in range(n)] for i, n in enumerate(sizes)]
    xs_on, ys_on, xs_off, ys_off = [], [], [], []
    for i in range(len(sizes) - 1):
        for a, (x0, y0) in enumerate(pos[i]):
            for b, (x1, y1) in enumerate(pos[i + 1]):
                on = keep[i][a] > 0 and keep[i + 1][b] > 0
                (xs_on if on else xs_off).extend([x0, x1, None])
                (ys_on if on else ys_off).extend([y0, y1, None])
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=xs_off,
            y=ys_off,
            mode="lines",
            line={"color": "#e5e5e5", "width": 1},
            name="dropped link",
            hoverinfo="skip",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=xs_on,
            y=ys_on,
            mode="lines",
            line={"color": "#1f77b4", "width": 1.2},
            name="active link",
            hoverinfo="skip",
        )
    )
    kept = [(x, y) for i, layer in enumerate(pos) for j, (x, y) in enumerate(layer) if keep[i][j] > 0]
    dropped = [(x, y) for i, layer in enumerate(pos) for j, (x, y) in enumerate(layer) if keep[i][j] == 0]
    fig.add_trace(
        go.Scatter(
            x=[x for x, _ in kept],
            y=[y for _, y in kept],
            mode="markers",
            name="kept unit",
            marker={"size": 16, "color": "#ff7f0e", "line": {"color": "black", "width": 1}},
        )
    )
    if dropped:
        fig.add_trace(
            go.Scatter(
                x=[x for x, _ in dropped],
                y=[y for _, y in dropped],
                mode="markers",
                name="dropped unit (×0)",
                marker={"size": 16, "color": "#d9d9d9", "symbol": "x", "line": {"color": "#7f7f7f", "width": 1}},
            )
        )
    names = ["input"] + [f"hidden {i}" for i in range(1, len(sizes) - 1)] + ["output"]
    fig.update_xaxes(tickvals=list(range(len(sizes))), ticktext=names, showgrid=False, zeroline=False)
    fig.update_yaxes(visible=False)
    return layout(fig, title, "layer", "", height=330)


@dataclass(frozen=True)
class TrainEval:
    """One hidden vector through dropout in train mode vs eval mode."""

    h: np.ndarray  # (n,) activations entering dropout
    mask: np.ndarray  # (n,) 0/1 keep-mask used in train mode
    train_out: np.ndarray  # (n,) h · mask / (1 − p)
    eval_out: np.ndarray  # (n,) h (identity)
    p: float


def train_vs_eval(p: float = 0.5, n: int = 12, seed: int = 0) -> TrainEval:
    """Push one vector of ReLU-like activations through dropout in both modes (seeded)."""
    g = torch.Generator().manual_seed(seed)
    h = torch.rand(n, generator=g) * 2.0
    mask = dropout_mask((n,), p, g)
    train_out = h * mask / (1.0 - p) if p < 1 else torch.zeros_like(h)
    return TrainEval(h.numpy(), mask.numpy(), train_out.numpy(), h.numpy().copy(), float(p))


def train_eval_figure(demo: TrainEval) -> go.Figure:
    """Grouped bars: activation h, train-mode output h·mask/(1 − p), eval-mode output h."""
    units = [f"u{i}" for i in range(len(demo.h))]
    fig = go.Figure()
    fig.add_trace(go.Bar(x=units, y=demo.h, name="input h", marker_color="#bbbbbb"))
    fig.add_trace(
        go.Bar(
            x=units,
            y=demo.train_out,
            name=f"train: h·mask/(1−p), ×{1 / (1 - demo.p):.3g} or 0" if demo.p < 1 else "train: all dropped",
            marker_color="#ff7f0e",
        )
    )
    fig.add_trace(go.Bar(x=units, y=demo.eval_out, name="eval: identity", marker_color="#1f77b4"))
    fig.update_layout(barmode="group")
    return layout(fig, f"Dropout p = {demo.p:g}: train mode vs eval mode", "hidden unit", "activation", height=330)


def dropout_stats(p: float, n: int = 100_000, seed: int = 0) -> tuple[float, float]:
    """Empirical check on ``n`` ones: ``(fraction zeroed, mean of the output)`` — ≈ (p, 1) for inverted dropout."""
    g = torch.Generator().manual_seed(seed)
    out = dropout(torch.ones(n), p, training=True, generator=g)
    return float((out == 0).float().mean()), float(out.mean())
