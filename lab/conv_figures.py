"""Figures for the convolution lab (plotly): the stepper, kernels, a zoomed map with hover, shift test, costs.

Built on ``lab.figures`` conventions: a title, axis titles, a legend where there
are several traces, and the sign-aware colour rule (:func:`lab.figures.scale_for`).
Whole feature maps go to the page as PNGs (``lab.figures.colorize``); plotly is
only used for small grids, one zoomed window with hover, and the selected map
as a picture under a grid of invisible click targets (:func:`clickable_map_figure`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from lab.architecture import Analysis
from lab.conv import HoverArithmetic, Steps
from lab.figures import CLASS_COLORS, colorize, data_uri, is_signed, layout, line_chart, scale_for
from lab.pooling import ShiftResult

HIGHLIGHT = "#d6336c"


def _fmt(v: float) -> str:
    return "" if not np.isfinite(v) else (f"{v:.0f}" if float(v).is_integer() else f"{v:.2f}")


def _annotated(
    z: np.ndarray, *, signed: bool | None = None, showscale: bool = False, name: str = "", size: int = 14
) -> go.Heatmap:
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
        textfont={"size": size},
        showscale=showscale,
        name=name,
        hovertemplate=f"{name} row %{{y}}, col %{{x}}: %{{z:.4g}}<extra></extra>",
        **scale,
    )


def _axes(row: int, col: int, n_cols: int = 2) -> tuple[str, str]:
    """Plotly's axis names ("x3", "y3") of subplot (row, col), 1-based, for shapes in frames."""
    n = (row - 1) * n_cols + col
    suffix = "" if n == 1 else str(n)
    return f"x{suffix}", f"y{suffix}"


def _rects(rows: list[int], cols: list[int], axes: tuple[str, str], **line) -> list[dict]:
    """One outlined square per (row, col) (dilated kernel taps are separate squares)."""
    xref, yref = axes
    style = {"color": HIGHLIGHT, "width": 3} | line
    return [
        {
            "type": "rect",
            "xref": xref,
            "yref": yref,
            "x0": c - 0.5,
            "x1": c + 0.5,
            "y0": r - 0.5,
            "y1": r + 0.5,
            "line": style,
        }
        for r in rows
        for c in cols
    ]


def _step_title(steps: Steps, index: int) -> str:
    step = steps.steps[index]
    return f"out[{step.row}, {step.col}] = Σ patch ⊙ kernel = {_fmt(step.total)}   (cell {index + 1} of {len(steps.steps)})"


def _step_frame_parts(steps: Steps, index: int, ring: list[dict]) -> tuple[list[go.Heatmap], list[dict]]:
    """The traces that change (products, output so far) and every shape, for cell ``index``."""
    step = steps.steps[index]
    out = np.full(steps.output.shape, np.nan)
    for s in steps.steps[: index + 1]:
        out[s.row, s.col] = s.total
    full = steps.output.numpy()
    products = _annotated(step.products.numpy(), signed=True, name="product", size=_font(step.products.shape[-1]))
    out_trace = _annotated(out, name="output", size=_font(max(full.shape)))
    scale = scale_for(full)
    if "zmin" in scale:
        out_trace.update(zmin=scale["zmin"], zmax=scale["zmax"], zmid=0.0)
    else:
        out_trace.update(zmin=float(full.min()), zmax=float(max(full.max(), full.min() + 1e-9)))
    shapes = _rects(step.rows, step.cols, _axes(1, 1)) + _rects([step.row], [step.col], _axes(2, 2)) + ring
    return [products, out_trace], shapes


def _step_frame(steps: Steps, index: int, ring: list[dict], name: str) -> dict:
    """Frame ``index`` as a plain dict: only what changes (products, output so far, outlines, title)."""
    step = steps.steps[index]
    out = [[None] * steps.output.shape[1] for _ in range(steps.output.shape[0])]
    for s in steps.steps[: index + 1]:
        out[s.row][s.col] = s.total
    products = [[round(float(v), 6) for v in row] for row in step.products]
    return {
        "name": name,
        "traces": [2, 3],
        "data": [
            {"type": "heatmap", "z": products, "text": [[_fmt(v) for v in row] for row in products]},
            {"type": "heatmap", "z": out, "text": [["" if v is None else _fmt(v) for v in row] for row in out]},
        ],
        "layout": {
            "shapes": _rects(step.rows, step.cols, _axes(1, 1)) + _rects([step.row], [step.col], _axes(2, 2)) + ring,
            "title": {"text": _step_title(steps, index)},
        },
    }


