"""The whole GoogLeNet at a glance (in the spirit of CNN Explainer): every stage from the photo to the logits.

:func:`overview` runs the network once on one photo and keeps, for every
top-level stage, a few small thumbnails of its strongest channels and its
tensor shape; every inception block is kept as its **four branches** (the
strongest channel of each). :func:`overview_figure` lays the stages out in two
rows, left to right, as one plotly figure whose thumbnails can be clicked:
each thumbnail carries the name of the layer (or ``block.branch``) it shows,
in :attr:`Overview.targets`, so a page can turn a click into a selection.

Like the rest of Lab 6 it runs the shared model through
:func:`lab.inception.run_network` under ``inference_mode`` (no hooks).
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image
from torch import nn

from lab.inception import BLOCKS, BRANCHES, SEQUENCE, Capture, run_network

THUMB = 40  # thumbnail side in pixels (PNG, nearest-neighbour so that small maps keep countable cells)
PER_LAYER = 3  # channels shown for a plain layer
BRANCH_SHORT = {"branch1": "1×1", "branch2": "3×3", "branch3": '"5×5"', "branch4": "pool"}
#: The stages drawn, in forward order (dropout is an identity at inference and is left out).
STAGES: tuple[str, ...] = ("input", *(s for s in SEQUENCE if s != "dropout"))


@dataclass(frozen=True)
class Thumb:
    """One clickable thumbnail."""

    target: str  # what clicking it selects: "conv2", "inception4c.branch3", "input", "fc"
    label: str  # shown next to it, e.g. "ch 17" or '"5×5"'
    png: bytes  # THUMB×THUMB PNG


@dataclass
class Stage:
    """One column of the overview."""

    name: str  # "input", "conv1", "inception3a", …, "fc"
    shape: tuple[int, ...]  # tensor shape without the batch dim
    thumbs: list[Thumb] = field(default_factory=list)
    note: str = ""  # e.g. the top class under "fc"


@dataclass
class Overview:
    """Every stage for one photo; ``targets[i]`` is what the i-th clickable point selects."""

    stages: list[Stage]
    targets: list[str]


def _png(a: np.ndarray) -> bytes:
    """(h, w) float map (min-max scaled, Viridis-like grey-blue) or (h, w, 3) uint8 → THUMB×THUMB PNG bytes."""
    if a.ndim == 2:
        lo, hi = float(a.min()), float(a.max())
        g = (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)
        # a compact sequential ramp (dark blue → yellow) without matplotlib
        rgb = np.stack([g**1.5, 0.2 + 0.75 * g, 0.55 * (1 - g) + 0.1], axis=-1)
        a = (np.clip(rgb, 0, 1) * 255).astype(np.uint8)
    img = Image.fromarray(np.ascontiguousarray(a))
    resample = Image.Resampling.NEAREST if min(img.size) < THUMB else Image.Resampling.BILINEAR
    buf = io.BytesIO()
    img.resize((THUMB, THUMB), resample).save(buf, "PNG", optimize=False)
    return buf.getvalue()


def _strongest(A: torch.Tensor, k: int) -> list[int]:
    """Indices of the ``k`` channels of ``A`` (C, h, w) with the largest mean square activation."""
    energy = A.float().pow(2).mean(dim=(1, 2))
    return [int(i) for i in energy.argsort(descending=True)[:k]]


def overview(model: nn.Module, X: torch.Tensor, crop: np.ndarray, names: list[str], *, device: str = "cpu") -> Overview:
    """One forward pass → thumbnails and shapes of every stage for ``X`` (1, 3, H, W); ``crop`` the (H, W, 3) photo."""
    capture = Capture(layers=SEQUENCE, branches=BLOCKS)
    with torch.inference_mode():
        logits, acts = run_network(model, X.to(device), capture)
        probs = torch.softmax(logits.float(), dim=1)[0].cpu()
    stages: list[Stage] = [Stage("input", tuple(X.shape[1:]), [Thumb("input", "photo", _png(crop))])]
    for name in STAGES[1:]:
        out = acts[name][0]
        stage = Stage(name, tuple(out.shape))
        stages.append(stage)
        if name in BLOCKS:
            for b in BRANCHES:
                A = acts[f"{name}.{b}"][0]
                c = _strongest(A, 1)[0]
                stage.thumbs.append(Thumb(f"{name}.{b}", BRANCH_SHORT[b], _png(A[c].float().cpu().numpy())))
        elif name == "avgpool":  # (1024, 1, 1): the pooled vector as a 32×32 tile
            v = out.flatten().float().cpu().numpy()
            stage.thumbs.append(Thumb(name, "1024 values", _png(v.reshape(32, 32))))
        elif name == "fc":  # 1000 class probabilities as a 25×40 tile
            top = int(probs.argmax())
            stage.note = f"{names[top]} {float(probs[top]):.1%}"
            stage.thumbs.append(Thumb(name, "1000 classes", _png(probs.numpy().reshape(25, 40))))
        else:
            for c in _strongest(out, PER_LAYER):
                stage.thumbs.append(Thumb(name, f"ch {c}", _png(out[c].float().cpu().numpy())))
    targets = [t.target for s in stages for t in s.thumbs]
    return Overview(stages, targets)


def _uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def _short(name: str) -> str:
    return name.removeprefix("inception") if name.startswith("inception") else name


def overview_figure(ov: Overview, *, selected: str = "", per_row: int = 10):
    """The stages in two rows of ``per_row`` columns; thumbnails are layout images, clickable via one scatter.

    ``selected`` (a layer or ``block.branch``) is outlined. Point *i* of the
    scatter trace (curve 0) selects ``ov.targets[i]``.
    """
    import plotly.graph_objects as go

    from lab.figures import layout
    from lab.inception_figures import BRANCH_COLORS

    fig = go.Figure()
    xs, ys, hover = [], [], []
    images, annotations, shapes = [], [], []
    cell, row_h = 1.0, 6.2  # a thumbnail is 1×1 data units; a row of stages is row_h tall
    for k, stage in enumerate(ov.stages):
        col, row = k % per_row, k // per_row
        x0 = col * 1.6
        y_top = -row * row_h
        n = len(stage.thumbs)
        for t_i, thumb in enumerate(stage.thumbs):
            cx, cy = x0 + 0.5, y_top - 0.55 - t_i * 1.1
            images.append(
                {
                    "source": _uri(thumb.png),
                    "xref": "x",
                    "yref": "y",
                    "x": cx - cell / 2,
                    "y": cy + cell / 2,
                    "sizex": cell,
                    "sizey": cell,
                    "sizing": "stretch",
                    "layer": "below",
                }
            )
            xs.append(cx)
            ys.append(cy)
            hover.append(f"{thumb.target} · {thumb.label}<br>click to select")
            is_branch = "." in thumb.target
            color = BRANCH_COLORS[BRANCHES.index(thumb.target.split(".")[1])] if is_branch else "#888888"
            if thumb.target == selected or (selected and thumb.target.split(".")[0] == selected):
                color, width = "#d6336c", 3
            else:
                width = 1.5 if is_branch else 0.5
            shapes.append(
                {
                    "type": "rect",
                    "xref": "x",
                    "yref": "y",
                    "x0": cx - cell / 2,
                    "x1": cx + cell / 2,
                    "y0": cy - cell / 2,
                    "y1": cy + cell / 2,
                    "line": {"color": color, "width": width},
                }
            )
            if stage.name in BLOCKS:
                annotations.append(
                    {
                        "x": cx + cell / 2 + 0.02,
                        "y": cy,
                        "text": thumb.label,
                        "showarrow": False,
                        "xanchor": "left",
                        "font": {"size": 9},
                    }
                )
        bottom = y_top - 0.55 - (n - 1) * 1.1 - cell / 2
        title = _short(stage.name)
        annotations.append(
            {
                "x": x0 + 0.5,
                "y": y_top + 0.05,
                "text": f"<b>{title}</b>",
                "showarrow": False,
                "yanchor": "bottom",
                "font": {"size": 11},
            }
        )
        shape_text = "×".join(str(s) for s in stage.shape)
        annotations.append(
            {
                "x": x0 + 0.5,
                "y": bottom - 0.08,
                "text": shape_text,
                "showarrow": False,
                "yanchor": "top",
                "font": {"size": 9, "color": "#555"},
            }
        )
        if stage.note:
            annotations.append(
                {
                    "x": x0 + 0.5,
                    "y": bottom - 0.55,
                    "text": stage.note[:22],
                    "showarrow": False,
                    "yanchor": "top",
                    "font": {"size": 9, "color": "#d6336c"},
                }
            )
    fig.add_trace(
        go.Scatter(
            x=xs,
            y=ys,
            mode="markers",
            marker={"size": 26, "symbol": "square", "opacity": 0.01, "color": "#000"},
            hovertemplate="%{text}<extra></extra>",
            text=hover,
            showlegend=False,
        )
    )
    rows = -(-len(ov.stages) // per_row)
    fig.update_layout(images=images, annotations=annotations, shapes=shapes, dragmode=False, clickmode="event+select")
    fig.update_xaxes(visible=False, range=[-0.3, per_row * 1.6 - 0.1], fixedrange=True)
    fig.update_yaxes(visible=False, range=[-(rows * row_h) + 0.6, 0.8], fixedrange=True, scaleanchor="x")
    fig = layout(fig, "GoogLeNet on your photo, stage by stage", height=500)
    fig.update_layout(margin={"l": 10, "r": 10, "t": 50, "b": 10})
    return fig
