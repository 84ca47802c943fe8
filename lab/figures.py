"""Plotly figure builders shared by several labs.

Every figure has a title, axis titles and (where there are several traces) a
legend. Colour scales follow one rule, :func:`scale_for`: data with both signs
get a diverging scale centred on 0 (blue negative, red positive); data of one
sign get a sequential scale (Viridis).

Grids of many feature maps are *not* plotly figures (64 maps as plotly JSON are
megabytes): :func:`colorize` turns maps into small RGB uint8 images that a page
sends as PNGs, and :func:`heatmap` shows one chosen map with hover values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache

import numpy as np
import plotly.graph_objects as go
from plotly.colors import sample_colorscale
from plotly.subplots import make_subplots

DIVERGING = "RdBu_r"  # blue < 0 < red, white at 0
SEQUENTIAL = "Viridis"
#: Class colours for scatter points (colour-blind-friendly, distinct from the heatmap scales).
CLASS_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")
FONT = {"size": 13}


def layout(fig: go.Figure, title: str, x_title: str = "", y_title: str = "", height: int | None = None) -> go.Figure:
    """The house style every figure ends with: title, axis titles, legend below, font, margins."""
    # Legends go below the plot, in container coordinates, so they never cover the
    # title or the data however narrow the column is. Entries line up in columns
    # wide enough for the longest name (~7 px a character at this font), so they
    # wrap and never overlap; rows are counted for a ~390 px wide legend.
    names = [t.name for t in fig.data if t.name and getattr(t, "showlegend", None) is not False]
    entry_px = max(130, 40 + 7 * max((len(n) for n in names), default=0))
    legend_rows = -(-len(names) // max(1, 390 // entry_px))
    fig.update_layout(
        title={"text": title, "x": 0.0, "xanchor": "left"},
        font=FONT,
        margin={"l": 60, "r": 20, "t": 50, "b": 60 + 24 * legend_rows},
        legend={
            "orientation": "h",
            "yref": "container",
            "yanchor": "bottom",
            "y": 0.0,
            "xanchor": "left",
            "x": 0.0,
            "entrywidth": entry_px,
            "entrywidthmode": "pixels",
        },
        height=None if height is None else height + 24 * legend_rows,
    )
    if x_title:
        fig.update_xaxes(title_text=x_title)
    if y_title:
        fig.update_yaxes(title_text=y_title)
    return fig


def is_signed(values: np.ndarray, tol: float = 1e-12) -> bool:
    """True when the data have both clearly negative and clearly positive values."""
    values = np.asarray(values, dtype=np.float64)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return False
    scale = max(float(np.abs(finite).max()), tol)
    return bool(finite.min() < -1e-6 * scale and finite.max() > 1e-6 * scale)


def scale_for(values: np.ndarray, signed: bool | None = None) -> dict:
    """Plotly colour-scale keywords for ``values``: diverging around 0 or sequential."""
    signed = is_signed(values) if signed is None else signed
    if signed:
        finite = np.asarray(values, dtype=np.float64)
        finite = finite[np.isfinite(finite)]
        bound = float(np.abs(finite).max()) if finite.size else 1.0
        return {"colorscale": DIVERGING, "zmid": 0.0, "zmin": -bound, "zmax": bound}
    return {"colorscale": SEQUENTIAL}


def heatmap(
    z: np.ndarray,
    title: str,
    *,
    x_title: str = "x (pixel column)",
    y_title: str = "y (pixel row)",
    colorbar_title: str = "value",
    signed: bool | None = None,
    hover: np.ndarray | None = None,
    height: int | None = None,
) -> go.Figure:
    """One 2D array as a heatmap with hover values, image orientation (row 0 on top).

    ``hover`` (same shape as ``z``, strings) replaces the default hover text,
    e.g. to list the patch values and the sum behind one convolution output.
    """
    z = np.asarray(z, dtype=np.float64)
    trace = go.Heatmap(
        z=z,
        colorbar={"title": {"text": colorbar_title}},
        hovertemplate="row %{y}, col %{x}<br>value %{z:.4g}<extra></extra>"
        if hover is None
        else "%{text}<extra></extra>",
        text=hover,
        **scale_for(z, signed),
    )
    fig = go.Figure(trace)
    fig.update_yaxes(autorange="reversed", scaleanchor="x", constrain="domain")
    fig.update_xaxes(constrain="domain")
    return layout(fig, title, x_title, y_title, height)


@lru_cache(maxsize=4)
def _lut(scale: str) -> np.ndarray:
    """A 256-entry uint8 RGB lookup table sampled from a plotly colour scale."""
    colors = sample_colorscale(scale, list(np.linspace(0.0, 1.0, 256)), colortype="tuple")
    return np.clip(np.round(np.array(colors) * 255.0), 0, 255).astype(np.uint8)


def data_uri(rgb: np.ndarray, fmt: str = "PNG") -> str:
    """An ``(H, W, 3)`` uint8 image as a ``data:`` URI for a plotly image or layout image.

    PNG for flat drawings and maps, JPEG (quality 90) for smooth pictures redrawn
    several times a second. A PNG with at most 256 colours (maps coloured through
    :func:`colorize`'s lookup table always are) is written with a palette: exact,
    and about half the bytes of an RGB PNG.
    """
    import base64
    import io

    from PIL import Image

    buf = io.BytesIO()
    if fmt == "JPEG":
        Image.fromarray(np.ascontiguousarray(rgb)).save(buf, format="JPEG", quality=90)
    else:
        packed = (rgb[..., 0].astype(np.uint32) << 16) | (rgb[..., 1].astype(np.uint32) << 8) | rgb[..., 2]
        colours, index = np.unique(packed, return_inverse=True)
        if colours.size <= 256:
            pil = Image.fromarray(index.reshape(packed.shape).astype(np.uint8), mode="P")
            rgb_palette = np.stack([colours >> 16, (colours >> 8) & 255, colours & 255], axis=-1)
            pil.putpalette(rgb_palette.astype(np.uint8).ravel())
        else:
            pil = Image.fromarray(np.ascontiguousarray(rgb))
        pil.save(buf, format="PNG")
    return f"data:image/{fmt.lower()};base64,{base64.b64encode(buf.getvalue()).decode()}"


def colorize(
    maps: np.ndarray,
    *,
    normalise: str = "each",
    signed: bool | None = None,
) -> list[np.ndarray]:
    """Feature maps ``(N, H, W)`` (or one ``(H, W)``) → list of ``(H, W, 3)`` uint8 images.

    ``normalise="each"`` scales every map on its own (see each map's pattern);
    ``"global"`` uses one scale for all (compare strengths). Signed data use the
    diverging scale symmetric around 0; one-signed data use min–max + Viridis.
    """
    maps = np.asarray(maps, dtype=np.float64)
    if maps.ndim == 2:
        maps = maps[None]
    maps = np.nan_to_num(maps, nan=0.0, posinf=0.0, neginf=0.0)
    signed = is_signed(maps) if signed is None else signed
    lut = _lut(DIVERGING if signed else SEQUENTIAL)
    axes = (1, 2) if normalise == "each" else None
    if signed:
        bound = np.abs(maps).max(axis=axes, keepdims=True)
        unit = 0.5 + 0.5 * maps / np.where(bound > 0, bound, 1.0)
    else:
        lo = maps.min(axis=axes, keepdims=True)
        span = maps.max(axis=axes, keepdims=True) - lo
        unit = (maps - lo) / np.where(span > 0, span, 1.0)
    index = np.clip(np.round(unit * 255.0), 0, 255).astype(np.uint8)
    return list(lut[index])


def image_grid(
    images: Sequence[np.ndarray],
    title: str,
    *,
    titles: Sequence[str] | None = None,
    cols: int = 4,
    height_per_row: int = 200,
) -> go.Figure:
    """A small grid of RGB/grayscale images (uint8 arrays) as one plotly figure.

    For a handful of images (≤ 16) with captions; for dozens of feature maps use
    :func:`colorize` and send PNGs instead.
    """
    n = len(images)
    cols = max(1, min(cols, n))
    rows = max(1, -(-n // cols))
    fig = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=list(titles) if titles else None,
        horizontal_spacing=0.02,
        vertical_spacing=0.08,
    )
    for i, img in enumerate(images):
        arr = np.asarray(img)
        if arr.ndim == 2:
            arr = np.repeat(arr[..., None], 3, axis=2)
        fig.add_trace(go.Image(z=arr), row=i // cols + 1, col=i % cols + 1)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return layout(fig, title, height=60 + rows * height_per_row)


def line_chart(
    series: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    title: str,
    *,
    x_title: str = "step",
    y_title: str = "loss",
    log_y: bool = False,
    dashed: Sequence[str] = (),
    height: int | None = 360,
) -> go.Figure:
    """Curves ``{name: (x, y)}`` on shared axes with a unified hover (loss, accuracy…).

    Names listed in ``dashed`` are drawn dashed (e.g. the test/validation curve
    of a train/test pair).
    """
    fig = go.Figure()
    for i, (name, (x, y)) in enumerate(series.items()):
        fig.add_trace(
            go.Scatter(
                x=list(x),
                y=list(y),
                name=name,
                mode="lines",
                line={"dash": "dash" if name in dashed else "solid", "color": CLASS_COLORS[i % len(CLASS_COLORS)]},
                hovertemplate=f"{name}: %{{y:.4g}}<extra></extra>",
            )
        )
    fig.update_layout(hovermode="x unified", showlegend=True)
    if log_y:
        fig.update_yaxes(type="log")
    return layout(fig, title, x_title, y_title, height)


def loss_curves(
    steps: Sequence[float],
    train: Sequence[float],
    test: Sequence[float] | None = None,
    *,
    title: str = "Loss during training",
    y_title: str = "loss",
    x_title: str = "step",
    log_y: bool = False,
) -> go.Figure:
    """Train (solid) and test (dashed) curves of one metric."""
    series = {"train": (steps, train)}
    if test is not None:
        series["test"] = (steps, test)
    return line_chart(series, title, x_title=x_title, y_title=y_title, log_y=log_y, dashed=("test",))


def add_points(
    fig: go.Figure,
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray | None = None,
    y_test: np.ndarray | None = None,
) -> None:
    """Scatter the 2D points by class: train filled, test hollow (one legend entry each)."""
    for X, y, label, hollow in ((X_train, y_train, "train", False), (X_test, y_test, "test", True)):
        if X is None or len(X) == 0:
            continue
        for cls in np.unique(y):
            mask = y == cls
            color = CLASS_COLORS[int(cls) % len(CLASS_COLORS)]
            fig.add_trace(
                go.Scatter(
                    x=X[mask, 0],
                    y=X[mask, 1],
                    mode="markers",
                    name=f"{label} · class {int(cls)}",
                    marker={
                        "size": 7,
                        "color": "white" if hollow else color,
                        "line": {"color": color if hollow else "white", "width": 1.5},
                    },
                    hovertemplate=f"{label}, class {int(cls)}<br>(%{{x:.2f}}, %{{y:.2f}})<extra></extra>",
                )
            )


def plane_axes(fig: go.Figure, xs: np.ndarray, ys: np.ndarray) -> None:
    """Axes of a map over the (x₁, x₂) plane: the grid's range, equal aspect, no empty margins."""
    fig.update_xaxes(range=[float(xs[0]), float(xs[-1])], constrain="domain")
    fig.update_yaxes(range=[float(ys[0]), float(ys[-1])], scaleanchor="x", constrain="domain")


def decision_map(
    xs: np.ndarray,
    ys: np.ndarray,
    prob: np.ndarray,
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray | None = None,
    y_test: np.ndarray | None = None,
    *,
    title: str = "Decision boundary",
    discretize: bool = False,
    colorbar_title: str = "P(y=1 | x)",
    x_title: str = "x₁",
    y_title: str = "x₂",
    height: int | None = 460,
) -> go.Figure:
    """Probability heatmap over a grid, the p = 0.5 boundary, and the data points.

    ``xs`` (W,), ``ys`` (H,) are the grid axes, ``prob`` (H, W) the model's
    P(y=1|x) there. Train points are filled circles; test points hollow.
    ``discretize`` shows hard 0/1 regions instead of probabilities.
    """
    prob = np.asarray(prob, dtype=np.float64)
    z = (prob >= 0.5).astype(np.float64) if discretize else prob
    fig = go.Figure(
        go.Heatmap(
            x=xs,
            y=ys,
            z=z,
            zmin=0.0,
            zmax=1.0,
            zmid=0.5,
            colorscale=DIVERGING,
            opacity=0.75,
            colorbar={
                "title": {"text": colorbar_title, "side": "right"},
                "thickness": 12,
            },  # thin: the map keeps the width
            hovertemplate="x₁ %{x:.2f}, x₂ %{y:.2f}<br>P(y=1) %{z:.3f}<extra></extra>",
        )
    )
    if np.nanmin(prob) < 0.5 < np.nanmax(prob):
        fig.add_trace(
            go.Contour(
                x=xs,
                y=ys,
                z=prob,
                showscale=False,
                contours={"start": 0.5, "end": 0.5, "size": 1, "coloring": "none"},
                line={"color": "black", "width": 2},
                name="boundary p = 0.5",
                hoverinfo="skip",
                showlegend=True,
            )
        )
    add_points(fig, X_train, y_train, X_test, y_test)
    plane_axes(fig, xs, ys)
    return layout(fig, title, x_title, y_title, height)
