"""Scrubbing a recorded run in the browser: one plotly figure whose frames hold every step.

The page sends the figure once; its own slider and Play button redraw the
boundary on the data (a), the position on the loss landscape and the next
update's arrow (b) in the browser, with no Streamlit rerun. Everything that
moves is a line or a marker (plotly redraws those without re-plotting the
figure, ~10× cheaper than a moving heatmap): the boundary P = 0.5 and the
P = 0.1 / 0.9 lines are traced here, for every recorded state at once (the
logits over a grid are one matrix product, then marching squares).

A plotly slider cannot write the page's URL, so the page keeps its own step
(in the link) and opens the figure at that frame (``step=``).
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from lab import data2d, features, figures
from lab.logistic.config import OPTIMIZER_LABELS
from lab.logistic.landscape import Landscape
from lab.logistic.model import Trajectory
from lab.logistic.plots import OPTIMIZER_COLORS, OPTIMIZER_SHORT

#: Most frames one figure carries (longer runs keep every k-th step, plus the first, the last
#: and the page's step): about 0.5 MB of figure at the default grid.
MAX_FRAMES = 201
#: Grid points a side of the logit map the lines are traced on (with hand-made features).
MAP_RESOLUTION = 40
ARROW_COLOR = "#ffeb3b"
#: Slider and Play: jump straight to a frame (no tweening: contours cannot tween anyway).
#: What the figure's symbols mean (it has no legend; the page prints this under it).
KEY = (
    "Dots: training points, rings: test points (blue class 0, orange class 1). Black line: the boundary "
    "P(y=1|x) = 0.5; dashed: P = 0.1 and 0.9. Stars: where each optimiser is at this step ({paths}); "
    "yellow arrow: the next update; ✕: the lowest point of this slice of L (darker is lower; hover for values)."
)


def key_text(paths: Sequence[str]) -> str:
    """:data:`KEY` with the optimisers' colours, e.g. ``GD pink``."""
    names = {"#e7298a": "pink", "#ff7f0e": "orange", "#1f77b4": "blue", "#222222": "black"}
    return KEY.format(
        paths=", ".join(
            f"{OPTIMIZER_SHORT.get(p, p)} {names.get(OPTIMIZER_COLORS.get(p, ''), '')}".strip() for p in paths
        )
    )


#: Only lines and markers move, so no frame needs a full redraw (``redraw: False`` is the fast path).
_JUMP = {"mode": "immediate", "frame": {"duration": 0, "redraw": False}, "transition": {"duration": 0}}