class FramedFigure(go.Figure):
    """A ``go.Figure`` whose animation frames stay plain dicts.

    Plotly validates every frame it holds as objects: 81 frames of the
    stepper cost seconds on a busy 2-core machine. These frames are built
    here from known-good values, so they skip that and are added when the
    figure is serialised (``st.plotly_chart`` and ``plotly.io`` call
    :meth:`to_dict`).
    """

    _raw_frames: list[dict] | None = None
    _raw_layout: dict | None = None

    def set_raw(self, frames: list[dict], layout_extra: dict) -> FramedFigure:
        """Attach the frames and extra layout entries (e.g. the animation's buttons and slider)."""
        self._raw_frames, self._raw_layout = frames, layout_extra
        return self

    def to_dict(self) -> dict:
        out = super().to_dict()
        out["frames"] = self._raw_frames or []
        out["layout"].update(self._raw_layout or {})
        return out


def _font(n: int) -> int:
    """Cell-label size that fits an n×n grid in a ~300 px panel."""
    return 14 if n <= 7 else 11 if n <= 9 else 9


def stepper_figure(steps: Steps, index: int) -> FramedFigure:
    """Four panels: the (padded) input with the patch outlined, the kernel, patch ⊙ kernel, the output so far.

    Every output cell is also a plotly frame: ▶ Play slides the kernel cell by
    cell in the browser (no server round trip); the slider under the figure
    scrubs. The figure opens at cell ``index``. Axes show whole cells only.
    """
    p = steps.geometry.padding
    n_r, n_c = steps.padded.shape
    k = steps.kernel.shape[-1]
    fig = make_subplots(
        rows=2,
        cols=2,
        horizontal_spacing=0.12,
        vertical_spacing=0.16,
        subplot_titles=(
            f"input{' (padded by ' + str(p) + ')' if p else ''}, the patch outlined",
            f"kernel ({k}×{k}, the same at every cell)",
            "patch ⊙ kernel (products)",
            "output so far",
        ),
        figure=FramedFigure(),
    )
    ring = []
    if p:  # the padding ring, dashed
        xref, yref = _axes(1, 1)
        ring.append(
            {
                "type": "rect",
                "xref": xref,
                "yref": yref,
                "x0": p - 0.5,
                "x1": n_c - p - 0.5,
                "y0": p - 0.5,
                "y1": n_r - p - 0.5,
                "line": {"color": "grey", "dash": "dash"},
            }
        )
    fig.add_trace(_annotated(steps.padded.numpy(), name="input", size=_font(max(n_r, n_c))), row=1, col=1)
    fig.add_trace(_annotated(steps.kernel.numpy(), name="kernel", size=_font(k)), row=1, col=2)
    (products, out_trace), shapes = _step_frame_parts(steps, index, ring)
    fig.add_trace(products, row=2, col=1)
    fig.add_trace(out_trace, row=2, col=2)
    for r in (1, 2):
        for c in (1, 2):
            fig.update_yaxes(
                autorange="reversed", scaleanchor=_axes(r, c)[0], constrain="domain", dtick=1, row=r, col=c
            )
            fig.update_xaxes(constrain="domain", dtick=1, row=r, col=c)
    fig.update_yaxes(title_text="row", row=1, col=1)
    fig.update_xaxes(title_text="column", row=1, col=1)
    fig = layout(fig, _step_title(steps, index), height=700)
    fig.update_layout(shapes=shapes)

    frames, slider_steps = [], []
    for i in range(len(steps.steps)):
        name = str(i + 1)
        frames.append(_step_frame(steps, i, ring, name))
        slider_steps.append(
            {
                "label": name,
                "method": "animate",
                "args": [[name], {"mode": "immediate", "frame": {"duration": 0, "redraw": True}}],
            }
        )
    fig.update_layout(margin={"b": 110})
    # Buttons and slider go in raw too: 81 validated slider steps would cost as much as the frames.
    controls = dict(
        updatemenus=[
            {
                "type": "buttons",
                "direction": "left",
                "x": 0.0,
                "y": -0.06,
                "xanchor": "left",
                "yanchor": "top",
                "showactive": False,
                "buttons": [
                    {
                        "label": "▶ Play",
                        "method": "animate",
                        "args": [
                            None,
                            {
                                "frame": {"duration": 700, "redraw": True},
                                "fromcurrent": True,
                                "transition": {"duration": 0},
                            },
                        ],
                    },
                    {
                        "label": "❚❚ Pause",
                        "method": "animate",
                        "args": [[None], {"mode": "immediate", "frame": {"duration": 0, "redraw": False}}],
                    },
                ],
            }
        ],
        sliders=[
            {
                "active": index,
                "x": 0.32,
                "len": 0.68,
                "y": -0.04,
                "yanchor": "top",
                "currentvalue": {"prefix": "cell "},
                "pad": {"t": 10},
                "steps": slider_steps,
            }
        ],
    )
    return fig.set_raw(frames, controls)


