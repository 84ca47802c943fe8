"""Pictures of an MLP on 2D data: the network drawn with its neurons' maps, and output maps.

- :func:`network_figure` — Playground's picture: one column per layer, every neuron
  shows a thumbnail of its output over the plane, links coloured by the sign of
  the weight (blue −, orange/red +) and as wide as |w|; hover a link's midpoint for
  its value, a neuron for its bias.
- :func:`class_map` — multi-class output: each region tinted with its class colour,
  stronger where the network is more confident (per-class maps are PNGs via
  :func:`neuron_images`).
- :func:`regression_map` — the predicted surface with the points coloured by target.
- :func:`symmetry_chart` — the symmetry meter over training.
The binary output map is :func:`lab.figures.decision_map`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from PIL import Image, ImageDraw

from lab.figures import CLASS_COLORS, DIVERGING, add_points, colorize, layout, plane_axes, scale_for

NEGATIVE, POSITIVE = "#2166ac", "#d6604d"  # link colours: weight < 0, weight > 0


def neuron_images(maps: np.ndarray, *, size: int = 72) -> list[np.ndarray]:
    """Maps (N, H, W) with row 0 at the *bottom* (y up) → N RGB uint8 images, upscaled to ``size``.

    Signed maps (tanh, logits) use the diverging scale around 0; one-signed maps
    (sigmoid, ReLU) min–max + Viridis. Each map has its own scale.
    """
    maps = np.asarray(maps, dtype=np.float64)
    images = colorize(maps[:, ::-1, :], normalise="each")  # flip: image row 0 is the top
    flat = np.ptp(maps.reshape(len(maps), -1), axis=1) < 1e-9
    for img, is_flat, m in zip(images, flat, maps, strict=True):
        if is_flat:  # a constant map carries no picture: light grey, darker if the constant is not 0
            img[:] = 235 if abs(float(m.flat[0])) < 1e-9 else 200
    return [np.asarray(Image.fromarray(img).resize((size, size), Image.Resampling.NEAREST)) for img in images]


def output_preview(
    output: np.ndarray,
    bounds: tuple[float, float, float, float],
    X: np.ndarray,
    y: np.ndarray,
    *,
    task: str = "classification",
    size: int = 360,
) -> np.ndarray:
    """A cheap RGB picture of the output map with the points, for live updates while training.

    ``output`` (K, R, R) as in ``GridOutputs.output`` (row 0 = lowest y).
    A PNG of a few kB instead of a plotly figure (which costs far more to build
    and send): the page redraws it every half second during training, then shows
    the interactive figure when training stops.
    """
    if task == "regression":
        background = colorize(output[0][::-1], normalise="each", signed=True)[0]
    elif output.shape[0] == 1:
        background = colorize(output[0][::-1] - 0.5, normalise="global", signed=True)[0]
    else:
        colors = np.array(
            [_hex_rgb(CLASS_COLORS[k % len(CLASS_COLORS)]) for k in range(output.shape[0])], dtype=np.float64
        )
        mixed = np.einsum("khw,kc->hwc", output[:, ::-1], colors)
        background = np.clip(0.45 * mixed + 0.55 * 255, 0, 255).astype(np.uint8)
    img = Image.fromarray(background).resize((size, size), Image.Resampling.BILINEAR)
    draw = ImageDraw.Draw(img)
    x0, x1, y0, y1 = bounds
    px = (X[:, 0] - x0) / (x1 - x0) * (size - 1)
    py = (1 - (X[:, 1] - y0) / (y1 - y0)) * (size - 1)
    for a, b, label in zip(px, py, y, strict=True):
        fill = "black" if task == "regression" else CLASS_COLORS[int(label) % len(CLASS_COLORS)]
        draw.ellipse((a - 3, b - 3, a + 3, b + 3), fill=fill, outline="white")
    return np.asarray(img)


def legend_below(fig: go.Figure) -> go.Figure:
    """Move a figure's legend under the plot (narrow columns: a top legend covers the title)."""
    # In container coordinates (as lab.figures.layout does): a paper-relative y would put the legend off the
    # canvas whenever a figure already carries yref="container" (decision_map's train/test legend vanished).
    fig.update_layout(
        legend={"orientation": "h", "yref": "container", "yanchor": "bottom", "y": 0.0, "xanchor": "left", "x": 0.0},
        margin={"b": max(110, fig.layout.margin.b or 0)},
    )
    return fig


