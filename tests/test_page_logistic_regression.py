"""AppTest of the logistic-regression page: renders, reruns on widget changes, handles bad CSVs and the URL."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch

from lab import data2d, logistic
from tests.conftest import run_page

SCRIPT = "app_pages/logistic_regression.py"
PAGE = "logistic-regression"


def _ok(at):
    assert not at.exception, [e.value for e in at.exception]


def _metric(at, label):
    return next(m.value for m in at.metric if m.label == label)


def _specs(at) -> list[dict]:
    """Every plotly chart on the page as parsed JSON (never as text: see DESIGN.md §5)."""
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def _scrub(at) -> dict:
    return next(spec for spec in _specs(at) if spec.get("frames"))


@pytest.fixture(scope="module")
def at():
    app = run_page(SCRIPT)
    _ok(app)
    return app


def test_page_renders_charts_maths_and_code(at):
    assert any("Logistic regression" in t.value for t in at.title)
    assert len(at.get("plotly_chart")) >= 2  # (a) boundary + (b) landscape in one scrubbing figure, (c) curves
    assert len(at.latex) >= 4  # update rule, model, loss, gradients
    assert any("Largest difference" in c.value and "agree" in c.value for c in at.caption)
    code = [c.value for c in at.code]
    assert any("torch.optim.SGD" in c and "binary_cross_entropy_with_logits" in c for c in code)
    assert _metric(at, "Step") == "20 / 200"


def test_sigma_is_defined_where_it_is_first_used(at):
    # issue 14: σ was used on every page but defined nowhere; Lab 1's intro is where the student first meets it
    first = next(m.value for m in at.markdown if "σ" in m.value)
    assert "P(y=1|x) = σ(w·x + b)" in first and "σ(a) = 1/(1 + e⁻ᵃ)" in first and "(0, 1)" in first
    a = np.linspace(-5, 5, 11)  # the definition as written is the logistic sigmoid the model uses
    np.testing.assert_allclose(1 / (1 + np.exp(-a)), torch.sigmoid(torch.as_tensor(a)).numpy())


def test_page_opens_at_a_step_that_shows_an_update(at):
    # It used to open at the last state, where (d) says "there is no next update".
    assert _metric(at, "Step") == "20 / 200"
    assert not any("no next update" in i.value for i in at.info)
    assert any("(d) The update at step 20" in m.value for m in at.markdown)
    assert "step" not in at.query_params  # the opening step is the default: links stay short
    scrub = _scrub(at)
    assert len(scrub["frames"]) == 201 and scrub["layout"]["sliders"][0]["active"] == 20
    arrow = next(t for t in scrub["data"] if t.get("name") == "next update Δθ")
    assert len(arrow["x"]) == 2  # (b) draws the update from state 20 to state 21


def test_changing_optimizer_learning_rate_and_dataset_reruns(at):
    at.selectbox(key=f"{PAGE}/train.optimizer").set_value("adam").run()
    _ok(at)
    at.select_slider(key=f"{PAGE}/train.lr").set_value(0.1).run()
    _ok(at)
    at.selectbox(key=f"{PAGE}/data.dataset").set_value("circles").run()
    _ok(at)
    assert float(_metric(at, "Test accuracy").rstrip("%")) < 65
    at.multiselect(key=f"{PAGE}/features.features").set_value(["x1sq", "x2sq"]).run()
    _ok(at)
    assert float(_metric(at, "Test accuracy").rstrip("%")) >= 90  # noise 0.1 here; the unit test checks > 95 %
    assert at.query_params["features"] == "x1sq,x2sq"
    assert at.query_params["optimizer"] == "adam" and at.query_params["dataset"] == "circles"


def test_step_slider_and_buttons_scrub_without_retraining(at):
    runs_before = len(at.session_state["_logistic.runs"])
    at.slider(key=f"{PAGE}.step").set_value(5).run()
    _ok(at)
    assert _metric(at, "Step").startswith("5 /")
    next(b for b in at.button if b.label == "step ▶").click().run()
    assert _metric(at, "Step").startswith("6 /")
    next(b for b in at.button if b.label == "◀ step").click().run()
    assert _metric(at, "Step").startswith("5 /")
    assert at.query_params["step"] == "5"  # the step is in the link
    assert any(d.value is not None for d in at.dataframe)  # (d) the update table at step 5
    assert len(at.session_state["_logistic.runs"]) == runs_before  # scrubbing never retrains
    assert _scrub(at)["layout"]["sliders"][0]["active"] == 5  # the browser figure opens at the page's step


def test_large_learning_rate_warns_and_divergence_is_explained():
    at = run_page(SCRIPT, query={"lr": "10"})
    _ok(at)
    assert any("too" in w.value and "large" in w.value for w in at.warning)
    at = run_page(SCRIPT, query={"lr": "1", "weight_decay": "10.0"})
    _ok(at)
    errors = " ".join(e.value for e in at.error)
    assert "diverged" in errors and "αλ" in errors


def test_compare_optimisers_overlays_four_runs():
    at = run_page(SCRIPT, query={"compare": "1", "num_steps": "50"})
    _ok(at)
    assert len(at.session_state["_logistic.runs"]) == 4


def _upload(at, name: str, data: bytes):
    """Simulate a CSV upload (AppTest has no file_uploader driver in every version)."""
    from streamlit.proto.Common_pb2 import FileURLs
    from streamlit.runtime.uploaded_file_manager import UploadedFile, UploadedFileRec

    rec = UploadedFileRec(file_id=name, name=name, type="text/csv", data=data)
    return UploadedFile(rec, FileURLs())


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"x1;x2;label\n1;2;0\n3;4;1\n", "semicolons"),
        (b"x1,x2,label\n1,2,0\n3,4,0\n5,6,0\n", "two classes"),
        (b"x1,x2,label\n1,abc,0\n3,4,1\n", "not a number"),
        (b"x1,x2,label\n1,nan,0\n3,4,1\n", "NaN"),
        (b"x1,label\n1,0\n3,1\n", "column"),
    ],
)
def test_bad_csv_shows_an_error_and_keeps_the_generated_data(monkeypatch, content, message):
    import streamlit as st

    real = st.file_uploader

    def fake_uploader(label, *args, **kwargs):
        if kwargs.get("key") == f"{PAGE}.csv":
            real(label, *args, **kwargs)
            return _upload(None, "bad.csv", content)
        return real(label, *args, **kwargs)

    monkeypatch.setattr(st, "file_uploader", fake_uploader)
    at = run_page(SCRIPT)
    _ok(at)
    errors = " ".join(e.value for e in at.error)
    assert message in errors and "Still using the generated" in errors
    assert _metric(at, "Step") == "20 / 200"  # the page still trains on the generated data
    assert at.session_state["_logistic.run_id"][0].startswith("gen:")


def test_good_csv_is_used(monkeypatch):
    import streamlit as st

    X, y = data2d.make_points("moons", 120, 0.05, seed=4)
    content = data2d.to_csv(X, y)
    real = st.file_uploader

    def fake_uploader(label, *args, **kwargs):
        if kwargs.get("key") == f"{PAGE}.csv":
            real(label, *args, **kwargs)
            return _upload(None, "moons.csv", content)
        return real(label, *args, **kwargs)

    monkeypatch.setattr(st, "file_uploader", fake_uploader)
    at = run_page(SCRIPT)
    _ok(at)
    assert any("moons\\.csv" in i.value for i in at.info)  # the name is escaped: it is user text
    assert any("csv.reader" in c.value and "moons.csv" in c.value for c in at.code)


def test_page_code_snippet_reproduces_the_page():
    at = run_page(SCRIPT, query={"optimizer": "momentum", "features": "x1x2", "num_steps": "40"})
    _ok(at)
    from lab.codegen import run_snippet

    ns = run_snippet(at.code[0].value)
    (run,) = at.session_state["_logistic.runs"].values()
    np.testing.assert_allclose(ns["w"].detach().numpy(), run.w[-1], atol=1e-5)
    assert run.config.optimizer == "momentum" and run.feature_names == ("x1x2",)


def test_bad_link_values_fall_back_with_a_warning():
    at = run_page(SCRIPT, query={"lr": "banana", "optimizer": "newton"})
    _ok(at)
    assert any("not valid" in w.value for w in at.warning)
    (run,) = at.session_state["_logistic.runs"].values()
    assert run.config == logistic.TrainConfig(**{**run.config.__dict__, "lr": 0.01, "optimizer": "gd"})


# --- links keep the step and the tab; old and empty feature lists -------------------------------------------


def test_step_and_tab_come_from_the_link_and_go_back_into_it():
    at = run_page(SCRIPT, query={"step": "57", "tab": "accuracy"})
    _ok(at)
    assert _metric(at, "Step") == "57 / 200"
    assert _scrub(at)["layout"]["sliders"][0]["active"] == 57
    assert at.session_state[f"{PAGE}.tab"] == logistic.CURVE_TABS["accuracy"]
    assert any(s["layout"]["title"]["text"] == "Train / test accuracy" for s in _specs(at))  # the open tab is drawn
    assert at.query_params["step"] == "57" and at.query_params["tab"] == "accuracy"
    at.session_state[f"{PAGE}.tab"] = logistic.CURVE_TABS["loss"]  # what clicking the tab does
    at.run()
    _ok(at)
    assert "tab" not in at.query_params and at.query_params["step"] == "57"


@pytest.mark.parametrize("query", [{"step": "abc"}, {"step": "9999"}, {"step": "2.5"}, {"tab": "[x](http://e.vil)"}])
def test_bad_step_or_tab_in_a_link_is_named_not_echoed(query):
    at = run_page(SCRIPT, query=query)
    _ok(at)
    (key,) = query
    warnings = " ".join(w.value for w in at.warning)
    assert f"link's {key}" in warnings and query[key] not in warnings
    assert _metric(at, "Step") == "20 / 200" and key not in at.query_params


def test_a_cleared_multiselect_does_not_leak_into_the_link(at):
    at.multiselect(key=f"{PAGE}/features.features").set_value(["x1x2"]).run()
    assert at.query_params["features"] == "x1x2"
    at.multiselect(key=f"{PAGE}/features.features").set_value([]).run()
    _ok(at)
    assert "features" not in at.query_params  # was "?features=" (a list [] is not the default ())


def test_old_feature_keys_in_links_still_open():
    at = run_page(SCRIPT, query={"features": "x1^2,sin_x2", "num_steps": "20"})
    _ok(at)
    assert not at.warning
    (run,) = at.session_state["_logistic.runs"].values()
    assert run.feature_names == ("x1sq", "sin2")
    assert at.query_params["features"] == "x1sq,sin2"  # rewritten to Lab 2's keys


# --- the three losses are labelled and related -------------------------------------------------------------


@pytest.mark.parametrize(
    "query", [{}, {"reduction": "mean", "lr": "0.5"}, {"weight_decay": "0.1", "step": "3"}], ids=["sum", "mean", "l2"]
)
def test_three_losses_are_labelled_and_related(query):
    at = run_page(SCRIPT, query=query)
    _ok(at)
    mean_bce = float(_metric(at, "Train loss (mean BCE)"))
    tex = [x.value.strip("$\n ") for x in at.latex]
    relation = next(t for t in tex if t.startswith("L = ") and r"\bar\ell" in t)
    total = float(re.findall(r"= ([-\d.]+)$", relation)[0])
    run = at.session_state["_logistic.runs"][next(iter(at.session_state["_logistic.runs"]))]
    n = int(re.search(r"N = (\d+)", " ".join(m.value for m in at.markdown))[1])
    step = int(_metric(at, "Step").split(" /")[0])
    w = run.w[step]
    l2 = 0.5 * run.config.weight_decay * float(w @ w)
    expected = (n * mean_bce if run.config.reduction == "sum" else mean_bce) + l2
    assert total == pytest.approx(expected, rel=2e-3)  # L = N × ℓ̄ (+ λ/2‖w‖²) with the metric's ℓ̄
    # …and that L is the objective the maths section shows and the optimiser minimises.
    loss_line = next(t for t in tex if t.startswith(r"L = -"))
    assert float(re.findall(r"= ([-\d.]+)$", loss_line)[0]) == pytest.approx(total, rel=1e-3)
    assert float(run.objective[step]) == pytest.approx(total, rel=1e-3)
    assert ("N \\cdot" in relation) == (run.config.reduction == "sum")


# --- compare mode: one colour per optimiser, a legend for eight curves ----------------------------------


def test_compare_mode_colours_and_legend():
    at = run_page(SCRIPT, query={"compare": "1", "num_steps": "30"})
    _ok(at)
    specs = _specs(at)
    scrub = _scrub(at)
    curves = next(s for s in specs if s["layout"]["title"]["text"].startswith("(c)"))
    assert len(curves["data"]) == 8
    assert all(t["name"] and t.get("showlegend") is not False for t in curves["data"])
    assert curves["layout"]["legend"]["yref"] == "container"  # below the plot, inside the figure's height
    path_colors = {
        t["name"]: t["line"]["color"] for t in scrub["data"] if t.get("legendgroup") and t.get("mode") == "lines"
    }
    for short, name in (("GD", "gd"), ("SGD", "sgd"), ("momentum", "momentum"), ("Adam", "adam")):
        curve_colors = {t["line"]["color"] for t in curves["data"] if t["name"].startswith(short + " ")}
        assert curve_colors == {path_colors[short]} == {logistic.OPTIMIZER_COLORS[name]}
    assert "#ffffff" not in path_colors.values()  # GD used to be white on the landscape, blue in the curves


# --- CSV uploads: disabled generator controls, the last good upload survives a bad one -----------------------


def _fake_uploads(monkeypatch, box: dict):
    import streamlit as st

    real = st.file_uploader

    def fake_uploader(label, *args, **kwargs):
        if kwargs.get("key") == f"{PAGE}.csv":
            real(label, *args, **kwargs)
            return None if box.get("file") is None else _upload(None, *box["file"])
        return real(label, *args, **kwargs)

    monkeypatch.setattr(st, "file_uploader", fake_uploader)


def test_csv_disables_the_generator_controls_with_a_note(monkeypatch):
    X, y = data2d.make_points("moons", 120, 0.05, seed=4)
    box = {"file": ("moons.csv", data2d.to_csv(X, y))}
    _fake_uploads(monkeypatch, box)
    at = run_page(SCRIPT)
    _ok(at)
    assert at.selectbox(key=f"{PAGE}/data.dataset").disabled
    assert at.slider(key=f"{PAGE}/data.n").disabled and at.slider(key=f"{PAGE}/data.noise").disabled
    assert not at.slider(key=f"{PAGE}/data.train_fraction").disabled  # the CSV is split with it
    assert any("off while your CSV is in use" in c.value for c in at.sidebar.caption)
    box["file"] = None  # the student removes the file
    at.run()
    _ok(at)
    assert not at.selectbox(key=f"{PAGE}/data.dataset").disabled


def test_a_bad_csv_after_a_good_one_keeps_the_good_one(monkeypatch):
    X, y = data2d.make_points("moons", 120, 0.05, seed=4)
    box = {"file": ("moons.csv", data2d.to_csv(X, y))}
    _fake_uploads(monkeypatch, box)
    at = run_page(SCRIPT)
    _ok(at)
    good_run = at.session_state["_logistic.run_id"]
    assert good_run[0].startswith("csv:")
    box["file"] = None  # replacing a file: Streamlit runs once with no file in between
    at.run()
    box["file"] = ("bad.csv", b"x1,x2,label\n1,abc,0\n3,4,1\n")
    at.run()
    _ok(at)
    errors = " ".join(e.value for e in at.error)
    assert "not a number" in errors and "last good upload" in errors and "moons\\.csv" in errors
    assert at.session_state["_logistic.run_id"] == good_run  # trained on the good upload again, not generated data
    assert at.selectbox(key=f"{PAGE}/data.dataset").disabled


def test_an_uploaded_file_name_is_not_markdown(monkeypatch):
    X, y = data2d.make_points("moons", 60, 0.05, seed=4)
    _fake_uploads(monkeypatch, {"file": ("[click](http://e.vil).csv", data2d.to_csv(X, y))})
    at = run_page(SCRIPT)
    _ok(at)
    shown = next(i.value for i in at.info if "Using your upload" in i.value)
    assert "[click](http" not in shown and r"\[click\]\(http" in shown
