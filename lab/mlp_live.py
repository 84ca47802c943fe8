"""Lab 2's Play mode: train in time slices and draw cheap pictures between them.

Playground animates every neuron while it trains. Here the page alternates
:func:`play_slice` (whole epochs for about ``seconds``) with one
:func:`frame` — the network drawing with every neuron's map, the output map
and the loss curves as small PNG/JPEG data URIs — so drawing costs a few
milliseconds and never starves the training (``bench/bench_mlp.py`` measures
frames per second and epochs per second against the bare loop). Data URIs
carry the picture inside the message: no media files pile up in a long run.

Colours follow Playground and the data points: **blue = negative / class 0,
orange = positive / class 1**, white = 0 (P = 0.5 for the output).

:func:`network_picture` is also the interactive drawing's background
(``lab.mlp_figures.network_figure`` puts hover/click targets on top), so Play
and Pause show the same picture.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from lab.device import single_thread
from lab.figures import CLASS_COLORS, data_uri
from lab.mlp_model import linear_layers

#: One Play frame lasts about this long: TRAIN_SHARE of it trains, the rest draws (≥ 4 redraws a second).
FRAME_SECONDS = 0.25
TRAIN_SHARE = 0.9

NEG = (31, 119, 180)  # CLASS_COLORS[0], blue: negative values, class 0
POS = (255, 127, 14)  # CLASS_COLORS[1], orange: positive values, class 1
WHITE = (255, 255, 255)
DEAD = (170, 170, 170)  # a link whose weight is exactly 0 (L1 clipped it)


def _rgb(color: str) -> tuple[int, int, int]:
    c = color.lstrip("#")
    return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)


def _lut() -> np.ndarray:
    t = np.linspace(-1.0, 1.0, 511)[:, None]
    neg, pos, white = (np.array(c, dtype=np.float64) for c in (NEG, POS, WHITE))
    return np.round(np.where(t < 0, white + (-t) * (neg - white), white + t * (pos - white))).astype(np.uint8)


_LUT = _lut()  # 511 colours from −1 (blue) through 0 (white) to +1 (orange)


def diverging(values: np.ndarray, bound: float) -> np.ndarray:
    """Values → RGB uint8 on Playground's scale: −bound blue, 0 white, +bound orange (clipped; NaN white)."""
    bound = bound if math.isfinite(bound) and bound > 0 else 1.0
    v = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0.0, posinf=bound, neginf=-bound)
    index = np.clip(np.rint((v / bound + 1.0) * 255.0), 0, 510).astype(np.intp)
    return _LUT[index]


#: The same scale as a plotly colorscale (for heatmaps with hover).
PLOTLY_DIVERGING = [[0.0, "rgb(31,119,180)"], [0.5, "rgb(255,255,255)"], [1.0, "rgb(255,127,14)"]]


def map_image(m: np.ndarray, *, centre: float = 0.0, bound: float | None = None) -> np.ndarray:
    """One map (H, W) with row 0 at the *bottom* → RGB (H, W, 3), image row 0 at the top.

    Each map on its own symmetric scale around ``centre`` unless ``bound`` is
    given; a constant map is light grey (darker when the constant is not 0).
    """
    m = np.asarray(m, dtype=np.float64)[::-1] - centre
    if np.ptp(m) < 1e-9 and bound is None:
        return np.full((*m.shape, 3), 235 if abs(float(m.flat[0])) < 1e-9 else 200, dtype=np.uint8)
    b = bound if bound is not None else float(np.nanmax(np.abs(m))) if np.isfinite(m).any() else 1.0
    return diverging(m, b)


def upscale(rgb: np.ndarray, size: int) -> np.ndarray:
    """An RGB tile enlarged to ``size``² with visible cells (nearest neighbour)."""
    return np.asarray(Image.fromarray(rgb).resize((size, size), Image.Resampling.NEAREST))


# --- the network drawing --------------------------------------------------------------------------


@dataclass(frozen=True)
class NetworkPicture:
    """The network as an image, and where its parts are (pixels, y down)."""

    image: np.ndarray  # (H, W, 3) uint8
    nodes: list[tuple[float, float, int, int]]  # (x, y, column, unit): column 0 = inputs, last = output
    links: list[tuple[float, float, int, int, int, float]]  # (x, y, layer, to, source, w) at the link's middle
    tile: int  # side of a neuron tile in pixels


