"""Lab 2's Play pictures: sizes, Playground's colours, dead links, and the training share of a frame."""

from __future__ import annotations

import base64
import io
import time

import numpy as np
from PIL import Image

from lab import mlp
from lab import mlp_figures as mf
from lab import mlp_live as live
from lab.figures import CLASS_COLORS


def _rgb(hex_color: str) -> tuple[int, int, int]:
    return tuple(int(hex_color[i : i + 2], 16) for i in (1, 3, 5))


def test_one_colour_rule_blue_negative_class_0_orange_positive_class_1():
    lo, mid, hi = live.diverging(np.array([-1.0, 0.0, 1.0]), 1.0)
    assert tuple(lo) == _rgb(CLASS_COLORS[0]) and tuple(mid) == (255, 255, 255) and tuple(hi) == _rgb(CLASS_COLORS[1])
    # the output P(y=1) map: 0 → class 0's colour, 1 → class 1's, as the points
    tile = live.map_image(np.array([[0.0, 1.0]]), centre=0.5, bound=0.5)
    assert tuple(tile[0, 0]) == _rgb(CLASS_COLORS[0]) and tuple(tile[0, 1]) == _rgb(CLASS_COLORS[1])
    xs = ys = np.linspace(-1, 1, 5)
    fig = mf.binary_map(xs, ys, np.full((5, 5), 0.7), np.zeros((2, 2)), np.array([0, 1]))
    assert [c[1] for c in fig.data[0].colorscale] == [c[1] for c in live.PLOTLY_DIVERGING]
    assert fig.data[0].showscale is False


def test_big_networks_stay_compact_with_square_tiles_and_dead_links_are_grey():
    weights = [np.random.default_rng(0).normal(size=(32, 2))] + [
        np.random.default_rng(k).normal(size=(32, 32)) for k in range(5)
    ]
    weights.append(np.zeros((1, 32)))  # every link into the output is dead (w = 0)
    tiles = [[np.full((8, 8, 3), 200, np.uint8)] * n for n in (2, 32, 32, 32, 32, 32, 32, 1)]
    pic = live.network_picture(weights, tiles)
    assert pic.image.shape[0] <= 440  # not a 2,000-px wall
    assert len(pic.nodes) == 2 + 6 * 32 + 1 and len(pic.links) == 64 + 5 * 1024 + 32
    x, y, *_ = next(n for n in pic.nodes if n[2] == 7)  # the output tile is square and where it says
    half = pic.tile // 2
    assert (
        pic.image[round(y) - half + 2 : round(y) + half - 2, round(x) - half + 2 : round(x) + half - 2] == 200
    ).all()
    dead = [lk for lk in pic.links if lk[2] == 6]
    assert all(lk[5] == 0 for lk in dead)
    fig = mf.network_figure(weights, [np.zeros(w.shape[0]) for w in weights], input_labels=["X₁", "X₂"])
    assert "dead link (w = 0)" in {t.name for t in fig.data}


def test_frame_is_three_small_pictures():
    t = mlp.Trainer.create(mlp.make_data(mlp.DataConfig("xor", n=200)), mlp.NetConfig(), mlp.TrainConfig())
    t.train(3)
    f = live.frame(t)
    for uri in (f.network, f.output, f.curves):
        assert uri.startswith("data:image/jpeg;base64,")
        img = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
        assert img.width >= 300 and len(uri) < 200_000


def test_play_slice_trains_whole_epochs_and_keeps_the_training_share_of_the_cpu():
    t = mlp.Trainer.create(mlp.make_data(mlp.DataConfig("circles", n=200)), mlp.NetConfig(), mlp.TrainConfig())
    assert live.play_slice(t, 0.0) == 1  # at least one epoch
    assert live.play_slice(t, 10.0, max_epochs=3) == 3  # never past a Train-N target
    c0 = time.thread_time()
    live.play_slice(t, 0.0, last_draw_cpu=0.05)  # a frame that cost 50 ms of CPU buys ≥ 9× that of training
    assert time.thread_time() - c0 >= 0.05 * live.TRAIN_SHARE / (1 - live.TRAIN_SHARE) * 0.99
    assert live.slice_seconds(0.0) == live.FRAME_SECONDS * live.TRAIN_SHARE
    pauses: list[int] = []  # a shared server's pause point (lab.scheduler) comes before every epoch
    first = t.epoch
    assert live.play_slice(t, 10.0, max_epochs=4, pause=lambda: pauses.append(t.epoch)) == 4
    assert pauses == [first, first + 1, first + 2, first + 3]
    assert live.slice_seconds(1.0) == 1.0 * live.TRAIN_SHARE / (1 - live.TRAIN_SHARE)