def kernel_figure(K: np.ndarray, title: str = "Kernel weights") -> go.Figure:
    """A small annotated k×k grid of weights (diverging scale when signed)."""
    K = np.asarray(K)
    trace = _annotated(K, showscale=True, name="weight")
    # Smaller numbers in bigger kernels so 7×7 cells do not overprint; short colour-bar ticks.
    trace.update(textfont={"size": 14 if K.shape[-1] <= 3 else 11 if K.shape[-1] <= 5 else 9})
    trace.update(colorbar={"tickformat": ".3g"})
    fig = go.Figure(trace)
    fig.update_yaxes(autorange="reversed", scaleanchor="x", constrain="domain", title_text="row", dtick=1)
    fig.update_xaxes(title_text="column", constrain="domain", dtick=1)
    return layout(fig, title, height=280)


# --- the feature map next to the photo, with the arithmetic on hover --------------------------------------------

NBSP = "\u00a0"  # hover labels collapse ordinary spaces; non-breaking ones keep columns aligned
#: Above this many numbers per grid, the hover lists per-channel sums instead of every product.
HOVER_MAX_TERMS = 49


def _cell(v: float) -> str:
    """A kernel weight as the hover writes patch values and products: signed, 2 decimals (equal widths below 10)."""
    return f"{v:+.2f}"


def hover_customdata(arith: HoverArithmetic) -> tuple[np.ndarray, str]:
    """``(customdata (h, w, n), hovertemplate)`` that spell out patch ⊙ kernel = products and the sum.

    Per cell, ``customdata`` holds the patch values, then the products, then
    the sum (or, for large C×k×k filters, each channel's partial sum, then the
    sum). The kernel is the same for every cell, so it is written into the
    template once instead of being sent per cell. The hover shows the map's own
    value (``%{z}``, from ``F.conv2d``) next to the sum, so a student can check
    they agree.
    """
    h, w, C, k, _ = arith.patches.shape
    head = "out[%{y}, %{x}] = <b>%{z:.4g}</b> (the map)<br>"
    terms = C * k * k
    if terms <= HOVER_MAX_TERMS:
        data = np.concatenate(
            [arith.patches.reshape(h, w, -1), arith.products.reshape(h, w, -1), arith.sums[..., None]], axis=-1
        )

        fmt = "+.2f"  # a sign on every number keeps the columns aligned (plotly's format has no fill character)
        lines = []
        names = ("R", "G", "B")
        for c in range(C):
            if C > 1:
                lines.append(f"channel {names[c] if c < 3 else c}:")
            for u in range(k):
                patch = " ".join(f"%{{customdata[{c * k * k + u * k + v}]:{fmt}}}" for v in range(k))
                kern = " ".join(_cell(float(arith.kernel[c, u, v])) for v in range(k))
                prod = " ".join(f"%{{customdata[{terms + c * k * k + u * k + v}]:{fmt}}}" for v in range(k))
                sep = f"{NBSP}⊙{NBSP}" if u == k // 2 else NBSP * 3
                eq = f"{NBSP}={NBSP}" if u == k // 2 else NBSP * 3
                lines.append(f"{patch}{sep}{kern}{eq}{prod}")
        labels = f"patch{NBSP * (6 * k - 3)}kernel{NBSP * (6 * k - 4)}products"
        body = f"{labels}<br>" + "<br>".join(lines)
        total = f"customdata[{2 * terms}]"
    else:
        data = np.concatenate([arith.products.sum(axis=(3, 4)), arith.sums[..., None]], axis=-1)
        body = "per-channel sums of patch ⊙ kernel:<br>" + " + ".join(
            f"{('R', 'G', 'B')[c] if c < 3 else c}: %{{customdata[{c}]:.4g}}" for c in range(C)
        )
        total = f"customdata[{C}]"
    template = f"{head}{body}<br>Σ products = <b>%{{{total}:.4g}}</b><extra></extra>"
    # float32 on the wire, like the map itself (plotly sends arrays as typed binary): half the bytes of float64.
    return data.astype(np.float32), template


