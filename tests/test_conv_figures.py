"""lab.conv_figures: the clickable feature map (click targets, downscaled picture, clicks back to map cells)."""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import plotly.io
import pytest
from PIL import Image

from lab import conv, conv_figures


def _picture(H: int, W: int) -> np.ndarray:
    """An (H, W, 3) picture whose pixel (r, c) encodes its own position: red = r % 256, green = c % 256."""
    rows, cols = np.meshgrid(np.arange(H), np.arange(W), indexing="ij")
    return np.stack([rows % 256, cols % 256, (rows // 256) * 16 + cols // 256], axis=-1).astype(np.uint8)


def _shown(fig) -> np.ndarray:
    """The PNG the figure sends, decoded."""
    uri = fig.data[0].source
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).convert("RGB"))


def _point(fig, i: int) -> dict:
    """Target ``i`` as Streamlit reports a selected point (after the figure's JSON round trip)."""
    data = json.loads(plotly.io.to_json(fig, validate=False))["data"][conv_figures.CLICK_CURVE]
    x, y = (_typed(data[axis]) for axis in ("x", "y"))
    return {"curve_number": conv_figures.CLICK_CURVE, "point_index": i, "x": float(x[i]), "y": float(y[i])}


def _typed(values: list | dict) -> np.ndarray:
    """A plotly JSON array: a list, or a typed array ``{"dtype", "bdata"}`` (base64) as plotly.js receives it."""
    if isinstance(values, dict):
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=np.dtype(values["dtype"]))
    return np.asarray(values)


@pytest.mark.parametrize(("H", "W", "max_side"), [(382, 510, 480), (1022, 300, 480), (300, 1022, 128), (7, 13, 480)])
def test_click_targets_map_back_to_their_cells_on_a_downscaled_non_square_map(H, W, max_side):
    region = conv.zoom_region(H, W, 0.3, 0.7)
    targets = conv_figures.click_targets(H, W)
    fig = conv_figures.clickable_map_figure(_picture(H, W), region, "t", max_side=max_side, targets=targets)
    step, factor = conv_figures.pixel_scale(H, W, max_side=max_side)
    shown = _shown(fig)
    assert max(shown.shape[:2]) <= max(max_side, 240) and shown.shape[:2] == (
        -(-H // step) * factor,
        -(-W // step) * factor,
    )
    if max(H, W) > max_side:
        assert step > 1  # the full-resolution map is not sent
    assert (shown == conv_figures.pixelated(_picture(H, W), max_side=max_side)).all()  # exact colours, no blending

    # The picture is laid out in map coordinates: displayed pixel j's centre lies in the cells it was taken from.
    image = fig.data[0]
    for j in (0, 1, shown.shape[1] // 2, shown.shape[1] - 1):
        col = (j // factor) * step  # the source column of displayed column j
        centre = image.x0 + j * image.dx
        assert col - 0.5 <= centre < col - 0.5 + step and shown[0, j, 1] == col % 256
    for j in (0, shown.shape[0] - 1):
        row = (j // factor) * step
        centre = image.y0 + j * image.dy
        assert row - 0.5 <= centre < row - 0.5 + step and shown[j, 0, 0] == row % 256

    # Every target comes back as its own (row, col), inside the map; every cell is near a target.
    assert targets.rows.size <= conv_figures.CLICK_TARGETS_PER_SIDE**2
    for i in (0, 1, targets.rows.size // 3, targets.rows.size - 1):
        assert conv_figures.clicked_cell(_point(fig, i), H, W) == (targets.rows[i], targets.cols[i])
    assert targets.rows.min() >= 0 and targets.rows.max() < H and targets.cols.min() >= 0 and targets.cols.max() < W
    gaps_r = np.abs(np.arange(H)[:, None] - np.unique(targets.rows)[None]).min(axis=1)
    gaps_c = np.abs(np.arange(W)[:, None] - np.unique(targets.cols)[None]).min(axis=1)
    assert gaps_r.max() <= targets.spacing // 2 and gaps_c.max() <= targets.spacing // 2

    # The outline is the hover window, in map cells.
    r0, r1, c0, c1 = region
    (shape,) = fig.layout.shapes
    assert (shape.x0, shape.x1, shape.y0, shape.y1) == (c0 - 0.5, c1 - 0.5, r0 - 0.5, r1 - 0.5)
    assert tuple(fig.layout.xaxis.range) == (-0.5, W - 0.5) and tuple(fig.layout.yaxis.range) == (H - 0.5, -0.5)


@pytest.mark.parametrize(("H", "W"), [(382, 510), (1022, 300), (9, 40)])
def test_a_click_centres_the_window_on_the_clicked_cell(H, W):
    """Clicking target (r, c) sets the sliders to multiples of 0.01 whose window contains (r, c), near its middle."""
    targets = conv_figures.click_targets(H, W)
    fig = conv_figures.clickable_map_figure(_picture(H, W), (0, 1, 0, 1), "t", targets=targets)
    for i in range(0, targets.rows.size, max(1, targets.rows.size // 97)):
        row, col = conv_figures.clicked_cell(_point(fig, i), H, W)
        fy, fx = conv.center_fraction(row, H), conv.center_fraction(col, W)
        assert fy == round(fy, 2) and fx == round(fx, 2)  # what the 0.01-step sliders hold
        r0, r1, c0, c1 = conv.zoom_region(H, W, fy, fx)
        assert r0 <= row < r1 and c0 <= col < c1
        if H >= 24 and 12 + 6 <= row < H - 12 - 6:  # away from the border: within ±6 of the window's middle
            assert abs((r0 + r1) // 2 - row) <= 6


def test_center_fraction_reaches_every_cell_of_every_axis_this_lab_computes():
    for n in (1, 5, 24, 25, 128, 382, 510, 1024, 1030):
        for index in range(n):
            r0, r1, _, _ = conv.zoom_region(n, 1, conv.center_fraction(index, n), 0.0)
            assert r0 <= index < r1, (n, index)


def test_clicked_cell_ignores_other_traces_and_clamps():
    assert conv_figures.clicked_cell({"curve_number": 0, "x": 3, "y": 4}, 10, 10) is None
    assert conv_figures.clicked_cell({"curve_number": conv_figures.CLICK_CURVE}, 10, 10) is None
    assert conv_figures.clicked_cell({"curve_number": conv_figures.CLICK_CURVE, "x": 12.0, "y": -1}, 10, 20) == (0, 12)
    assert conv_figures.clicked_cell({"curve_number": conv_figures.CLICK_CURVE, "x": 99, "y": 99}, 10, 20) == (9, 19)


def test_clickable_map_sends_a_small_png_not_the_map():
    pic = _picture(1022, 1022)
    fig = conv_figures.clickable_map_figure(pic, (0, 24, 0, 24), "t", max_side=480)
    sent = plotly.io.to_json(fig, validate=False)
    assert len(sent) < 400_000  # a 1022×1022 RGB map is 3 MB raw
    assert fig.layout.dragmode is False and "select" in fig.layout.clickmode
