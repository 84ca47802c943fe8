"""Lab 1's browser-side scrubbing figure, the losses it labels, and the link helpers, against references."""

from __future__ import annotations

import base64
import json

import numpy as np
import plotly.io as pio
import pytest
import torch

from lab import data2d, features, logistic
from lab.logistic import TrainConfig
from lab.logistic.scrub import boundary_lines, frame_steps, level_lines, logit_maps


@pytest.fixture(scope="module")
def overlap():
    return data2d.make_dataset("overlap", 200, 0.1, 0.7, seed=0)


def _decode(spec):
    """A plotly.js typed-array spec (or a plain list) back to numpy."""
    if isinstance(spec, dict):
        dtype = {"u1": np.uint8, "f4": np.float32, "f8": np.float64}[spec["dtype"]]
        return np.frombuffer(base64.b64decode(spec["bdata"]), dtype=dtype)
    return np.asarray(spec, dtype=np.float64)


def _points(x, y):
    x, y = _decode(x), _decode(y)
    keep = np.isfinite(x)
    return np.stack([x[keep], y[keep]], axis=1)


# --- tracing lines -------------------------------------------------------------------------------------


def test_level_lines_trace_a_straight_line_exactly():
    xs, ys = np.linspace(-1, 1, 2), np.linspace(-2, 2, 2)
    Z = 3 * xs[None, :] + 0.5 * ys[:, None] - 0.4  # a linear field on a 2×2 grid (row i is y)
    x, y = level_lines(xs, ys, Z, 0.0)
    pts = _points(x, y)
    assert len(pts) == 2 and np.isnan(x[-1])
    np.testing.assert_allclose(3 * pts[:, 0] + 0.5 * pts[:, 1] - 0.4, 0.0, atol=1e-6)


def test_level_lines_trace_a_circle():
    xs = ys = np.linspace(-1, 1, 60)
    Z = xs[None, :] ** 2 + ys[:, None] ** 2
    pts = _points(*level_lines(xs, ys, Z, 0.25))  # the circle of radius 0.5
    np.testing.assert_allclose(np.hypot(pts[:, 0], pts[:, 1]), 0.5, atol=2e-3)
    angles = np.sort(np.arctan2(pts[:, 1], pts[:, 0]))
    assert np.diff(angles).max() < 0.2  # all the way round


def test_frame_lines_are_where_the_model_says_one_half(overlap):
    feats = ("x1sq", "x2sq")
    run = logistic.train_dataset(overlap, feats, TrainConfig(num_steps=30))
    xs, ys, logits = logit_maps(run, [7], overlap.bounds(), 50)
    line, band = boundary_lines(xs, ys, logits[0])
    pts = _points(line["x"], line["y"])
    Phi = features.expand(torch.from_numpy(pts).double(), feats)
    p = torch.sigmoid(Phi @ torch.from_numpy(run.w[7]).double() + float(run.b[7]))
    np.testing.assert_allclose(p.numpy(), 0.5, atol=0.01)  # on the boundary P(y=1|x) = 0.5
    band_pts = _points(band["x"], band["y"])
    if len(band_pts):
        Phi = features.expand(torch.from_numpy(band_pts).double(), feats)
        p = torch.sigmoid(Phi @ torch.from_numpy(run.w[7]).double() + float(run.b[7])).numpy()
        assert np.all(np.minimum(abs(p - 0.1), abs(p - 0.9)) < 0.01)


# --- the figure: frames for every step, opened at the page's step ------------------------------------


def _spec(fig) -> dict:
    return json.loads(pio.to_json(fig.to_dict(), validate=False))  # what st.plotly_chart sends


def test_scrub_figure_has_a_frame_per_step_and_opens_at_the_step(overlap):
    run = logistic.train_dataset(overlap, (), TrainConfig(num_steps=60))
    land = logistic.landscape_around(overlap.X_train, overlap.y_train, run.w[9], float(run.b[9]), [run.w[:, :2]])
    spec = _spec(logistic.scrub_figure(run, overlap, land, {"gd": run.w[:, :2]}, step=9))
    assert [f["name"] for f in spec["frames"]] == [str(t) for t in range(61)]
    slider = spec["layout"]["sliders"][0]
    assert slider["active"] == 9 and len(slider["steps"]) == 61
    assert slider["steps"][9]["label"].startswith("9 of 60: train loss")
    assert all(s["args"][1]["frame"]["redraw"] is False for s in slider["steps"])  # the fast path: no replot
    traces = spec["layout"]["meta"]["traces"]
    (star,) = traces["positions"]
    for t in (0, 9, 33, 60):
        frame = spec["frames"][t]
        by_index = dict(zip(frame["traces"], frame["data"], strict=True))
        np.testing.assert_allclose(_points(by_index[star]["x"], by_index[star]["y"])[0], run.w[t, :2], rtol=1e-6)
        arrow = by_index[traces["arrow"]]
        if t < 60:  # the arrow is update t: from state t to state t + 1
            np.testing.assert_allclose(_points(arrow["x"], arrow["y"]), run.w[t : t + 2, :2], rtol=1e-6)
        else:
            assert arrow["x"] == []  # the last state has no next update
        line = _points(by_index[traces["boundary"]]["x"], by_index[traces["boundary"]]["y"])
        np.testing.assert_allclose(line @ run.w[t] + run.b[t], 0.0, atol=1e-4)  # w·x + b = 0
    # The figure's own traces show the opening step exactly as its frame does.
    np.testing.assert_allclose(spec["data"][star]["x"], [run.w[9, 0]], rtol=1e-6)