def hover_figure(arith: HoverArithmetic, values: np.ndarray, title: str, *, signed: bool | None = None) -> go.Figure:
    """The input window (left) next to the same window of the feature map (right), pixels as squares.

    ``values (h, w)`` is the map's window as computed by ``F.conv2d``; hovering
    one of its cells shows the patch, the kernel, the products and their sum
    (:func:`hover_customdata`), all in the browser.
    """
    r0, r1, c0, c1 = arith.region
    C = arith.input_window.shape[0]
    top, left = arith.input_origin
    n_r, n_c = arith.input_window.shape[-2:]
    fig = make_subplots(
        rows=1,
        cols=2,
        horizontal_spacing=0.08,
        subplot_titles=("input pixels", "feature map (hover a cell)"),
    )
    rows_in, cols_in = list(range(top, top + n_r)), list(range(left, left + n_c))
    if C == 3:  # go.Image gets no name: it has no legend entry (lab.figures.layout reads showlegend of named traces)
        rgb = (np.clip(arith.input_window.transpose(1, 2, 0), 0, 1) * 255).round().astype(np.uint8)
        fig.add_trace(
            go.Image(z=rgb, x0=left, dx=1, y0=top, dy=1, hovertemplate="row %{y}, col %{x}<extra></extra>"),
            row=1,
            col=1,
        )
    else:
        fig.add_trace(
            go.Heatmap(
                z=arith.input_window[0],
                x=cols_in,
                y=rows_in,
                colorscale="gray",
                zmin=0.0,
                zmax=1.0,
                showscale=False,
                name="input",
                hovertemplate="input row %{y}, col %{x}: %{z:.3f}<extra></extra>",
            ),
            row=1,
            col=1,
        )
    customdata, template = hover_customdata(arith)
    fig.add_trace(
        go.Heatmap(
            z=values,
            x=list(range(c0, c1)),
            y=list(range(r0, r1)),
            customdata=customdata,
            hovertemplate=template,
            name="feature map",
            # A horizontal colour bar under the map leaves the width to the two panels (1000-px screens).
            colorbar={
                "orientation": "h",
                "thickness": 10,
                "len": 0.45,
                "x": 1.0,
                "xanchor": "right",
                "y": -0.22,
                "yanchor": "top",
                "tickformat": ".2g",
            },
            **scale_for(values, signed),
        ),
        row=1,
        col=2,
    )
    fig.update_yaxes(autorange="reversed", scaleanchor="x", constrain="domain", title_text="input row", row=1, col=1)
    fig.update_xaxes(constrain="domain", title_text="input column", row=1, col=1)
    fig.update_yaxes(autorange="reversed", scaleanchor="x2", constrain="domain", row=1, col=2)
    fig.update_xaxes(constrain="domain", title_text="output column", row=1, col=2)
    fig.update_layout(hoverlabel={"font": {"family": "monospace", "size": 12}, "align": "left"})
    fig = layout(fig, title, height=470)
    fig.update_layout(margin={"l": 50, "r": 10, "b": 110})
    return fig


def map_pictures(maps: np.ndarray) -> list[tuple[np.ndarray, bool]]:
    """``maps (N, H, W)`` → one ``(RGB uint8 image, signed)`` per map, each coloured by its own sign.

    A map with both signs gets the diverging scale (blue < 0 < red), a one-signed
    map (a blur) Viridis min→max: the choice is per map, so a filter bank mixing
    edges and blurs shows each correctly and the caption can say which.
    """
    out = []
    for m in np.asarray(maps):
        signed = is_signed(m)
        out.append((colorize(m[None], signed=signed)[0], signed))
    return out