def _layout(sizes: Sequence[int], width: int, max_height: int) -> tuple[int, int, float]:
    tallest = max(sizes)
    tile = int(np.clip((max_height - 24) / tallest * 0.78, 10, 44))
    gap = max(3, int(tile * 0.28))
    height = min(max_height, max(tile * 3, tallest * (tile + gap) + 24))
    return tile, height, gap


def network_picture(
    weights: Sequence[np.ndarray],
    maps: Sequence[np.ndarray],
    *,
    width: int = 820,
    max_height: int = 440,
) -> NetworkPicture:
    """Draw an MLP Playground-style: ``weights[l]`` (out, in); ``maps[c]`` (units, H, W) RGB-ready images.

    ``maps[c][j]`` is the (H, W, 3) uint8 picture of unit ``j`` in column ``c``
    (inputs, hidden layers, output). Links are coloured by sign (orange > 0,
    blue < 0), as wide and as opaque as |w| relative to the largest weight, and
    dotted grey when the weight is exactly 0 (a dead link).
    """
    sizes = [weights[0].shape[1]] + [w.shape[0] for w in weights]
    tile, height, gap = _layout(sizes, width, max_height)
    margin_x = tile // 2 + 6
    n_cols = len(sizes)
    xs = [margin_x + c * (width - 2 * margin_x) / max(1, n_cols - 1) for c in range(n_cols)]

    def pos(c: int, j: int) -> tuple[float, float]:
        return xs[c], height / 2 + (j - (sizes[c] - 1) / 2) * (tile + gap)

    canvas = Image.new("RGBA", (width, height), (255, 255, 255, 255))
    overlay = Image.new("RGBA", (width, height), (255, 255, 255, 0))
    draw = ImageDraw.Draw(overlay)
    w_max = max((float(np.abs(w[np.isfinite(w)]).max()) for w in weights if np.isfinite(w).any()), default=1.0)
    w_max = w_max or 1.0
    links = []
    dense = max(a * b for a, b in itertools.pairwise(sizes))
    thin = 1.0 if dense <= 64 else 0.6
    for layer, W in enumerate(weights):
        for j in range(W.shape[0]):
            for i in range(W.shape[1]):
                w = float(W[j, i])
                (x0, y0), (x1, y1) = pos(layer, i), pos(layer + 1, j)
                x0, x1 = x0 + tile / 2, x1 - tile / 2
                links.append(((x0 + x1) / 2, (y0 + y1) / 2, layer, j, i, w))
                if not math.isfinite(w):
                    continue
                if w == 0.0:
                    _dotted(draw, (x0, y0), (x1, y1), (*DEAD, 255))
                    continue
                s = abs(w) / w_max
                color = POS if w > 0 else NEG
                draw.line(
                    [(x0, y0), (x1, y1)],
                    fill=(*color, int(255 * (0.25 + 0.75 * s))),
                    width=max(1, round(thin * (1 + 5 * s))),
                )
    canvas = Image.alpha_composite(canvas, overlay).convert("RGB")
    nodes = []
    for c, n in enumerate(sizes):
        for j in range(n):
            x, y = pos(c, j)
            nodes.append((x, y, c, j))
            left, top = round(x - tile / 2), round(y - tile / 2)
            if c < len(maps) and j < len(maps[c]):
                tile_img = Image.fromarray(maps[c][j]).resize((tile, tile), Image.Resampling.NEAREST)
                canvas.paste(tile_img, (left, top))
            ImageDraw.Draw(canvas).rectangle([left - 1, top - 1, left + tile, top + tile], outline=(80, 80, 80))
    return NetworkPicture(np.asarray(canvas), nodes, links, tile)


