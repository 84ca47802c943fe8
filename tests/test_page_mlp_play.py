"""AppTest: Lab 2's Play, settings while paused, the learning-rate ladder, and the new views (issues 14–16)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_page

SCRIPT = "app_pages/mlp.py"


def _epoch(at) -> int:
    return int(next(m.value for m in at.metric if m.label == "Epoch").replace(",", ""))


def _ok(at) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _numbers(at) -> str:
    return " ".join(m.value for m in at.markdown if "Train loss" in m.value)


def _play(at, seconds: float = 1.0):
    at.session_state["mlp.play_limit_s"] = seconds  # Play pauses itself after this long (a test cannot click Pause)
    at.button(key="mlp.play_pause").click().run()
    _ok(at)
    return at


def test_the_default_learning_rate_is_on_the_ladder_and_the_link_stays_clean():
    at = run_page(SCRIPT)
    _ok(at)
    slider = at.select_slider(key="mlp.train.lr")
    assert slider.value == 0.03
    assert [float(o) for o in slider.options] == [1e-05, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0]
    assert "lr" not in at.query_params  # no silent rewrite to ?lr=0.02
    at = run_page(SCRIPT, query={"lr": "3"})
    assert at.select_slider(key="mlp.train.lr").value == 3.0


def test_play_trains_and_pausing_keeps_the_state():
    at = _play(run_page(SCRIPT))
    played = _epoch(at)
    assert played > 0
    assert at.button(key="mlp.play_pause").label == "Play"  # paused again (limit reached), state kept
    at.run()
    assert _epoch(at) == played
    _play(at)
    assert _epoch(at) > played  # Play continues from where it stopped


def test_learning_rate_change_while_paused_applies_on_resume_and_architecture_resets():
    at = run_page(SCRIPT)
    next(b for b in at.button if b.label == "Step").click().run()
    assert _epoch(at) == 1
    at.select_slider(key="mlp.train.lr").set_value(0.3).run()
    _ok(at)
    assert _epoch(at) == 1  # same weights, new α
    trainer = at.session_state["mlp.trainer"]
    assert trainer.optimizer.param_groups[0]["lr"] == 0.3
    at.slider(key="mlp.layers.w1").set_value(5).run()
    _ok(at)
    assert _epoch(at) == 0  # a new architecture cannot keep the weights: a fresh network


def test_l1_counts_exact_zeros_and_the_drawing_shows_dead_links():
    at = run_page(SCRIPT, query={"l1": "0.05", "lr": "0.3", "num_epochs": "60", "w1": "8", "w2": "8"})
    at.button(key="mlp.train_button").click().run()
    _ok(at)
    text = _numbers(at)
    assert "exact zeros" in text
    zeros = int(text.split("exact zeros **")[1].split(" of")[0])
    assert zeros > 0
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    names = {t.get("name") for s in specs for t in s["data"]}
    assert "dead link (w = 0)" in names


def test_the_slides_two_sigma_readings_are_one_click_each():
    at = run_page(SCRIPT, query={"init": "normal"})
    next(b for b in at.button if b.label == "σ = 0.1").click().run()
    _ok(at)
    assert at.select_slider(key="mlp.init.normal.sigma").value == 0.1
    next(b for b in at.button if b.label == "σ = 0.01").click().run()
    assert at.select_slider(key="mlp.init.normal.sigma").value == 0.01


@pytest.mark.parametrize(
    "view",
    [
        "Neurons",
        "Replay",
        "Activations",
        "Formula & collapse",
        "Initialisation",
        "L1 vs L2",
        "Backprop",
        "Code & weights",
    ],
)
def test_every_view_renders(view):
    at = run_page(SCRIPT, query={"layers": "1", "w1": "3"})
    at.radio(key="mlp.view").set_value(view).run()
    _ok(at)
    if view == "Activations":
        assert any("e^{-a}" in x.value for x in at.latex)
        assert any("1/(1+eᵃ)" in c.value for c in at.caption)
    if view == "Formula & collapse":
        tex = " ".join(x.value for x in at.latex)
        assert "P(y{=}1 \\mid x)" in tex and "\\tanh\\bigl(" in tex  # the formula with the numbers
    if view == "Initialisation":
        tex = " ".join(x.value for x in at.latex)
        assert "fan\\_in} + \\text{fan\\_out}" in tex and "2}{\\text{fan\\_in}" in tex
        assert any("not zero-mean" in m.value for m in at.markdown)
    if view == "Backprop":
        assert any("2(ŷ − y)/N" in m.value for m in at.markdown)


def test_zero_init_does_not_claim_a_collapse_with_zero_difference():
    at = run_page(SCRIPT, query={"init": "zeros"})
    at.radio(key="mlp.view").set_value("Formula & collapse").run()
    _ok(at)
    assert not any("do **not** collapse" in i.value for i in at.info)
    assert any("not a collapse" in i.value for i in at.info)


def test_axes_do_not_mislead():
    at = run_page(SCRIPT, query={"num_epochs": "10", "lr": "0.00001"})
    at.button(key="mlp.train_button").click().run()
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    acc = next(s for s in specs if s["layout"]["title"]["text"] == "Accuracy")
    assert acc["layout"]["yaxis"]["range"] == [0, 1.02]  # not auto-zoomed to 0.495…0.505
    at = run_page(SCRIPT, query={"dataset": "plane", "num_epochs": "10", "lr": "0.01"})
    at.button(key="mlp.train_button").click().run()
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    lr = next(s for s in specs if s["layout"]["title"]["text"] == "Learning rate")
    low, high = lr["layout"]["yaxis"]["range"]
    assert low == 0 and 0.01 < high < 0.02  # 0.01 on a 0…0.0115 axis, not −1…1


def test_the_intro_uses_material_icons_not_unicode_media_glyphs():
    at = run_page(SCRIPT)
    text = " ".join(m.value for m in at.markdown) + " ".join(c.value for c in at.caption)
    assert "⏭" not in text and "▶" not in text


def test_l1_vs_l2_histograms_side_by_side():
    at = run_page(SCRIPT, query={"w1": "8", "w2": "8", "lr": "0.3"})
    at.radio(key="mlp.view").set_value("L1 vs L2").run()
    at.button(key="mlp.cmp_go").click().run()
    _ok(at)
    spec = next(json.loads(c.proto.spec) for c in at.get("plotly_chart") if "exactly 0" in c.proto.spec)
    titles = [a["text"] for a in spec["layout"]["annotations"]]
    l1 = next(t for t in titles if t.startswith("L1"))
    l2 = next(t for t in titles if t.startswith("L2"))
    assert not l1.startswith("L1: 0 of") and l2.startswith("L2: 0 of")


def test_regression_formula_shows_the_raw_output_without_sigma():
    # issue 14 audit: dataset=plane showed P(y=1|x) = σ(…) although the network outputs the raw ŷ (MSE)
    import numpy as np
    import torch

    from tests.test_mlp_formulas import _evaluate_latex

    at = run_page(SCRIPT, query={"dataset": "plane", "layers": "1", "w1": "3", "a1": "tanh"})
    at.radio(key="mlp.view").set_value("Formula & collapse").run()
    _ok(at)
    tex = [x.value.strip("$\n") for x in at.latex]
    numbers = next(t for t in tex if t.startswith(r"\hat y = ") and r"\tanh\bigl(" in t)
    assert tex[0].startswith(r"\hat y = \sum_j") and "no } \\sigma" in tex[0]  # the general formula
    assert not any("P(y" in t or r"\sigma\Bigl(" in t or r"\sigma\bigl(" in t for t in tex)
    model = at.session_state["mlp.trainer"].model
    X = np.array([[0.5, -0.2], [-0.8, 0.9], [0.1, 0.3]])
    with torch.no_grad():
        y_hat = model(torch.as_tensor(X, dtype=torch.float32).to(next(model.parameters()).device)).cpu().numpy()[:, 0]
    for x, y in zip(X, y_hat, strict=True):  # the page's numbers are rounded to 2 decimals
        assert _evaluate_latex(numbers, x) == pytest.approx(float(y), abs=0.05)
    assert any("no σ on it" in m.value for m in at.markdown)
    # tanh: the w′, b′ shown are what the weights would make without the activations, and the page says so
    assert any("if every activation were the identity" in m.value for m in at.markdown)
    assert not any(
        m.value.startswith("The single layer w′, b′ computed from the current weights:") for m in at.markdown
    )
    at = run_page(SCRIPT, query={"layers": "1", "w1": "3", "a1": "tanh"})  # classification keeps P(y=1|x) = σ(…)
    at.radio(key="mlp.view").set_value("Formula & collapse").run()
    assert any(x.value.strip("$\n").startswith(r"P(y{=}1 \mid x) = \sigma\Bigl(") for x in at.latex)
