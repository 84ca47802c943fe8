"""Figures for the convolution lab (plotly): the stepper, kernels, a zoomed map with hover, shift test, costs.

Built on ``lab.figures`` conventions: a title, axis titles, a legend where there
are several traces, and the sign-aware colour rule (:func:`lab.figures.scale_for`).
Whole feature maps go to the page as PNGs (``lab.figures.colorize``); plotly is
only used for small grids and one zoomed window with hover.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from lab.architecture import Analysis
from lab.conv import Steps
from lab.figures import CLASS_COLORS, layout, line_chart, scale_for
from lab.pooling import ShiftResult

HIGHLIGHT = "#d6336c"


def _fmt(v: float) -> str:
    return "" if not np.isfinite(v) else (f"{v:.0f}" if float(v).is_integer() else f"{v:.2f}")


def _annotated(z: np.ndarray, *, signed: bool | None = None, showscale: bool = False, name: str = "") -> go.Heatmap:
    z = np.asarray(z, dtype=np.float64)
    text = np.vectorize(_fmt)(z) if z.size else z
    finite = z[np.isfinite(z)]
    scale = scale_for(finite if finite.size else np.zeros(1), signed)
    if "zmin" not in scale and finite.size:
        lo, hi = float(finite.min()), float(finite.max())
        if hi - lo <= 1e-6 * max(abs(hi), abs(lo), 1e-12):  # constant (a box blur): no scale of rounding noise
            lo, hi = min(lo, 0.0), max(hi, 0.0) if hi != 0.0 else 1.0
        scale.update(zmin=lo, zmax=hi)
    return go.Heatmap(
        z=z,
        text=text,
        texttemplate="%{text}",
        textfont={"size": 14},
        showscale=showscale,
        name=name,
        hovertemplate=f"{name} row %{{y}}, col %{{x}}: %{{z:.4g}}<extra></extra>",
        **scale,
    )


def _box(fig: go.Figure, rows: list[int], cols: list[int], row: int, col: int) -> None:
    """Outline every kernel tap (dilated taps are separate squares)."""
    for r in rows:
        for c in cols:
            fig.add_shape(
                type="rect",
                x0=c - 0.5,
                x1=c + 0.5,
                y0=r - 0.5,
                y1=r + 0.5,
                line={"color": HIGHLIGHT, "width": 3},
                row=row,
                col=col,
            )


def stepper_figure(steps: Steps, index: int, title: str = "Convolution, one output cell at a time") -> go.Figure:
    """Three panels: the (padded) input with the current patch outlined, patch ⊙ kernel, the output so far."""
    step = steps.steps[index]
    out = np.full(steps.output.shape, np.nan)
    for s in steps.steps[: index + 1]:
        out[s.row, s.col] = s.total
    p = steps.geometry.padding
    fig = make_subplots(
        rows=1,
        cols=3,
        column_widths=[0.42, 0.29, 0.29],
        horizontal_spacing=0.06,
        subplot_titles=(
            f"input{' (padded by ' + str(p) + ')' if p else ''} — patch for out[{step.row}, {step.col}]",
            "patch ⊙ kernel (products)",
            f"output: {index + 1} of {len(steps.steps)} cells",
        ),
    )
    fig.add_trace(_annotated(steps.padded.numpy(), name="input"), row=1, col=1)
    fig.add_trace(_annotated(step.products.numpy(), signed=True, name="product"), row=1, col=2)
    full = steps.output.numpy()
    out_trace = _annotated(out, name="output")
    out_trace.update(**{k: v for k, v in scale_for(full).items() if k != "colorscale"})
    if "zmin" not in scale_for(full):
        out_trace.update(zmin=float(full.min()), zmax=float(max(full.max(), full.min() + 1e-9)))
    fig.add_trace(out_trace, row=1, col=3)
    _box(fig, step.rows, step.cols, 1, 1)
    _box(fig, [step.row], [step.col], 1, 3)
    if p:  # the padding ring, dashed
        n_r, n_c = steps.padded.shape
        fig.add_shape(
            type="rect",
            x0=p - 0.5,
            x1=n_c - p - 0.5,
            y0=p - 0.5,
            y1=n_r - p - 0.5,
            line={"color": "grey", "dash": "dash"},
            row=1,
            col=1,
        )
    for c in (1, 2, 3):
        fig.update_yaxes(  # one "row" title: on the inner panels it would print over the panel to their left
            autorange="reversed",
            scaleanchor=f"x{'' if c == 1 else c}",
            constrain="domain",
            row=1,
            col=c,
            title_text="row" if c == 1 else None,
        )
        fig.update_xaxes(row=1, col=c, title_text="column", constrain="domain")
    return layout(fig, title, height=420)


def kernel_figure(K: np.ndarray, title: str = "Kernel weights") -> go.Figure:
    """A small annotated k×k grid of weights (diverging scale when signed)."""
    K = np.asarray(K)
    trace = _annotated(K, showscale=True, name="weight")
    # Smaller numbers in bigger kernels so 7×7 cells do not overprint; short colour-bar ticks.
    trace.update(textfont={"size": 14 if K.shape[-1] <= 3 else 11 if K.shape[-1] <= 5 else 9})
    trace.update(colorbar={"tickformat": ".3g"})
    fig = go.Figure(trace)
    fig.update_yaxes(autorange="reversed", scaleanchor="x", title_text="row")
    fig.update_xaxes(title_text="column", constrain="domain")
    return layout(fig, title, height=280)


def zoom_figure(
    values: np.ndarray, hover: np.ndarray, region: tuple[int, int, int, int], title: str, signed: bool | None = None
) -> go.Figure:
    """A window of one feature map with true row/column coordinates; hover lists the patch and the sum."""
    r0, r1, c0, c1 = region
    fig = go.Figure(
        go.Heatmap(
            z=values,
            x=list(range(c0, c1)),
            y=list(range(r0, r1)),
            text=hover,
            hovertemplate="%{text}<extra></extra>",
            colorbar={"title": {"text": "output"}},
            **scale_for(values, signed),
        )
    )
    fig.update_yaxes(autorange="reversed", scaleanchor="x", title_text="output row")
    fig.update_xaxes(title_text="output column", constrain="domain")
    fig.update_layout(hoverlabel={"font": {"family": "monospace", "size": 12}})
    return layout(fig, title, height=460)


def shift_figure(result: ShiftResult, metric: str = "change") -> go.Figure:
    """Relative change (or correlation) of the maps vs the shift, before and after pooling."""
    shifts = [r.shift for r in result.rows]
    if metric == "change":
        series = {
            "before pooling": (shifts, [r.change_conv for r in result.rows]),
            "after pooling": (shifts, [r.change_pool for r in result.rows]),
        }
        y_title, title = "mean |Δ| / mean |map|", "How much the map changes when the photo moves"
    else:
        series = {
            "before pooling": (shifts, [r.corr_conv for r in result.rows]),
            "after pooling": (shifts, [r.corr_pool for r in result.rows]),
        }
        y_title, title = "correlation with the unshifted map", "How similar the map stays when the photo moves"
    fig = line_chart(series, title, x_title="shift (pixels, right and down)", y_title=y_title, height=340)
    fig.update_traces(mode="lines+markers")
    fig.update_xaxes(dtick=1)
    return fig


def cost_figure(analysis: Analysis) -> go.Figure:
    """Multiply-adds and parameters per layer as bars; the largest of each is highlighted."""
    rows = analysis.rows
    names = [f"{r.index}. {r.layer.kind}" for r in rows]
    heavy, most = analysis.heaviest(), analysis.most_params()
    fig = make_subplots(rows=1, cols=2, subplot_titles=("multiply-adds", "parameters"), horizontal_spacing=0.12)
    for col, (values, best, base) in enumerate(
        (([r.macs for r in rows], heavy, CLASS_COLORS[0]), ([r.params for r in rows], most, CLASS_COLORS[1])), start=1
    ):
        colors = [
            HIGHLIGHT if best is not None and r.index == best.index and v > 0 else base
            for r, v in zip(rows, values, strict=True)
        ]
        fig.add_trace(
            go.Bar(
                x=names,
                y=values,
                marker_color=colors,
                name="multiply-adds" if col == 1 else "parameters",
                hovertemplate="%{x}: %{y:,}<extra></extra>",
            ),
            row=1,
            col=col,
        )
        fig.update_xaxes(title_text="layer", row=1, col=col)
    fig.update_yaxes(title_text="multiply-adds", row=1, col=1)
    fig.update_yaxes(title_text="parameters", row=1, col=2)
    fig = layout(fig, "Cost per layer (highlighted: the largest)", height=340)
    fig.update_layout(showlegend=False)  # the panel titles name the two bar series
    return fig