def _dotted(draw: ImageDraw.ImageDraw, a: tuple[float, float], b: tuple[float, float], fill) -> None:
    length = math.dist(a, b)
    steps = max(1, int(length // 6))
    for k in range(0, steps, 2):
        t0, t1 = k / steps, min(1.0, (k + 1) / steps)
        draw.line(
            [
                (a[0] + (b[0] - a[0]) * t0, a[1] + (b[1] - a[1]) * t0),
                (a[0] + (b[0] - a[0]) * t1, a[1] + (b[1] - a[1]) * t1),
            ],
            fill=fill,
            width=1,
        )


def neuron_tiles(grid, task: str) -> list[list[np.ndarray]]:
    """Every unit's map as an RGB image, per column (inputs, hidden layers, output) — ``grid`` a ``GridOutputs``."""
    columns = [[map_image(m) for m in grid.inputs]]
    columns += [[map_image(m) for m in layer] for layer in grid.hidden]
    if task == "regression":
        columns.append([map_image(m) for m in grid.output])
    elif grid.output.shape[0] == 1:
        columns.append([map_image(grid.output[0], centre=0.5, bound=0.5)])
    else:
        columns.append(
            [map_image(m, centre=1.0 / len(grid.output), bound=1 - 1.0 / len(grid.output)) for m in grid.output]
        )
    return columns


# --- output map and curves -------------------------------------------------------------------------


def output_picture(
    output: np.ndarray,
    bounds: tuple[float, float, float, float],
    X: np.ndarray,
    y: np.ndarray,
    *,
    task: str = "classification",
    size: int = 320,
    X_test: np.ndarray | None = None,
    y_test: np.ndarray | None = None,
) -> np.ndarray:
    """The output map with the points, as RGB: the same colours as the interactive map.

    Binary: P(y=1) from blue (0) through white (0.5) to orange (1). Multi-class:
    each class's colour mixed by its probability. Regression: the prediction on
    the blue–white–orange scale around 0. Train points filled, test hollow.
    """
    if task == "regression":
        bound = float(max(np.abs(output).max(), np.abs(y).max(), 1e-9))
        background = diverging(output[0][::-1], bound)
    elif output.shape[0] == 1:
        background = diverging(output[0][::-1] - 0.5, 0.5)
    else:
        colors = np.array([_rgb(CLASS_COLORS[k % len(CLASS_COLORS)]) for k in range(output.shape[0])], dtype=float)
        mixed = np.einsum("khw,kc->hwc", output[:, ::-1], colors)
        background = np.clip(0.55 * mixed + 0.45 * 255, 0, 255).astype(np.uint8)
    img = Image.fromarray(background).resize((size, size), Image.Resampling.BILINEAR).convert("RGBA")
    points = _points_layer(X, y, X_test, y_test, bounds, size, task, bound if task == "regression" else 1.0)
    return np.asarray(Image.alpha_composite(img, points).convert("RGB"))


_POINTS_CACHE: dict[tuple, Image.Image] = {}


def _points_layer(X, y, X_test, y_test, bounds, size: int, task: str, bound: float) -> Image.Image:
    """The points as a transparent RGBA layer, drawn once per dataset and size (Play redraws only the map)."""
    key = (
        task,
        size,
        tuple(round(b, 6) for b in bounds),
        round(bound, 6),
        hashlib.sha1(np.ascontiguousarray(X).tobytes() + np.ascontiguousarray(y).tobytes()).hexdigest(),
        None if X_test is None else hashlib.sha1(np.ascontiguousarray(X_test).tobytes()).hexdigest(),
    )
    if key in _POINTS_CACHE:
        return _POINTS_CACHE[key]
    layer = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    x0, x1, y0, y1 = bounds
    for pts, labels, hollow in ((X, y, False), (X_test, y_test, True)):
        if pts is None or len(pts) == 0:
            continue
        px = (pts[:, 0] - x0) / (x1 - x0) * (size - 1)
        py = (1 - (pts[:, 1] - y0) / (y1 - y0)) * (size - 1)
        for a, b, label in zip(px, py, labels, strict=True):
            if task == "regression":
                color = tuple(int(v) for v in diverging(np.array([label]), bound)[0])
            else:
                color = _rgb(CLASS_COLORS[int(label) % len(CLASS_COLORS)])
            box = (a - 3, b - 3, a + 3, b + 3)
            if hollow:
                draw.ellipse(box, fill="white", outline=color, width=2)
            else:
                draw.ellipse(box, fill=color, outline="white")
    if len(_POINTS_CACHE) > 32:
        _POINTS_CACHE.clear()
    _POINTS_CACHE[key] = layer
    return layer


@functools.lru_cache(maxsize=1)
def _font() -> ImageFont.ImageFont:
    return ImageFont.load_default()


def curves_picture(
    series: dict[str, Sequence[float]],
    *,
    width: int = 320,
    height: int = 110,
    y_range: tuple[float, float] | None = None,
) -> np.ndarray:
    """A small line chart (Playground's sparkline): ``{"train": [...], "test": [...]}``, test drawn lighter."""
    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)
    values = [v for s in series.values() for v in s if math.isfinite(v)]
    if values:
        lo, hi = y_range if y_range is not None else (min(0.0, min(values)), max(values) * 1.05 or 1.0)
        hi = hi if hi > lo else lo + 1.0
        for k, (_name, s) in enumerate(series.items()):
            n = len(s)
            if n < 2:
                continue
            pts = [
                (4 + (width - 8) * t / (n - 1), height - 14 - (height - 20) * (min(max(v, lo), hi) - lo) / (hi - lo))
                for t, v in enumerate(s)
                if math.isfinite(v)
            ]
            draw.line(pts, fill=(40, 40, 40) if k == 0 else (150, 150, 150), width=2 if k == 0 else 1)
        draw.text(
            (4, height - 12),
            " · ".join(f"{name} {s[-1]:.3f}" for name, s in series.items() if s),
            fill="black",
            font=_font(),
        )
    draw.rectangle([0, 0, width - 1, height - 1], outline=(200, 200, 200))
    return np.asarray(img)


# --- play ---------------------------------------------------------------------------------------------


def slice_seconds(last_draw_s: float) -> float:
    """How long the next training slice runs (wall clock): a frame's share, or longer when drawing got slow."""
    return max(FRAME_SECONDS * TRAIN_SHARE, last_draw_s * TRAIN_SHARE / (1.0 - TRAIN_SHARE))


def play_slice(
    trainer,
    seconds: float,
    max_epochs: int | None = None,
    *,
    last_draw_cpu: float = 0.0,
    pause: Callable[[], object] | None = None,
) -> int:
    """Train whole epochs for about ``seconds`` (at least one, at most ``max_epochs``); returns how many ran.

    The slice also lasts until this thread has spent 4× ``last_draw_cpu`` (the
    last frame's CPU time) on training: on a loaded machine, where the wall-clock
    slice buys little CPU, the frame rate drops instead of the training share
    (training keeps ≥ ``TRAIN_SHARE`` of the thread's CPU time). ``pause()`` runs before
    every epoch (a shared server lets other sessions' reruns go first there, ``lab.scheduler``).
    """
    start = trainer.epoch
    deadline = time.perf_counter() + seconds
    cpu_needed = time.thread_time() + last_draw_cpu * TRAIN_SHARE / (1.0 - TRAIN_SHARE)

    def done() -> bool:
        if pause is not None:
            pause()
        return trainer.epoch > start and time.perf_counter() >= deadline and time.thread_time() >= cpu_needed

    trainer.train(max_epochs if max_epochs is not None else 10**9, should_stop=done)
    return trainer.epoch - start


@dataclass(frozen=True)
class Frame:
    """One redraw while playing: three pictures as data URIs."""

    network: str
    output: str
    curves: str


def frame(trainer, *, show_test: bool = True, resolution: int = 32) -> Frame:
    """The pictures of the current state, cheap enough for several redraws a second."""
    with single_thread():  # microsecond-sized ops: thread hand-offs would cost more than the maths
        grid = trainer.grid_outputs(resolution)
    data = trainer.data
    weights = [layer.weight.detach().cpu().numpy() for layer in linear_layers(trainer.model)]
    picture = network_picture(weights, neuron_tiles(grid, data.task))
    out = output_picture(
        grid.output,
        data.bounds(),
        data.X_train,
        data.y_train,
        task=data.task,
        X_test=data.X_test if show_test else None,
        y_test=data.y_test if show_test else None,
    )
    h = trainer.history.metrics
    curves = curves_picture(
        {"train loss": h.get("loss", []), "test loss": h.get("test_loss", [])}, width=400, height=300
    )
    return Frame(data_uri(picture.image, "JPEG"), data_uri(out, "JPEG"), data_uri(curves, "JPEG"))