def test_moving_to_another_step_keeps_the_frames(overlap):
    run = logistic.train_dataset(overlap, (), TrainConfig(num_steps=40))
    paths = {"gd": run.w[:, :2]}
    land = logistic.landscape_around(overlap.X_train, overlap.y_train, run.w[4], float(run.b[4]), [run.w[:, :2]])
    fig = logistic.scrub_figure(run, overlap, land, paths, step=4)
    frames = _spec(fig)["frames"]
    logistic.move_to_step(fig, run, land, paths, step=31)
    spec = _spec(fig)
    assert spec["frames"] == frames and spec["layout"]["sliders"][0]["active"] == 31
    assert _spec(logistic.scrub_figure(run, overlap, land, paths, step=31))["data"] == spec["data"]


def test_long_runs_keep_every_kth_frame_plus_the_step():
    steps = frame_steps(2000, 777, max_frames=201)
    assert len(steps) <= 202 and steps[0] == 0 and steps[-1] == 2000 and 777 in steps
    assert list(frame_steps(50, 3)) == list(range(51))


def test_the_figure_is_small_enough_to_resend(overlap):
    feats = ("x1sq", "x2sq")
    run = logistic.train_dataset(overlap, feats, TrainConfig(num_steps=200))
    land = logistic.landscape_around(
        overlap.X_train, overlap.y_train, run.w[20], float(run.b[20]), [run.w[:, :2]], feature_names=feats
    )
    text = pio.to_json(logistic.scrub_figure(run, overlap, land, {"gd": run.w[:, :2]}, step=20).to_dict())
    assert len(text) < 2_500_000  # a curved boundary in 201 frames (a straight one is ~0.3 MB)


# --- the three losses ---------------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", logistic.REDUCTIONS)
@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_loss_parts_relate_the_metric_to_L(overlap, reduction, weight_decay):
    cfg = TrainConfig(
        num_steps=15, reduction=reduction, weight_decay=weight_decay, lr=0.01 if reduction == "sum" else 1
    )
    run = logistic.train_dataset(overlap, ("x1x2",), cfg)
    n = len(overlap.X_train)
    for t in (0, 6, 15):
        parts = logistic.loss_parts(run, t, n)
        check = logistic.check_gradient_on(overlap, ("x1x2",), run.w[t], float(run.b[t]), weight_decay, reduction)
        assert parts.objective == pytest.approx(check.loss, rel=1e-5)  # L of the maths section
        assert parts.objective == pytest.approx(float(run.objective[t]), rel=1e-5)  # what the optimiser lowered
        assert parts.mean_bce == pytest.approx(float(run.train_loss[t]))  # the metric
        scale = n if reduction == "sum" else 1
        assert parts.objective == pytest.approx(scale * parts.mean_bce + parts.l2, rel=1e-9)
    text = logistic.latex_loss_relation(logistic.loss_parts(run, 6, n))
    assert (r"N \cdot \bar\ell" in text) == (reduction == "sum") and (r"\lambda" in text) == (weight_decay > 0)


# --- link helpers ----------------------------------------------------------------------------------------


def test_opening_step_shows_an_update():
    assert logistic.opening_step(200) == 20
    assert logistic.opening_step(5) == 1 and logistic.opening_step(1) == 0 and logistic.opening_step(0) == 0
    for T in range(1, 300):
        assert 0 <= logistic.opening_step(T) < T  # never the last state: it has no next update


def test_step_from_link():
    assert logistic.step_from_link(None, 10) == (None, None)
    assert logistic.step_from_link("7", 10) == (7, None)
    for bad in ("11", "-1", "2.5", "abc", "nan", "[x](http://e.vil)"):
        step, problem = logistic.step_from_link(bad, 10)
        assert step is None and "step" in problem and bad not in problem


def test_old_feature_keys_are_upgraded():
    assert logistic.upgrade_link({"features": "x1^2,x2^2,sin_x1", "lr": "0.1"}) == {
        "lr": "0.1",
        "features": "x1sq,x2sq,sin1",
    }
    assert logistic.upgrade_link({"features": "x1sq"}) is None and logistic.upgrade_link({}) is None
    from lab import mlp

    assert set(features.FEATURES) - {"x1cube", "x2cube"} == set(mlp.FEATURES) - {"x1", "x2"}  # Lab 2's keys


def test_display_name_defuses_markdown():
    shown = logistic.display_name("![x](http://e.vil/a.png) `code` *b*.csv")
    for raw in ("![x](", "`code`", "*b*"):
        assert raw not in shown
    assert len(logistic.display_name("a" * 500)) <= 60