def _hex_rgb(color: str) -> tuple[int, int, int]:
    color = color.lstrip("#")
    return int(color[0:2], 16), int(color[2:4], 16), int(color[4:6], 16)


def network_figure(
    weights: Sequence[np.ndarray],
    biases: Sequence[np.ndarray],
    *,
    input_labels: Sequence[str],
    layer_labels: Sequence[str] = (),
    thumbnails: Sequence[Sequence[np.ndarray]] | None = None,
    title: str = "The network",
    height: int = 460,
) -> go.Figure:
    """Draw an MLP: ``weights[l]`` (out, in) and ``biases[l]`` (out,) per linear layer.

    ``thumbnails[c][j]`` (RGB uint8) is drawn inside node ``j`` of column ``c``
    (column 0 = inputs, last = output). Links: colour = sign of w, width ∝ |w|.
    """
    sizes = [weights[0].shape[1]] + [w.shape[0] for w in weights]
    n_cols = len(sizes)
    tallest = max(sizes)

    def pos(c: int, j: int) -> tuple[float, float]:
        return float(c), (sizes[c] - 1) / 2.0 - j  # centred column, top to bottom

    fig = go.Figure()
    w_max = max((float(np.abs(w).max()) for w in weights if w.size), default=1.0) or 1.0
    # Links grouped by sign and width bin: a handful of traces instead of one per link.
    bins: dict[tuple[bool, int], tuple[list, list]] = {}
    mid_x, mid_y, mid_text = [], [], []
    for layer, W in enumerate(weights):
        for j in range(W.shape[0]):
            for i in range(W.shape[1]):
                w = float(W[j, i])
                if not np.isfinite(w):
                    continue
                (x0, y0), (x1, y1) = pos(layer, i), pos(layer + 1, j)
                key = (None if w == 0 else w > 0, int(min(5, np.floor(6 * abs(w) / w_max))))
                xs, ys = bins.setdefault(key, ([], []))
                xs += [x0 + 0.18, x1 - 0.18, None]
                ys += [y0, y1, None]
                mid_x.append((x0 + x1) / 2)
                mid_y.append((y0 + y1) / 2)
                mid_text.append(
                    f"w = {w:+.4g}<br>{_node_name(layer, i, input_labels)} → {_node_name(layer + 1, j, input_labels)}"
                )
    shown = set()
    for (positive, b), (xs, ys) in sorted(bins.items(), key=lambda kv: (str(kv[0][0]), kv[0][1])):
        name = {True: "weight > 0", False: "weight < 0", None: "weight = 0"}[positive]
        color = {True: POSITIVE, False: NEGATIVE, None: "#bbbbbb"}[positive]
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="lines",
                line={"color": color, "width": 0.6 + 1.6 * b, "dash": "dot" if positive is None else "solid"},
                opacity=0.75,
                hoverinfo="skip",
                name=name,
                legendgroup=name,
                showlegend=name not in shown,
            )
        )
        shown.add(name)
    fig.add_trace(
        go.Scatter(
            x=mid_x,
            y=mid_y,
            mode="markers",
            marker={"size": 6, "color": "rgba(0,0,0,0)"},
            hovertemplate="%{text}<extra></extra>",
            text=mid_text,
            showlegend=False,
            name="weights",
        )
    )
    node_x, node_y, node_text = [], [], []
    for c, n in enumerate(sizes):
        for j in range(n):
            x, y = pos(c, j)
            node_x.append(x)
            node_y.append(y)
            if c == 0:
                node_text.append(f"input {input_labels[j]}")
            else:
                node_text.append(f"{_node_name(c, j, input_labels)}<br>bias b = {float(biases[c - 1][j]):+.4g}")
            if thumbnails is not None and c < len(thumbnails) and j < len(thumbnails[c]):
                fig.add_layout_image(
                    source=Image.fromarray(thumbnails[c][j]),
                    xref="x",
                    yref="y",
                    x=x - 0.17,
                    y=y + 0.36,
                    sizex=0.34,
                    sizey=0.72,
                    sizing="stretch",
                    layer="above",
                )
    fig.add_trace(
        go.Scatter(
            x=node_x,
            y=node_y,
            mode="markers",
            marker={
                "symbol": "square",
                "size": 34,
                "color": "rgba(240,240,240,1)",
                "line": {"color": "#555", "width": 1},
            },
            hovertemplate="%{text}<extra></extra>",
            text=node_text,
            name="neurons",
            showlegend=False,
        )
    )
    labels = list(layer_labels) or ["inputs"] + [f"hidden {c}" for c in range(1, n_cols - 1)] + ["output"]
    fig.update_xaxes(
        tickvals=list(range(n_cols)),
        ticktext=labels,
        range=[-0.5, n_cols - 0.5],
        showgrid=False,
        zeroline=False,
        title_text="layer",
    )
    fig.update_yaxes(visible=False, range=[-(tallest / 2) - 0.1, tallest / 2 + 0.1], showgrid=False)
    fig.update_layout(plot_bgcolor="white")
    return layout(fig, title, height=max(height, 60 * tallest + 120))


