"""Lab 1's plotly figures: the loss landscape with optimiser paths, and the train/test curves."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import plotly.graph_objects as go

from lab import figures
from lab.logistic.config import OPTIMIZER_LABELS
from lab.logistic.landscape import Landscape
from lab.logistic.model import Trajectory

OPTIMIZER_SHORT = {"gd": "GD", "sgd": "SGD", "momentum": "momentum", "adam": "Adam"}
#: One colour per optimiser, used by every figure of the lab (landscape paths, curves, scrubbing).
#: None of them is in the landscape's Viridis scale; paths get a pale halo so they show on its dark end.
OPTIMIZER_COLORS = {"gd": "#e7298a", "sgd": "#ff7f0e", "momentum": "#1f77b4", "adam": "#222222"}
PATH_COLORS = OPTIMIZER_COLORS  # the older name


def landscape_figure(
    land: Landscape,
    paths: Mapping[str, np.ndarray],
    *,
    step: int,
    update: np.ndarray | None = None,
    title: str = "Loss landscape over (w₁, w₂)",
    height: int = 460,
) -> go.Figure:
    """Contours of the objective with optimiser paths ``{optimizer: (T+1, 2)}`` and the current point.

    ``update`` (2,) is the next update of the first path's current state, drawn
    as an arrow. Contours are drawn on log(loss) so both the valley and the walls
    show detail; hover shows the loss itself.
    """
    z = np.log10(np.maximum(land.loss, 1e-12))
    fig = go.Figure(
        go.Contour(
            x=land.w1s,
            y=land.w2s,
            z=z,
            customdata=land.loss,
            colorscale=figures.SEQUENTIAL,
            ncontours=28,
            contours={"coloring": "heatmap", "showlines": True},
            line={"width": 0.5, "color": "rgba(255,255,255,0.35)"},
            colorbar={"title": {"text": "log₁₀ loss"}},
            hovertemplate="w₁ %{x:.2f}, w₂ %{y:.2f}<br>loss %{customdata:.4f}<extra></extra>",
            name="loss",
            showlegend=False,
        )
    )
    m1, m2 = land.argmin
    fig.add_trace(
        go.Scatter(
            x=[m1],
            y=[m2],
            mode="markers",
            marker={"symbol": "x", "size": 11, "color": "#00e5ff", "line": {"width": 1}},
            name="slice minimum",
            hovertemplate="slice minimum<br>w₁ %{x:.2f}, w₂ %{y:.2f}<extra></extra>",
        )
    )
    for name, path in paths.items():
        path = np.asarray(path)
        s = min(step, len(path) - 1)
        color = OPTIMIZER_COLORS.get(name, "#444444")
        fig.add_trace(  # a pale halo under the path: visible on the dark and the light end of the scale
            go.Scatter(
                x=path[:, 0],
                y=path[:, 1],
                mode="lines",
                line={"color": "rgba(255,255,255,0.55)", "width": 5},
                hoverinfo="skip",
                showlegend=False,
            )
        )
        fig.add_trace(
            go.Scatter(
                x=path[: s + 1, 0],
                y=path[: s + 1, 1],
                mode="lines+markers" if s <= 60 else "lines",
                line={"color": color, "width": 2},
                marker={"size": 4, "color": color},
                name=OPTIMIZER_SHORT.get(name, name),
                hovertemplate=f"{OPTIMIZER_LABELS.get(name, name)}<br>w₁ %{{x:.3f}}, w₂ %{{y:.3f}}<extra></extra>",
            )
        )
        if s < len(path) - 1:  # the rest of the path, faint
            fig.add_trace(
                go.Scatter(
                    x=path[s:, 0],
                    y=path[s:, 1],
                    mode="lines",
                    line={"color": color, "width": 1, "dash": "dot"},
                    opacity=0.5,
                    showlegend=False,
                    hoverinfo="skip",
                )
            )
        fig.add_trace(
            go.Scatter(
                x=[path[s, 0]],
                y=[path[s, 1]],
                mode="markers",
                marker={"symbol": "star", "size": 14, "color": color, "line": {"color": "black", "width": 1}},
                showlegend=False,
                hovertemplate=f"step {s}<br>w₁ %{{x:.3f}}, w₂ %{{y:.3f}}<extra></extra>",
            )
        )
    first = next(iter(paths.values()), None)
    if update is not None and first is not None and step < len(first) - 1:
        x0, y0 = float(first[step, 0]), float(first[step, 1])
        fig.add_annotation(
            x=x0 + float(update[0]),
            y=y0 + float(update[1]),
            ax=x0,
            ay=y0,
            xref="x",
            yref="y",
            axref="x",
            ayref="y",
            showarrow=True,
            arrowhead=3,
            arrowwidth=2,
            arrowcolor="#ffeb3b",
            text="",
        )
    fig.update_xaxes(range=[float(land.w1s[0]), float(land.w1s[-1])])
    fig.update_yaxes(range=[float(land.w2s[0]), float(land.w2s[-1])])
    fig.update_layout(
        title={"text": title, "x": 0.0, "xanchor": "left", "y": 0.98, "yanchor": "top"},
        font=figures.FONT,
        margin={"l": 60, "r": 20, "t": 90, "b": 50},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1.0},
        height=height,
        xaxis_title="w₁ (weight of x₁)",
        yaxis_title="w₂ (weight of x₂)",
    )
    return fig


def curves_figure(
    runs: Mapping[str, Trajectory], metric: str, *, step: int | None = None, title: str = "", log_y: bool = False
) -> go.Figure:
    """Train (solid) and test (dashed) ``metric`` ("loss" or "acc") of one or several runs, with a step marker.

    Each optimiser keeps its colour from :data:`OPTIMIZER_COLORS` (the landscape's); the legend
    sits below the plot with one entry per curve, so eight curves in compare mode stay readable.
    """
    series = {}
    dashed = []
    colors = []
    for name, run in runs.items():
        label = OPTIMIZER_SHORT.get(name, name)
        steps = np.arange(run.num_steps + 1)
        train_name, test_name = f"{label} train", f"{label} test"
        series[train_name] = (steps, getattr(run, f"train_{metric}"))
        series[test_name] = (steps, getattr(run, f"test_{metric}"))
        dashed.append(test_name)
        colors += [OPTIMIZER_COLORS.get(name, "#444444")] * 2
    y_title = "binary cross-entropy (mean)" if metric == "loss" else "accuracy"
    fig = figures.line_chart(series, title or y_title, y_title=y_title, log_y=log_y, dashed=dashed, height=320)
    for trace, color in zip(fig.data, colors, strict=True):
        trace.line.color = color
    if step is not None:
        fig.add_vline(x=step, line={"color": "grey", "dash": "dot"})
    return fig