class ScrubFigure(go.Figure):
    """A ``go.Figure`` whose frames and slider steps are kept as plain, ready-to-send dicts.

    Validating 200 ``go.Frame`` objects and 200 slider steps costs plotly about a
    second per figure; these parts are built from known-good values, so
    :meth:`to_dict` (which ``st.plotly_chart`` and ``fig.show()`` use) adds them
    unvalidated. Their arrays are already plotly.js typed-array specs.
    """

    _scrub_frames: tuple[dict, ...] = ()
    _scrub_steps: tuple[dict, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["frames"] = list(self._scrub_frames)
        out["layout"]["sliders"][0]["steps"] = list(self._scrub_steps)
        return out


def typed_array(values: np.ndarray) -> dict[str, str]:
    """A numpy array as plotly.js's typed-array spec (base64 bytes; 1 byte per uint8 value)."""
    values = np.ascontiguousarray(values)
    dtypes = {np.dtype(np.uint8): "u1", np.dtype(np.float32): "f4", np.dtype(np.float64): "f8"}
    return {
        "dtype": dtypes[values.dtype],
        "bdata": base64.b64encode(values.tobytes()).decode("ascii"),
        "shape": ", ".join(str(n) for n in values.shape),
    }


def frame_steps(num_steps: int, step: int, max_frames: int = MAX_FRAMES) -> np.ndarray:
    """The states a figure carries: all of 0 … T when they fit, else every k-th plus T and ``step``."""
    if num_steps + 1 <= max_frames:
        return np.arange(num_steps + 1)
    stride = -(-num_steps // (max_frames - 2))
    kept = set(range(0, num_steps + 1, stride)) | {num_steps, min(max(step, 0), num_steps)}
    return np.array(sorted(kept))


def logit_maps(
    run: Trajectory, steps: Sequence[int], bounds: tuple[float, float, float, float], resolution: int = MAP_RESOLUTION
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The logit w·φ(x) + b over a grid for many states at once: ``xs`` (R,), ``ys`` (R,), maps (S, R, R).

    One (R², D) @ (D, S) product instead of S separate maps; row i of a map is x₂ = ys[i].
    """
    xs, ys, points = data2d.grid(bounds, resolution)
    Phi = features.expand(torch.from_numpy(points).double(), run.feature_names)  # (R², D)
    idx = np.asarray(steps, dtype=np.int64)
    W = torch.from_numpy(np.asarray(run.w, dtype=np.float64)[idx])  # (S, D)
    B = torch.from_numpy(np.asarray(run.b, dtype=np.float64)[idx])  # (S,)
    with torch.no_grad():
        logits = Phi @ W.T + B  # (R², S)
    return xs.astype(np.float64), ys.astype(np.float64), logits.T.reshape(len(idx), resolution, resolution).numpy()


def level_lines(xs: np.ndarray, ys: np.ndarray, Z: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Where ``Z`` (R, R; row i at ys[i]) crosses ``level``: marching squares, as line segments.

    Returns ``x``, ``y`` (float32): polylines separated by NaN (a gap for plotly). Crossings are linear interpolations along cell edges, so a
    linear field (a model without hand-made features) gives its exact straight line.
    """
    A = np.asarray(Z, dtype=np.float64) - level
    above = A > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        th = A[:, :-1] / (A[:, :-1] - A[:, 1:])  # (R, R-1) along x, between columns j and j+1
        tv = A[:-1, :] / (A[:-1, :] - A[1:, :])  # (R-1, R) along y, between rows i and i+1
    hx = xs[:-1][None, :] + th * np.diff(xs)[None, :]
    hy = np.broadcast_to(ys[:, None], th.shape)
    vx = np.broadcast_to(xs[None, :], tv.shape)
    vy = ys[:-1][:, None] + tv * np.diff(ys)[:, None]
    h = above[:, :-1] != above[:, 1:]
    v = above[:-1, :] != above[1:, :]
    # Each cell's four edges in order bottom, right, top, left: (R-1, R-1, 4).
    cut = np.stack([h[:-1], v[:, 1:], h[1:], v[:, :-1]], axis=-1)
    ex = np.stack([hx[:-1], vx[:, 1:], hx[1:], vx[:, :-1]], axis=-1)
    ey = np.stack([hy[:-1], vy[:, 1:], hy[1:], vy[:, :-1]], axis=-1)
    order = np.argsort(~cut, axis=-1, kind="stable")  # the cut edges first, in edge order
    count = cut.sum(-1)
    px, py = np.take_along_axis(ex, order, -1), np.take_along_axis(ey, order, -1)
    segments = [np.stack([px[count >= 2][:, :2], py[count >= 2][:, :2]], -1)]  # (S, 2 ends, xy)
    segments.append(np.stack([px[count == 4][:, 2:], py[count == 4][:, 2:]], -1))  # saddles: a second one
    return _join(np.concatenate(segments))


def _join(seg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Segments (S, 2 ends, xy) chained into polylines where their ends meet, NaN between polylines.

    Neighbouring cells compute a shared crossing from the same edge, so the ends match exactly;
    a chain lists each point once instead of twice (about a third of the frame's bytes).
    """
    ends: dict[tuple[float, float], list[int]] = {}
    for i, (a, b) in enumerate(seg.tolist()):
        ends.setdefault(tuple(a), []).append(i)
        ends.setdefault(tuple(b), []).append(i)
    used = np.zeros(len(seg), dtype=bool)
    out: list[list[float]] = []

    def walk(i: int, point: tuple[float, float], line: list) -> None:
        while True:
            used[i] = True
            a, b = map(tuple, seg[i].tolist())
            point = b if a == point else a
            line.append(point)
            nxt = [j for j in ends[point] if not used[j]]
            if not nxt:
                return
            i = nxt[0]

    for i in range(len(seg)):
        if used[i]:
            continue
        a, b = map(tuple, seg[i].tolist())
        forward: list = [a]
        walk(i, a, forward)  # from a through b onwards
        back: list = []
        nxt = [j for j in ends[a] if not used[j]]
        if nxt:
            walk(nxt[0], a, back)  # and from a the other way
        out.extend([*back[::-1], *forward, (math.nan, math.nan)])
    flat = np.array(out, dtype=np.float32).reshape(-1, 2)
    return flat[:, 0], flat[:, 1]


#: The lines (a) draws: P = 0.5 (the boundary), and P = 0.1 / 0.9 (how sure the model is).
CONFIDENCE = 0.9
_LOGIT_CONFIDENCE = float(np.log(CONFIDENCE / (1 - CONFIDENCE)))


def boundary_lines(xs: np.ndarray, ys: np.ndarray, logits: np.ndarray) -> tuple[dict, dict]:
    """The boundary (logit 0) and the P = 0.1 / 0.9 lines of one state's logit map, as plotly x/y."""
    bx, by = level_lines(xs, ys, logits, 0.0)
    parts = [level_lines(xs, ys, logits, sign * _LOGIT_CONFIDENCE) for sign in (-1.0, 1.0)]
    cx, cy = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    return {"x": bx, "y": by}, {"x": cx, "y": cy}


def _arrow(run: Trajectory, t: int) -> tuple[list[float], list[float]]:
    """The next update of state ``t`` in (w₁, w₂) as a two-point segment; empty after the last state."""
    if t >= run.num_steps:
        return [], []
    return [float(run.w[t, 0]), float(run.w[t + 1, 0])], [float(run.w[t, 1]), float(run.w[t + 1, 1])]


def step_label(run: Trajectory, t: int) -> str:
    """What the slider says at state ``t``: the step and that state's training loss and accuracy."""
    return (
        f"{t} of {run.num_steps}: train loss {run.train_loss[t]:.4f} (mean BCE), train accuracy {run.train_acc[t]:.1%}"
    )


def scrub_figure(
    run: Trajectory,
    data: data2d.Dataset2D,
    land: Landscape,
    paths: Mapping[str, np.ndarray],
    *,
    step: int,
    max_frames: int = MAX_FRAMES,
    resolution: int = MAP_RESOLUTION,
    height: int = 500,
) -> go.Figure:
    """(a) the data with P(y=1|x) and the boundary, (b) the landscape with every path; one frame per step.

    ``run`` is the main trajectory (its map and its arrow are drawn); ``paths``
    are ``{optimizer: (T+1, 2)}`` in (w₁, w₂), the main run first (one entry
    when not comparing). The figure opens at state ``step``; its slider and
    Play/Pause buttons move through the frames in the browser. To show another
    step or landscape slice later, :func:`move_to_step` updates the figure in
    place (building the frames again costs far more).
    """
    T = run.num_steps
    steps = frame_steps(T, step, max_frames)
    # Without hand-made features the logit is linear: a 2 × 2 grid gives its exact lines.
    resolution = resolution if run.feature_names else 2
    xs, ys, logits = logit_maps(run, steps, data.bounds(), resolution)

    fig = ScrubFigure(
        make_subplots(
            rows=1,
            cols=2,
            horizontal_spacing=0.14,  # room for (b)'s tick labels and axis title at 1000 px
            subplot_titles=("(a) data and boundary P(y=1|x) = 0.5", "(b) loss landscape L(w₁, w₂)"),
        )
    )
    # --- (a): the points (fixed), then the boundary and the P = 0.1 / 0.9 lines (per frame) -------------
    points = go.Figure()
    figures.add_points(points, data.X_train, data.y_train, data.X_test, data.y_test)
    for trace in points.data:
        trace.marker.size = 6
        fig.add_trace(trace, row=1, col=1)
    fig.add_trace(
        go.Scatter(mode="lines", line={"color": "black", "width": 2.5}, name="boundary P = 0.5", hoverinfo="skip"),
        row=1,
        col=1,
    )
    boundary_index = len(fig.data) - 1
    fig.add_trace(
        go.Scatter(
            mode="lines",
            line={"color": "#555555", "width": 1.2, "dash": "dash"},
            name=f"P = {1 - CONFIDENCE:g} and {CONFIDENCE:g}",
            hoverinfo="skip",
        ),
        row=1,
        col=1,
    )
    # --- (b): the landscape and the paths (fixed), then the positions and the arrow (per frame) --------
    fig.add_trace(
        go.Contour(
            x=land.w1s,
            y=land.w2s,
            colorscale=figures.SEQUENTIAL,
            ncontours=28,
            contours={"coloring": "heatmap", "showlines": True},
            line={"width": 0.5, "color": "rgba(255,255,255,0.35)"},
            showscale=False,  # the room goes to the plots at 1000 px; hover shows L, the key says dark = low
            hovertemplate="w₁ %{x:.2f}, w₂ %{y:.2f}<br>L %{customdata:.4f}<extra></extra>",
            name="loss",
            showlegend=False,
        ),
        row=1,
        col=2,
    )
    landscape_index = len(fig.data) - 1
    fig.add_trace(
        go.Scatter(
            mode="markers",
            marker={"symbol": "x", "size": 11, "color": "#00e5ff", "line": {"width": 1}},
            name="slice minimum",
            hovertemplate="slice minimum<br>w₁ %{x:.2f}, w₂ %{y:.2f}<extra></extra>",
        ),
        row=1,
        col=2,
    )
    position_index: list[int] = []
    for name, path in paths.items():
        path = np.asarray(path, dtype=np.float64)
        color = OPTIMIZER_COLORS.get(name, "#444444")
        label = OPTIMIZER_SHORT.get(name, name)
        fig.add_trace(  # a pale halo so every colour shows on the dark and the light end of the scale
            go.Scatter(
                x=path[:, 0],
                y=path[:, 1],
                mode="lines",
                line={"color": "rgba(255,255,255,0.55)", "width": 5},
                hoverinfo="skip",
                showlegend=False,
            ),
            row=1,
            col=2,
        )
        fig.add_trace(
            go.Scatter(
                x=path[:, 0],
                y=path[:, 1],
                mode="lines",
                line={"color": color, "width": 2},
                name=label,
                legendgroup=name,
                hovertemplate=f"{OPTIMIZER_LABELS.get(name, name)}<br>w₁ %{{x:.3f}}, w₂ %{{y:.3f}}<extra></extra>",
            ),
            row=1,
            col=2,
        )
        fig.add_trace(
            go.Scatter(
                mode="markers",
                marker={"symbol": "star", "size": 15, "color": color, "line": {"color": "white", "width": 1}},
                legendgroup=name,
                showlegend=False,
                name=f"{label} now",
                hovertemplate=f"{label} at this step<br>w₁ %{{x:.3f}}, w₂ %{{y:.3f}}<extra></extra>",
            ),
            row=1,
            col=2,
        )
        position_index.append(len(fig.data) - 1)
    fig.add_trace(
        go.Scatter(
            mode="lines+markers",
            line={"color": ARROW_COLOR, "width": 3},
            marker={"symbol": ["circle", "arrow"], "size": [4, 14], "angleref": "previous", "color": ARROW_COLOR},
            name="next update Δθ",
            hovertemplate="next update<br>w₁ %{x:.3f}, w₂ %{y:.3f}<extra></extra>",
        ),
        row=1,
        col=2,
    )
    arrow_index = len(fig.data) - 1

    # --- frames: per step, only what moves (plain dicts: validating 200 Frame objects is slow) ----------
    moving = [boundary_index, boundary_index + 1, *position_index, arrow_index]
    path_list = [np.asarray(p, dtype=np.float64) for p in paths.values()]
    frames = []
    for k, t in enumerate(int(t) for t in steps):
        line, band = boundary_lines(xs, ys, logits[k])
        frame_data: list[dict] = [
            {"type": "scatter", "x": typed_array(line["x"]), "y": typed_array(line["y"])},
            {"type": "scatter", "x": typed_array(band["x"]), "y": typed_array(band["y"])},
        ]
        for path in path_list:
            s = min(t, len(path) - 1)
            frame_data.append({"type": "scatter", "x": [float(path[s, 0])], "y": [float(path[s, 1])]})
        fx, fy = _arrow(run, t)
        frame_data.append({"type": "scatter", "x": fx, "y": fy})
        frames.append({"name": str(t), "data": frame_data, "traces": moving})
    fig._scrub_frames = tuple(frames)
    fig._scrub_steps = tuple(
        {"method": "animate", "label": step_label(run, int(t)), "args": [[str(int(t))], _JUMP]} for t in steps
    )

    fig.update_layout(
        sliders=[
            {
                "steps": [{"label": "0"}],  # the real steps are added by ScrubFigure.to_dict
                "currentvalue": {"prefix": "Step ", "font": {"size": 13, "color": "#31333f"}, "xanchor": "left"},
                "font": {"color": "rgba(0,0,0,0)"},  # no tick labels: 200 of them would overlap
                "tickcolor": "rgba(0,0,0,0)",
                "ticklen": 0,
                "minorticklen": 0,
                "len": 0.8,
                "x": 0.2,
                "xanchor": "left",
                "y": 0.0,
                "yanchor": "top",
                "pad": {"t": 70, "b": 0},
            }
        ],
        updatemenus=[
            {
                "type": "buttons",
                "direction": "left",
                "showactive": False,
                "x": 0.0,
                "y": 0.0,
                "xanchor": "left",
                "yanchor": "top",
                "pad": {"t": 100, "r": 0},
                "buttons": [
                    {
                        "label": "▶ Play",
                        "method": "animate",
                        "args": [
                            None,
                            {**_JUMP, "mode": "next", "frame": {"duration": 60, "redraw": False}, "fromcurrent": True},
                        ],
                    },
                    {"label": "Pause", "method": "animate", "args": [[None], _JUMP]},
                ],
            }
        ],
        meta={
            "frame_steps": [int(t) for t in steps],
            "traces": {
                "boundary": boundary_index,
                "landscape": landscape_index,
                "positions": position_index,
                "arrow": arrow_index,
            },
            "bounds": list(data.bounds()),
            "resolution": resolution,
        },
    )
    figures.layout(fig, "Scrub the run in your browser: drag the step slider or press Play", height=height)
    # No legend: at 1000 px plotly stacks a dozen entries one per row and squeezes the plots. The
    # symbols are few and fixed; :data:`KEY` says what they are, and the page shows it under the figure.
    fig.update_layout(showlegend=False, height=height, margin={"t": 80, "r": 20, "b": 140})
    x0, x1, y0, y1 = data.bounds()
    fig.update_xaxes(title_text="x₁", range=[x0, x1], constrain="domain", row=1, col=1)
    fig.update_yaxes(title_text="x₂", range=[y0, y1], scaleanchor="x", constrain="domain", row=1, col=1)
    fig.update_xaxes(title_text="w₁ (weight of x₁)", row=1, col=2)
    fig.update_yaxes(title_text="w₂ (weight of x₂)", row=1, col=2)
    return move_to_step(fig, run, land, paths, step=step)


def move_to_step(
    fig: go.Figure, run: Trajectory, land: Landscape, paths: Mapping[str, np.ndarray], *, step: int
) -> go.Figure:
    """Show state ``step`` of a :func:`scrub_figure` and the landscape slice ``land``, in place; returns ``fig``.

    The traces that move get that state's values (exactly, even between two
    frames of a long run) and the slider points at the last frame not after it.
    The frames themselves are left alone.
    """
    meta = fig.layout.meta
    traces, steps = meta["traces"], meta["frame_steps"]
    step = int(min(max(step, 0), run.num_steps))
    xs, ys, logits = logit_maps(run, [step], tuple(meta["bounds"]), int(meta["resolution"]))
    line, band = boundary_lines(xs, ys, logits[0])
    fig.data[traces["boundary"]].update(x=line["x"], y=line["y"])
    fig.data[traces["boundary"] + 1].update(x=band["x"], y=band["y"])
    for index, path in zip(traces["positions"], paths.values(), strict=True):
        s = min(step, len(path) - 1)
        fig.data[index].update(x=[float(path[s, 0])], y=[float(path[s, 1])])
    ax, ay = _arrow(run, step)
    fig.data[traces["arrow"]].update(x=ax, y=ay)
    fig.data[traces["landscape"]].update(
        x=land.w1s,
        y=land.w2s,
        z=np.log10(np.maximum(land.loss, 1e-12)).astype(np.float32),
        customdata=land.loss.astype(np.float32),
    )
    m1, m2 = land.argmin
    fig.data[traces["landscape"] + 1].update(x=[m1], y=[m2])
    fig.update_xaxes(range=[float(land.w1s[0]), float(land.w1s[-1])], row=1, col=2)
    fig.update_yaxes(range=[float(land.w2s[0]), float(land.w2s[-1])], row=1, col=2)
    fig.layout.sliders[0].active = int(np.searchsorted(steps, step, side="right") - 1)
    return fig