def _node_name(c: int, j: int, input_labels: Sequence[str]) -> str:
    return input_labels[j] if c == 0 else f"neuron {j + 1} of layer {c}"


def class_map(
    xs: np.ndarray,
    ys: np.ndarray,
    probs: np.ndarray,
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray | None = None,
    y_test: np.ndarray | None = None,
    *,
    discretize: bool = False,
    title: str = "Predicted class",
    height: int | None = 460,
) -> go.Figure:
    """Multi-class output: ``probs`` (K, H, W) softmax over a grid; each region in its class colour.

    Colour strength is the winning probability (white = unsure); ``discretize``
    paints hard regions. Train points filled, test points hollow.
    """
    K = probs.shape[0]
    winner = probs.argmax(0)
    conf = probs.max(0)
    fig = go.Figure()
    hover = np.array(
        [
            [" · ".join(f"P({k})={probs[k, r, c]:.2f}" for k in range(K)) for c in range(probs.shape[2])]
            for r in range(probs.shape[1])
        ]
    )
    for k in range(K):
        z = np.where(winner == k, 1.0 if discretize else conf, np.nan)
        if np.isnan(z).all():
            continue
        r, g, b = _hex_rgb(CLASS_COLORS[k % len(CLASS_COLORS)])
        fig.add_trace(
            go.Heatmap(
                x=xs,
                y=ys,
                z=z,
                zmin=1.0 / K,
                zmax=1.0,
                colorscale=[[0, "rgb(255,255,255)"], [1, f"rgb({r},{g},{b})"]],
                opacity=0.55,
                showscale=False,
                text=hover,
                hovertemplate=f"x₁ %{{x:.2f}}, x₂ %{{y:.2f}}<br>class {k} wins<br>%{{text}}<extra></extra>",
                name=f"region of class {k}",
            )
        )
    add_points(fig, X_train, y_train, X_test, y_test)
    plane_axes(fig, xs, ys)
    return layout(fig, title, "x₁", "x₂", height)


def regression_map(
    xs: np.ndarray,
    ys: np.ndarray,
    pred: np.ndarray,
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray | None = None,
    y_test: np.ndarray | None = None,
    *,
    title: str = "Prediction ŷ(x)",
    height: int | None = 460,
) -> go.Figure:
    """Regression output: the prediction ``pred`` (H, W) as a diverging heatmap, points coloured by target."""
    values = np.concatenate([pred.ravel(), y_train.ravel()])
    scale = scale_for(values, signed=True)
    fig = go.Figure(
        go.Heatmap(
            x=xs,
            y=ys,
            z=pred,
            opacity=0.8,
            colorbar={"title": {"text": "ŷ"}},
            hovertemplate="x₁ %{x:.2f}, x₂ %{y:.2f}<br>ŷ %{z:.3f}<extra></extra>",
            name="prediction",
            **scale,
        )
    )
    for X, y, label, symbol in ((X_train, y_train, "train", "circle"), (X_test, y_test, "test", "circle-open")):
        if X is None or len(X) == 0:
            continue
        fig.add_trace(
            go.Scatter(
                x=X[:, 0],
                y=X[:, 1],
                mode="markers",
                name=f"{label} points (colour = target y)",
                marker={
                    "size": 7,
                    "symbol": symbol,
                    "color": y,
                    "colorscale": DIVERGING,
                    "cmin": scale["zmin"],
                    "cmax": scale["zmax"],
                    "line": {"color": "black", "width": 0.8},
                },
                hovertemplate=f"{label}: y = %{{marker.color:.3f}}<br>(%{{x:.2f}}, %{{y:.2f}})<extra></extra>",
            )
        )
    plane_axes(fig, xs, ys)
    return layout(fig, title, "x₁", "x₂", height)


