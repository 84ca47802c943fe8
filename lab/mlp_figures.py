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
from PIL import Image

from lab.figures import CLASS_COLORS, add_points, layout, plane_axes

NEGATIVE, POSITIVE = CLASS_COLORS[0], CLASS_COLORS[1]  # Playground: blue < 0 (class 0), orange > 0 (class 1)


def neuron_images(maps: np.ndarray, *, size: int = 72) -> list[np.ndarray]:
    """Maps (N, H, W) with row 0 at the *bottom* (y up) → N RGB uint8 images, upscaled to ``size``.

    Playground's colours, each map on its own scale: blue < 0 < orange, white at
    0 (:func:`lab.mlp_live.map_image`); a constant map is light grey.
    """
    from lab.mlp_live import map_image

    return [
        np.asarray(Image.fromarray(map_image(m)).resize((size, size), Image.Resampling.NEAREST))
        for m in np.asarray(maps, dtype=np.float64)
    ]


def output_preview(
    output: np.ndarray,
    bounds: tuple[float, float, float, float],
    X: np.ndarray,
    y: np.ndarray,
    *,
    task: str = "classification",
    size: int = 360,
) -> np.ndarray:
    """A cheap RGB picture of the output map with the points (see :func:`lab.mlp_live.output_picture`)."""
    from lab.mlp_live import output_picture

    return output_picture(output, bounds, X, y, task=task, size=size)


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
    width: int = 820,
) -> go.Figure:
    """Draw an MLP: ``weights[l]`` (out, in) and ``biases[l]`` (out,) per linear layer.

    The picture is :func:`lab.mlp_live.network_picture` (the same one Play
    animates), laid on equal-aspect axes so tiles stay square; invisible markers
    on every neuron (``customdata`` = [column, unit]) and on every link's middle
    ([layer, to, from, w]) give hover text and click targets. ``thumbnails[c][j]``
    (RGB uint8) is unit ``j`` of column ``c`` (0 = inputs, last = output).
    """
    from lab.mlp_live import network_picture

    sizes = [weights[0].shape[1]] + [w.shape[0] for w in weights]
    maps = thumbnails or [[np.full((4, 4, 3), 240, np.uint8)] * n for n in sizes]
    pic = network_picture(weights, maps, width=width)
    H, W = pic.image.shape[:2]
    fig = go.Figure()
    fig.add_layout_image(
        source=Image.fromarray(pic.image),
        xref="x",
        yref="y",
        x=0,
        y=0,
        sizex=W,
        sizey=H,
        sizing="stretch",
        layer="below",
    )
    kinds = {"weight > 0": POSITIVE, "weight < 0": NEGATIVE, "dead link (w = 0)": "#aaaaaa"}
    present = {"weight > 0" if w > 0 else ("weight < 0" if w < 0 else "dead link (w = 0)") for *_, w in pic.links}
    for name, color in kinds.items():  # legend entries only (the links are in the picture)
        if name in present:
            fig.add_trace(
                go.Scatter(
                    x=[None],
                    y=[None],
                    mode="lines",
                    name=name,
                    line={"color": color, "width": 3, "dash": "dot" if "dead" in name else "solid"},
                )
            )
    fig.add_trace(
        go.Scatter(
            x=[lk[0] for lk in pic.links],
            y=[lk[1] for lk in pic.links],
            mode="markers",
            marker={"size": 9, "color": "rgba(0,0,0,0)"},
            customdata=[[lk[2], lk[3], lk[4], lk[5]] for lk in pic.links],
            text=[
                f"w = {lk[5]:+.4g}{' (dead link)' if lk[5] == 0 else ''}<br>"
                f"{_node_name(lk[2], lk[4], input_labels)} → {_node_name(lk[2] + 1, lk[3], input_labels)}"
                "<br>click to edit"
                for lk in pic.links
            ],
            hovertemplate="%{text}<extra></extra>",
            showlegend=False,
            name="links",
        )
    )
    node_text = []
    for _, _, c, j in pic.nodes:
        if c == 0:
            node_text.append(f"input {input_labels[j]}<br>click to enlarge")
        else:
            node_text.append(
                f"{_node_name(c, j, input_labels)}<br>bias b = {float(biases[c - 1][j]):+.4g}<br>click to enlarge"
            )
    fig.add_trace(
        go.Scatter(
            x=[n[0] for n in pic.nodes],
            y=[n[1] for n in pic.nodes],
            mode="markers",
            marker={"symbol": "square", "size": pic.tile * 0.9, "color": "rgba(0,0,0,0)"},
            customdata=[[n[2], n[3]] for n in pic.nodes],
            text=node_text,
            hovertemplate="%{text}<extra></extra>",
            name="neurons",
            showlegend=False,
        )
    )
    labels = list(layer_labels) or ["inputs"] + [f"hidden {c}" for c in range(1, len(sizes) - 1)] + ["output"]
    col_x = sorted({n[0] for n in pic.nodes})
    fig.update_xaxes(range=[0, W], tickvals=col_x, ticktext=labels, showgrid=False, zeroline=False, constrain="domain")
    fig.update_yaxes(range=[H, 0], visible=False, showgrid=False, scaleanchor="x", constrain="domain")
    fig.update_layout(plot_bgcolor="white", clickmode="event+select", dragmode=False)
    return layout(fig, title, height=int(H * 0.72) + 90)  # about the picture at 1000–1400 px wide


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
    from lab.mlp_live import PLOTLY_DIVERGING

    values = np.concatenate([pred.ravel(), y_train.ravel()])
    bound = float(np.abs(values[np.isfinite(values)]).max()) if np.isfinite(values).any() else 1.0
    scale = {"colorscale": PLOTLY_DIVERGING, "zmid": 0.0, "zmin": -bound, "zmax": bound}
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
                    "colorscale": PLOTLY_DIVERGING,
                    "cmin": scale["zmin"],
                    "cmax": scale["zmax"],
                    "line": {"color": "black", "width": 0.8},
                },
                hovertemplate=f"{label}: y = %{{marker.color:.3f}}<br>(%{{x:.2f}}, %{{y:.2f}})<extra></extra>",
            )
        )
    plane_axes(fig, xs, ys)
    return layout(fig, title, "x₁", "x₂", height)


