"""lab.figures: colour-scale rule, colourised maps, and that figures carry titles and labels."""

from __future__ import annotations

import numpy as np

from lab import figures
from lab.data2d import grid, make_dataset


def test_signed_data_get_a_diverging_scale_centred_on_zero():
    kw = figures.scale_for(np.array([[-2.0, 1.0], [0.5, 0.0]]))
    assert kw["colorscale"] == figures.DIVERGING and kw["zmid"] == 0.0
    assert kw["zmin"] == -2.0 and kw["zmax"] == 2.0
    assert figures.scale_for(np.array([0.0, 1.0, 3.0]))["colorscale"] == figures.SEQUENTIAL


def test_colorize_maps_zero_to_white_for_signed_data():
    maps = np.array([[[-1.0, 0.0, 1.0]]])
    (img,) = figures.colorize(maps)
    assert img.shape == (1, 3, 3) and img.dtype == np.uint8
    assert img[0, 1].min() > 230  # the middle of RdBu is (near) white
    assert img[0, 0, 2] > img[0, 0, 0]  # negative → blue
    assert img[0, 2, 0] > img[0, 2, 2]  # positive → red


def test_colorize_each_vs_global_normalisation():
    maps = np.stack([np.linspace(0, 1, 16).reshape(4, 4), np.linspace(0, 100, 16).reshape(4, 4)])
    each = figures.colorize(maps, normalise="each")
    glob = figures.colorize(maps, normalise="global")
    np.testing.assert_array_equal(each[0], each[1])  # same pattern, own scale
    assert not np.array_equal(glob[0], glob[1])  # one scale: the weak map is dark
    flat = figures.colorize(np.zeros((2, 3)))[0]  # constant map: no division by zero
    assert flat.shape == (2, 3, 3)


def test_heatmap_has_title_axes_and_hover():
    fig = figures.heatmap(np.random.default_rng(0).normal(size=(5, 6)), "Feature map", colorbar_title="activation")
    assert fig.layout.title.text == "Feature map"
    assert fig.layout.xaxis.title.text and fig.layout.yaxis.title.text
    assert fig.data[0].zmid == 0.0 and fig.layout.yaxis.autorange == "reversed"


def test_line_chart_and_loss_curves():
    fig = figures.loss_curves([1, 2, 3], [1.0, 0.5, 0.2], [1.1, 0.7, 0.6], title="Loss")
    assert [t.name for t in fig.data] == ["train", "test"]
    assert fig.data[1].line.dash == "dash"
    assert fig.layout.showlegend and fig.layout.xaxis.title.text == "step"


def test_decision_map_draws_boundary_and_points():
    data = make_dataset("circles", n=100, seed=1)
    xs, ys, pts = grid(data.bounds(), 30)
    prob = (np.hypot(pts[:, 0], pts[:, 1]) < 0.5).astype(float).reshape(30, 30) * 0.8 + 0.1
    fig = figures.decision_map(xs, ys, prob, data.X_train, data.y_train, data.X_test, data.y_test, title="Circles")
    names = [t.name for t in fig.data if t.name]
    assert "boundary p = 0.5" in names
    assert {"train · class 0", "train · class 1", "test · class 0", "test · class 1"} <= set(names)
    assert fig.layout.title.text == "Circles"


def test_image_grid_layout():
    imgs = [np.full((8, 8, 3), i * 40, np.uint8) for i in range(5)]
    fig = figures.image_grid(imgs, "Samples", titles=[f"#{i}" for i in range(5)], cols=3)
    assert len(fig.data) == 5 and fig.layout.height == 60 + 2 * 200