def symmetry_chart(
    epochs: Sequence[int], gaps: Sequence[Sequence[float]], *, title: str = "Symmetry meter"
) -> go.Figure:
    """Per hidden layer, the largest pairwise difference between units' incoming weights, per epoch.

    ``gaps[t][l]`` at ``epochs[t]``. Zero means every unit of the layer is
    identical; drawn on a symlog-like scale (values below 1e-12 shown as 1e-12).
    """
    fig = go.Figure()
    gaps = np.asarray(gaps, dtype=np.float64).reshape(len(epochs), -1)
    for layer in range(gaps.shape[1]):
        fig.add_trace(
            go.Scatter(
                x=list(epochs),
                y=np.maximum(gaps[:, layer], 1e-12),
                customdata=gaps[:, layer],
                mode="lines",
                name=f"hidden layer {layer + 1}",
                line={"color": CLASS_COLORS[layer % len(CLASS_COLORS)]},
                hovertemplate=f"layer {layer + 1}: max difference %{{customdata:.3g}}<extra></extra>",
            )
        )
    fig.update_yaxes(type="log", exponentformat="power")
    fig.update_layout(hovermode="x unified", showlegend=True)
    return layout(fig, title, "epoch", "max |w_j − w_k| (log; 0 drawn at 1e-12)", 320)


def activation_figure(name: str, a0: float, *, show_slide_typo: bool = False, span: float = 6.0) -> go.Figure:
    """f(a) and f′(a) of activation ``name`` on [−span, span], the point (a0, f(a0)) and its tangent.

    Values come from :func:`lab.mlp_formulas.activation_by_hand` (tests check them
    against torch and autograd). ``show_slide_typo`` adds the slide's 1/(1+e^a).
    """
    from lab.mlp_formulas import ACTIVATION_NAMES, activation_by_hand, slide_sigmoid

    a = np.linspace(-span, span, 241)
    f, df = activation_by_hand(name, a)
    (f0,), (d0,) = activation_by_hand(name, np.array([a0]))
    label = ACTIVATION_NAMES[name]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=a, y=f, mode="lines", name=f"{label}(a)", line={"color": CLASS_COLORS[0], "width": 3}))
    fig.add_trace(
        go.Scatter(x=a, y=df, mode="lines", name=f"{label}′(a)", line={"color": CLASS_COLORS[1], "dash": "dash"})
    )
    if show_slide_typo:
        fig.add_trace(
            go.Scatter(
                x=a, y=slide_sigmoid(a), mode="lines", name="slide's 1/(1+eᵃ)", line={"color": "#999", "dash": "dot"}
            )
        )
    t = np.array([a0 - 1.5, a0 + 1.5])
    fig.add_trace(
        go.Scatter(
            x=t, y=f0 + d0 * (t - a0), mode="lines", name="tangent (slope f′)", line={"color": "#555", "width": 1}
        )
    )
    fig.add_trace(
        go.Scatter(
            x=[a0, a0],
            y=[f0, d0],
            mode="markers",
            marker={"size": 11, "color": [CLASS_COLORS[0], CLASS_COLORS[1]], "line": {"color": "black", "width": 1}},
            name=f"a = {a0:+.2f}",
            hovertemplate="%{y:.4f}<extra></extra>",
        )
    )
    lo = min(float(f.min()), float(df.min()), -0.1)
    hi = max(min(float(f.max()), 4.0), float(df.max()), 1.1)
    fig.update_yaxes(range=[lo - 0.1, hi + 0.1])
    fig.update_xaxes(range=[-span, span])
    return layout(fig, f"{label}: f(a) = {f0:.4f} and f′(a) = {d0:.4f} at a = {a0:+.2f}", "a", "value", 360)


def spread_figure(spreads: Sequence, *, what: str = "activation") -> go.Figure:
    """Per hidden layer, the std of the activations (``what="activation"``) or of ∂L/∂W (``"gradient"``)."""
    fig = go.Figure()
    for k, s in enumerate(spreads):
        values = s.activation_std if what == "activation" else s.grad_std
        fig.add_trace(
            go.Scatter(
                x=list(range(1, len(values) + 1)),
                y=np.maximum(values, 1e-30),
                mode="lines+markers",
                name=s.label,
                line={"color": CLASS_COLORS[k % len(CLASS_COLORS)]},
                hovertemplate=f"{s.label}<br>layer %{{x}}: std %{{y:.3g}}<extra></extra>",
            )
        )
    fig.update_yaxes(type="log", exponentformat="power")
    fig.update_xaxes(dtick=1)
    title = "Forward: spread of each layer's outputs" if what == "activation" else "Backward: spread of ∂L/∂W"
    return layout(fig, title, "hidden layer", "standard deviation (log)", 340)
