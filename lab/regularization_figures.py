"""Lab 4's figures (plotly): learning curves, activation bands, gradient norms, BN statistics, the bias experiment."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from lab.batchnorm import running_average
from lab.figures import CLASS_COLORS, layout
from lab.regularization_config import VARIANTS
from lab.regularization_train import Comparison, RunResult

#: One fixed colour per configuration (9 distinct), so a configuration keeps its colour whatever else is chosen.
VARIANT_COLORS = {
    "baseline": "#1f77b4",
    "dropout": "#ff7f0e",
    "batchnorm": "#2ca02c",
    "bn_dropout": "#d62728",
    "l2": "#9467bd",
    "l1": "#8c564b",
    "layernorm": "#e377c2",
    "weightnorm": "#17becf",
    "dropconnect": "#bcbd22",
}

# --- figures ------------------------------------------------------------------------------------


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def _stack(runs: list[RunResult], name: str) -> tuple[np.ndarray, np.ndarray]:
    """Epochs common to all runs and the metric as (runs, epochs)."""
    n = min(len(r.epochs) for r in runs)
    return np.asarray(runs[0].epochs[:n]), np.asarray([getattr(r, name)[:n] for r in runs], dtype=np.float64)


def curves_figure(comparison: Comparison, metric: str = "acc", *, shade: str = "gap") -> go.Figure:
    """Train (solid) vs validation (dashed) curves for every configuration on shared axes.

    ``metric`` "acc" or "loss". ``shade="gap"`` fills the generalisation gap
    between each configuration's train and validation curve; ``"spread"``
    draws mean ± standard deviation bands over seeds instead.
    """
    fig = go.Figure()
    for key, runs in comparison.by_variant().items():
        runs = [r for r in runs if r.epochs]
        if not runs:
            continue
        color = VARIANT_COLORS[key]
        label = VARIANTS[key].label
        scale = 100.0 if metric == "acc" else 1.0
        for part in ("train", "val"):
            x, values = _stack(runs, f"{part}_{metric}")
            mean, sd = values.mean(0) * scale, values.std(0) * scale
            if shade == "spread" and len(runs) > 1:
                fig.add_trace(
                    go.Scatter(
                        x=np.concatenate([x, x[::-1]]),
                        y=np.concatenate([mean + sd, (mean - sd)[::-1]]),
                        fill="toself",
                        fillcolor=_rgba(color, 0.15),
                        line={"width": 0},
                        hoverinfo="skip",
                        showlegend=False,
                        legendgroup=key,
                    )
                )
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=mean,
                    mode="lines",
                    name=label,  # one legend entry per configuration; solid = train, dashed = validation
                    showlegend=part == "train",
                    legendgroup=key,
                    line={"color": color, "dash": "solid" if part == "train" else "dash", "width": 2},
                    fill="tonexty" if (shade == "gap" and part == "val") else None,
                    fillcolor=_rgba(color, 0.12),
                    hovertemplate=f"{label} {part}: %{{y:.4g}}<extra></extra>",
                )
            )
    what = "accuracy %" if metric == "acc" else "cross-entropy loss"
    shade_text = "shaded: generalisation gap" if shade == "gap" else "bands: mean ± std over seeds"
    fig.update_layout(hovermode="x unified")
    return layout(fig, f"Train (solid) vs validation (dashed) {what} — {shade_text}", "epoch", what, 430)


def activation_figure(run: RunResult, *, title: str | None = None) -> go.Figure:
    """Per hidden layer, the pre-activation distribution over epochs: 5–95 % and 25–75 % bands and the median."""
    q = np.asarray(run.act_quantiles)  # (E, depth, 5)
    depth = q.shape[1]
    fig = make_subplots(
        rows=1, cols=depth, shared_yaxes=True, subplot_titles=[f"hidden layer {i + 1}" for i in range(depth)]
    )
    x = np.asarray(run.epochs[: len(q)])
    for layer in range(depth):
        color = CLASS_COLORS[layer % len(CLASS_COLORS)]
        first = layer == 0
        for lo, hi, alpha, name in ((0, 4, 0.15, "5–95 %"), (1, 3, 0.35, "25–75 %")):
            fig.add_trace(
                go.Scatter(x=x, y=q[:, layer, hi], mode="lines", line={"width": 0}, showlegend=False, hoverinfo="skip"),
                row=1,
                col=layer + 1,
            )
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=q[:, layer, lo],
                    mode="lines",
                    line={"width": 0},
                    fill="tonexty",
                    fillcolor=_rgba(color, alpha),
                    name=name,
                    showlegend=first,
                    legendgroup=name,
                    hoverinfo="skip",
                ),
                row=1,
                col=layer + 1,
            )
        fig.add_trace(
            go.Scatter(
                x=x,
                y=q[:, layer, 2],
                mode="lines",
                line={"color": color},
                name="median",
                showlegend=first,
                legendgroup="median",
                hovertemplate="epoch %{x}: median %{y:.3g}<extra></extra>",
            ),
            row=1,
            col=layer + 1,
        )
        fig.update_xaxes(title_text="epoch", row=1, col=layer + 1)
    fig.update_yaxes(title_text="pre-activation value", row=1, col=1)
    return layout(fig, title or f"{run.label}: pre-activation distribution per layer over training", height=340)


def grad_norm_figure(comparison: Comparison, epoch: int | None = None) -> go.Figure:
    """‖∂L/∂W‖ per layer (input side → head) for every configuration, at ``epoch`` (default: the last)."""
    fig = go.Figure()
    for key, runs in comparison.by_variant().items():
        norms = [r.grad_norms for r in runs if r.grad_norms]
        if not norms:
            continue
        e = min(len(n) for n in norms) if epoch is None else max(1, min(epoch, min(len(n) for n in norms)))
        values = np.mean([n[e - 1] for n in norms], axis=0)
        names = [f"layer {j + 1}" for j in range(len(values) - 1)] + ["output"]
        fig.add_trace(
            go.Scatter(
                x=names,
                y=values,
                mode="lines+markers",
                name=VARIANTS[key].label,
                line={"color": VARIANT_COLORS[key]},
            )
        )
    fig.update_yaxes(type="log")
    when = "last epoch" if epoch is None else f"epoch {epoch}"
    return layout(
        fig,
        f"Weight-gradient norm ‖∂L/∂W‖ per layer ({when}, last batch)",
        "layer (input → output)",
        "gradient norm (log)",
        380,
    )


def gradient_profile_figure(profiles: dict[str, np.ndarray], title: str) -> go.Figure:
    """Bars of ‖∂L/∂W‖ per layer (log scale) for several networks, e.g. without / with BN."""
    fig = go.Figure()
    for i, (name, values) in enumerate(profiles.items()):
        names = [f"layer {j + 1}" for j in range(len(values) - 1)] + ["output"]
        fig.add_trace(go.Bar(x=names, y=values, name=name, marker_color=CLASS_COLORS[i % len(CLASS_COLORS)]))
    fig.update_layout(barmode="group")
    fig.update_yaxes(type="log")
    return layout(fig, title, "layer (input → output)", "‖∂L/∂W‖ (log)", 380)


def bn_stats_figure(
    run: RunResult,
    unit: int = 0,
    momentum: float = 0.1,
    trained_momentum: float = 0.1,
    module_name: str = "BatchNorm1d",
) -> go.Figure:
    """First BN layer, one unit: batch mean/variance per step, PyTorch's running values, and the formula replayed with α.

    ``module_name`` names the layer whose buffers are drawn (``BatchNorm2d`` in CNN mode: one channel).
    """
    assert run.bn_batch is not None
    steps = np.arange(1, len(run.bn_batch) + 1)
    fig = make_subplots(rows=1, cols=2, subplot_titles=("mean μ", "variance σ² (unbiased, ÷(B−1))"))
    for col, (idx, init, _name) in enumerate(((0, 0.0, "mean"), (1, 1.0, "variance")), start=1):
        batch = run.bn_batch[:, idx, unit]
        replay = running_average(batch[:, None], momentum, init)[:, 0]
        first = col == 1
        fig.add_trace(
            go.Scatter(
                x=steps,
                y=batch,
                mode="markers",
                marker={"size": 3, "color": "#999999"},
                name="batch",
                showlegend=first,
                legendgroup="b",
            ),
            row=1,
            col=col,
        )
        if run.bn_running is not None:
            fig.add_trace(
                go.Scatter(
                    x=steps,
                    y=run.bn_running[:, idx, unit],
                    mode="lines",
                    line={"color": "#1f77b4", "width": 3},
                    name=f"running (α={trained_momentum:g}, training)",
                    showlegend=first,
                    legendgroup="r",
                ),
                row=1,
                col=col,
            )
        fig.add_trace(
            go.Scatter(
                x=steps,
                y=replay,
                mode="lines",
                line={"color": "#d62728", "dash": "dash"},
                name=f"formula, α={momentum:g}",
                showlegend=first,
                legendgroup="f",
            ),
            row=1,
            col=col,
        )
        if run.bn_buffers:
            fig.add_trace(
                go.Scatter(
                    x=run.bn_buffer_steps,
                    y=[b[idx, unit] for b in run.bn_buffers],
                    mode="markers",
                    marker={"size": 9, "symbol": "diamond-open", "color": "black"},
                    name=f"{module_name} buffer",
                    showlegend=first,
                    legendgroup="k",
                ),
                row=1,
                col=col,
            )
        fig.update_xaxes(title_text="training step", row=1, col=col)
    fig.update_yaxes(title_text=f"unit {unit} of hidden layer 1", row=1, col=1)
    return layout(fig, "BN running statistics vs batch statistics (first BN layer)", height=360)


def bias_figure(exp) -> go.Figure:
    """Loss with vs without the bias before BN (they overlap), and the bias gradient norm (≈ 0)."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("training loss", "gradient norms of layer 1"))
    fig.add_trace(
        go.Scatter(
            x=exp.steps, y=exp.loss_with_bias, name="Linear(bias=True) → BN", line={"color": "#1f77b4", "width": 4}
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Scatter(
            x=exp.steps,
            y=exp.loss_without_bias,
            name="Linear(bias=False) → BN",
            line={"color": "#ff7f0e", "dash": "dash"},
        ),
        row=1,
        col=1,
    )
    floor = 1e-12  # log axis: exact zeros are drawn at the floor
    fig.add_trace(
        go.Scatter(x=exp.steps, y=np.maximum(exp.weight_grad_norm, floor), name="‖∂L/∂W‖", line={"color": "#2ca02c"}),
        row=1,
        col=2,
    )
    fig.add_trace(
        go.Scatter(
            x=exp.steps,
            y=np.maximum(exp.bias_grad_norm, floor),
            name="‖∂L/∂b‖ (bias before BN)",
            line={"color": "#d62728"},
        ),
        row=1,
        col=2,
    )
    fig.update_yaxes(type="log", title_text="norm (log)", row=1, col=2)
    fig.update_yaxes(title_text="cross-entropy", row=1, col=1)
    fig.update_xaxes(title_text="step")
    return layout(fig, "The bias before BN changes nothing: same loss, zero gradient", height=360)


def weight_histogram_figure(comparison: Comparison, keys: list[str] | None = None) -> go.Figure:
    """Histograms of layer 1's final weights for each configuration (first seed), overlaid, log counts.

    L1 (λ₁·Σ|w|) pulls every weight toward 0 by the same step, so many pile up near 0 while the useful
    ones stay large; L2 ((λ₂/2)·‖W‖²) shrinks each weight in proportion to its size: a narrower bell, few
    near 0.
    """
    fig = go.Figure()
    runs = comparison.by_variant()
    for key in keys or list(runs):
        w = runs[key][0].first_weights if key in runs else None
        if w is None:
            continue
        fig.add_trace(
            go.Histogram(
                x=w,
                name=VARIANTS[key].label,
                nbinsx=120,
                opacity=0.55,
                marker_color=VARIANT_COLORS[key],
            )
        )
    fig.update_layout(barmode="overlay")
    fig.update_yaxes(type="log")
    return layout(fig, "Layer 1's weights after training (first seed)", "weight value", "count (log)", 380)