def pixelated(img: np.ndarray, min_side: int = 240, max_side: int = 480) -> np.ndarray:
    """``img (H, W[, 3])`` made at least ``min_side`` px a side by repeating pixels (never interpolating).

    Browsers smooth an image they enlarge, which turns a 6×6 pooled map into a
    blur; sending whole-pixel blocks keeps every cell countable. Large images are
    subsampled to at most ``max_side`` (every n-th pixel, also never blended).
    """
    step, factor = pixel_scale(*img.shape[:2], min_side=min_side, max_side=max_side)
    img = img[::step, ::step]
    if factor > 1:
        img = np.repeat(np.repeat(img, factor, axis=0), factor, axis=1)
    return img


def pixel_scale(H: int, W: int, min_side: int = 240, max_side: int = 480) -> tuple[int, int]:
    """``(step, factor)`` of :func:`pixelated` for an ``H × W`` image: keep every ``step``-th pixel, then repeat
    each ``factor`` times. Displayed pixel ``j`` shows source pixel ``(j // factor) · step``."""
    step = max(1, -(-max(H, W) // max_side))
    h, w = -(-H // step), -(-W // step)
    factor = max(1, min(min_side // max(min(h, w), 1), max_side // max(h, w, 1)))
    return step, factor


#: At most this many click targets along the long side of the clickable map (one every 13 cells of a 510-cell map,
#: so a click lands within 6 cells of the one it picks: well inside the 24-cell window; the sliders move in steps
#: of 1 % of the map). Each target is an SVG point Chromium styles on every redraw: 64 a side (4,096) cost Lab 3
#: ~0.1 s a kernel change.
CLICK_TARGETS_PER_SIDE = 40
#: The trace of :func:`clickable_map_figure` that holds the click targets (the picture is trace 0).
CLICK_CURVE = 1


@dataclass(frozen=True)
class ClickTargets:
    """Invisible click targets over an ``H × W`` map: point ``i`` of the scatter is map cell ``(rows[i], cols[i])``."""

    rows: np.ndarray  # (n,) int32, map row of each target
    cols: np.ndarray  # (n,) int32, map column of each target
    spacing: int  # map cells between neighbouring targets, along both axes


def click_targets(H: int, W: int, per_side: int = CLICK_TARGETS_PER_SIDE) -> ClickTargets:
    """A grid of targets, ``spacing`` cells apart, every map cell at most ``spacing // 2`` cells from one.

    Plotly's heatmap and image traces do not fire Streamlit selections on a
    click; a scatter does, so the map gets a scatter of almost transparent
    points (the trick of ``lab.inception_overview``). Their count is bounded
    (``per_side``²), however large the map.
    """
    spacing = max(1, -(-max(H, W) // per_side))

    def spread(n: int) -> np.ndarray:  # one target in the middle of each of ⌈n / spacing⌉ equal bins
        count = -(-n // spacing)
        return np.unique(np.floor((np.arange(count) + 0.5) * n / count).astype(np.int32))

    rows, cols = np.meshgrid(spread(H), spread(W), indexing="ij")
    return ClickTargets(rows.ravel(), cols.ravel(), spacing)


def clicked_cell(point: Mapping, H: int, W: int) -> tuple[int, int] | None:
    """The map cell ``(row, col)`` of one point of a Streamlit selection on :func:`clickable_map_figure`.

    The targets sit at map coordinates (x = column, y = row), whatever the
    picture's downscale, so the point's ``x``/``y`` are the cell itself. Points
    of another trace, or without coordinates, give ``None``.
    """
    if point.get("curve_number", CLICK_CURVE) != CLICK_CURVE or point.get("x") is None or point.get("y") is None:
        return None
    return min(max(round(float(point["y"])), 0), H - 1), min(max(round(float(point["x"])), 0), W - 1)


def clickable_map_figure(
    picture: np.ndarray,
    region: tuple[int, int, int, int],
    title: str,
    *,
    max_side: int = 480,
    targets: ClickTargets | None = None,
) -> go.Figure:
    """The whole map ``picture (H, W, 3) uint8`` with the hover window ``region`` outlined, clickable anywhere.

    The picture travels as one PNG of at most ``max_side`` px a side
    (:func:`pixelated`: every n-th pixel, small maps as repeated blocks), laid
    out in map coordinates: displayed pixel ``j`` covers the ``step / factor``
    map cells it was taken from, so axes, outline and targets all count map
    rows and columns. Trace :data:`CLICK_CURVE` holds the click targets
    (:func:`click_targets`); :func:`clicked_cell` reads a selected point back.
    """
    H, W = picture.shape[:2]
    step, factor = pixel_scale(H, W, max_side=max_side)
    d = step / factor  # map cells per displayed pixel
    targets = targets or click_targets(H, W)
    r0, r1, c0, c1 = region
    fig = go.Figure(
        go.Image(
            source=data_uri(pixelated(picture, max_side=max_side)),
            x0=-0.5 + d / 2,
            dx=d,
            y0=-0.5 + d / 2,
            dy=d,
            hoverinfo="skip",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=targets.cols,
            y=targets.rows,
            mode="markers",
            marker={"size": 8, "symbol": "square", "opacity": 0.01, "color": "#000"},
            selected={"marker": {"opacity": 0.01}},
            unselected={"marker": {"opacity": 0.01}},
            hovertemplate="row %{y}, col %{x}: click to centre the window here<extra></extra>",
            showlegend=False,
        )
    )
    fig.add_shape(
        type="rect",
        x0=c0 - 0.5,
        x1=c1 - 0.5,
        y0=r0 - 0.5,
        y1=r1 - 0.5,
        line={"color": HIGHLIGHT, "width": 2},
    )
    fig.update_xaxes(range=[-0.5, W - 0.5], fixedrange=True, showgrid=False, zeroline=False, constrain="domain")
    fig.update_yaxes(
        range=[H - 0.5, -0.5],
        fixedrange=True,
        showgrid=False,
        zeroline=False,
        scaleanchor="x",
        constrain="domain",
    )
    # hoverdistance -1: the nearest target answers wherever the pointer is, so a click anywhere selects one.
    fig.update_layout(dragmode=False, clickmode="event+select", hovermode="closest", hoverdistance=-1)
    # Height for a ~330 px wide plot (a column at 1000–1400 px); the axes keep the map's aspect in any width.
    fig = layout(fig, title, "output column", "output row", height=min(max(round(330 * H / W), 160), 480) + 95)
    # Fixed margins, no automargin: Streamlit's theme turns it on, and then plotly draws the figure twice (the
    # second pass restyles every target again): 117 → 37 ms a redraw in Chromium with 1,600 targets.
    fig.update_layout(margin={"l": 55, "r": 10, "t": 40, "b": 55})
    fig.update_xaxes(automargin=False)
    fig.update_yaxes(automargin=False)
    return fig


def transpose_figure(X: np.ndarray, K: np.ndarray, Y: np.ndarray, stride: int, padding: int) -> go.Figure:
    """Input, kernel and the transposed convolution's output as annotated grids."""
    fig = make_subplots(
        rows=1,
        cols=3,
        column_widths=[0.27, 0.27, 0.46],
        horizontal_spacing=0.08,
        subplot_titles=("input", "kernel", f"output (stride {stride}, padding {padding})"),
    )
    for c, (z, name) in enumerate(((X, "input"), (K, "kernel"), (Y, "output")), start=1):
        fig.add_trace(_annotated(np.asarray(z), name=name, size=_font(max(np.asarray(z).shape))), row=1, col=c)
        fig.update_yaxes(autorange="reversed", scaleanchor=_axes(1, c, 3)[0], constrain="domain", dtick=1, row=1, col=c)
        fig.update_xaxes(constrain="domain", dtick=1, row=1, col=c)
    return layout(fig, "Transposed convolution: each input cell stamps input × kernel; overlaps add", height=340)


def shift_figure(result: ShiftResult, metric: str = "change") -> go.Figure:
    """Relative change (or correlation) of the maps vs the shift, before and after pooling."""
    shifts = [r.shift for r in result.rows]
    if metric == "change":
        series = {
            "before pooling": (shifts, [r.change_conv for r in result.rows]),
            "after pooling": (shifts, [r.change_pool for r in result.rows]),
        }
        y_title, title = "mean |Δ| / mean |map|", "Change of the map vs the shift"
    else:
        series = {
            "before pooling": (shifts, [r.corr_conv for r in result.rows]),
            "after pooling": (shifts, [r.corr_pool for r in result.rows]),
        }
        y_title, title = "correlation with the unshifted map", "Similarity of the map vs the shift"
    fig = line_chart(series, title, x_title="shift (px; the content moves up-left)", y_title=y_title, height=340)
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