def binary_map(
    xs: np.ndarray,
    ys: np.ndarray,
    prob: np.ndarray,
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray | None = None,
    y_test: np.ndarray | None = None,
    *,
    title: str = "Output P(y = 1 | x)",
    discretize: bool = False,
    height: int | None = 420,
) -> go.Figure:
    """Binary output in the points' colours (as Playground): P(y=1) blue (class 0) → white (0.5) → orange (class 1).

    ``prob`` (H, W) over the grid; the p = 0.5 boundary drawn black; train
    points filled, test hollow; ``discretize`` paints hard 0/1 regions.
    """
    from lab.mlp_live import PLOTLY_DIVERGING

    prob = np.asarray(prob, dtype=np.float64)
    z = (prob >= 0.5).astype(np.float64) if discretize else prob
    fig = go.Figure(
        go.Heatmap(
            x=xs,
            y=ys,
            z=z,
            zmin=0.0,
            zmax=1.0,
            colorscale=PLOTLY_DIVERGING,
            opacity=0.75,
            showscale=False,  # as Playground: the colours are the points' (blue class 0, orange class 1)
            customdata=prob,
            hovertemplate="x₁ %{x:.2f}, x₂ %{y:.2f}<br>P(y=1) %{customdata:.3f}<extra></extra>",
            name="P(y = 1 | x)",
            showlegend=False,
        )
    )
    if np.nanmin(prob) < 0.5 < np.nanmax(prob):
        fig.add_trace(
            go.Contour(
                x=xs,
                y=ys,
                z=prob,
                contours={"start": 0.5, "end": 0.5, "size": 1, "coloring": "none"},
                line={"color": "black", "width": 2},
                showscale=False,
                hoverinfo="skip",
                name="boundary p = 0.5",
            )
        )
    add_points(fig, X_train, y_train, X_test, y_test)
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
                customdata=s.activation_mean if what == "activation" else None,
                hovertemplate=f"{s.label}<br>layer %{{x}}: std %{{y:.3g}}"
                + (", mean %{customdata:.3g}" if what == "activation" else "")
                + "<extra></extra>",
            )
        )
    fig.update_yaxes(type="log", exponentformat="power")
    fig.update_xaxes(dtick=1)
    title = "Forward: spread of each layer's outputs" if what == "activation" else "Backward: spread of ∂L/∂W"
    return layout(fig, title, "hidden layer", "standard deviation (log)", 340)


def weight_histograms(weights: dict[str, np.ndarray], zeros: dict[str, int], *, bins: int = 41) -> go.Figure:
    """Side by side: a histogram of all weights per run (``"none"``, ``"L1"``, ``"L2"``), exact zeros in the titles."""
    from plotly.subplots import make_subplots

    names = list(weights)
    bound = max(float(np.abs(w).max()) for w in weights.values()) or 1.0
    edges = np.linspace(-bound, bound, bins + 1)
    fig = make_subplots(
        rows=1,
        cols=len(names),
        shared_yaxes=True,
        subplot_titles=[f"{n}: {zeros[n]} of {len(weights[n])} exactly 0" for n in names],
    )
    for k, n in enumerate(names, start=1):
        counts, _ = np.histogram(weights[n], bins=edges)
        fig.add_trace(
            go.Bar(
                x=(edges[:-1] + edges[1:]) / 2,
                y=counts,
                width=edges[1] - edges[0],
                marker={"color": CLASS_COLORS[(k - 1) % len(CLASS_COLORS)]},
                name=n,
                hovertemplate="w ≈ %{x:.3f}: %{y} weights<extra></extra>",
            ),
            row=1,
            col=k,
        )
        fig.update_xaxes(title_text="weight", row=1, col=k)
    fig.update_layout(showlegend=False, bargap=0)
    fig.update_annotations(font={"size": 12})
    return layout(fig, "Weights after training, same start and batches", y_title="", height=320)
