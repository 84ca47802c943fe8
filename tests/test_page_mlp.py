"""AppTest: the MLP page renders, trains from its button, explains divergence and bad uploads."""

from __future__ import annotations

import json

from tests.conftest import run_page

SCRIPT = "app_pages/mlp.py"
TRAIN = "mlp.train_button"


def _epoch(at) -> str:
    return next(m.value for m in at.metric if m.label == "Epoch")


def _ok(at) -> None:
    assert not at.exception, [e.value for e in at.exception]


def test_page_renders_at_epoch_zero_with_its_pictures():
    at = run_page(SCRIPT)
    _ok(at)
    assert _epoch(at) == "0"
    labels = [b.label for b in at.button]
    for label in ("Reset", "Step", "Play"):
        assert label in labels
    assert any(label.startswith("Train") for label in labels)
    assert len(at.get("plotly_chart")) >= 2  # the network and the output map
    assert len(at.radio(key="mlp.view").options) == 8


def test_training_runs_to_completion_from_its_button():
    at = run_page(SCRIPT, query={"num_epochs": "30"})
    at.button(key=TRAIN).click().run()
    _ok(at)
    assert _epoch(at) == "30"
    assert not at.error
    text = " ".join(m.value for m in at.markdown)
    assert "Test accuracy" in text
    at.button(key=TRAIN).click().run()  # a second click continues
    assert _epoch(at) == "60"


def test_step_and_reset():
    at = run_page(SCRIPT)
    next(b for b in at.button if b.label == "Step").click().run()
    _ok(at)
    assert _epoch(at) == "1"
    next(b for b in at.button if b.label == "Reset").click().run()
    assert _epoch(at) == "0"


def test_lr_10_shows_a_divergence_message():
    at = run_page(SCRIPT, query={"lr": "10", "num_epochs": "100"})
    at.button(key=TRAIN).click().run()
    _ok(at)
    assert any("diverg" in e.value.lower() and "learning rate" in e.value.lower() for e in at.error)


def test_nan_divergence_on_regression_is_explained():
    at = run_page(
        SCRIPT, query={"dataset": "multi_gaussian", "lr": "10", "layers": "1", "a1": "relu", "num_epochs": "50"}
    )
    at.button(key=TRAIN).click().run()
    _ok(at)
    assert any("diverged" in e.value for e in at.error)


def test_link_state_reaches_the_widgets_and_survives():
    query = {
        "dataset": "spiral",
        "num_classes": "3",
        "layers": "3",
        "w3": "6",
        "a2": "relu",
        "init": "normal",
        "sigma": "0.5",
    }
    at = run_page(SCRIPT, query=query)
    _ok(at)
    assert at.selectbox(key="mlp.data.dataset").value == "spiral"
    assert at.slider(key="mlp.layers.w3").value == 6
    assert at.selectbox(key="mlp.layers.a2").value == "relu"
    assert at.select_slider(key="mlp.init.normal.sigma").value == 0.5
    # three classes: the multi-class map (softmax regions) with points of class 2. The spec is parsed, not
    # searched as text: plotly writes "·" as-is only when orjson is installed (the stdlib writes \u00b7).
    names = [{trace.get("name") for trace in json.loads(chart.proto.spec)["data"]} for chart in at.get("plotly_chart")]
    assert any(any(str(x).startswith("region of class") for x in n) and "train · class 2" in n for n in names), names


def test_identity_activations_show_the_collapse_and_zeros_the_symmetry_warning():
    at = run_page(SCRIPT, query={"a1": "identity", "a2": "identity", "init": "zeros", "num_epochs": "20"})
    at.button(key=TRAIN).click().run()
    _ok(at)
    at.radio(key="mlp.view").set_value("Formula & collapse").run()
    assert any("identity" in s.value and "straight line" in s.value for s in at.success)
    at.radio(key="mlp.view").set_value("Initialisation").run()
    assert any("Symmetric start" in w.value for w in at.warning)


def test_bad_csv_upload_shows_a_message_and_a_good_one_is_used():
    at = run_page(SCRIPT)
    at.file_uploader(key="mlp.csv").set_value(("bad.csv", b"a;b;c\n1;2;0\n", "text/csv")).run()
    _ok(at)
    assert any("semicolons" in e.value for e in at.error)
    good = b"x1,x2,label\n" + b"".join(f"{i / 10},{(i % 3) / 3},{i % 3}\n".encode() for i in range(30))
    at.file_uploader(key="mlp.csv").set_value(("mine.csv", good, "text/csv")).run()
    _ok(at)
    assert any("mine\\.csv" in i.value and "3 classes" in i.value for i in at.info)  # the name, escaped


#: An upload name that is Markdown: a link, bold and a colour directive if it were not escaped.
EVIL_NAME = "[x](https:__evil.example) :red[**X**].csv"


def _literal(message: str) -> None:
    assert "](" not in message and ":red[" not in message and "**X**" not in message, message
    assert "\\[x\\]" in message, message


def test_upload_names_are_shown_literally():
    at = run_page(SCRIPT)
    at.file_uploader(key="mlp.csv").set_value((EVIL_NAME, b"a;b;c\n1;2;0\n", "text/csv")).run()
    _ok(at)
    (error,) = [e.value for e in at.error if "semicolons" in e.value]
    _literal(error)
    good = b"x1,x2,label\n" + b"".join(f"{i / 10},{(i % 3) / 3},{i % 3}\n".encode() for i in range(30))
    at.file_uploader(key="mlp.csv").set_value((EVIL_NAME, good, "text/csv")).run()
    _ok(at)
    (info,) = [i.value for i in at.info if "3 classes" in i.value]
    _literal(info)


def test_regression_dataset_renders_and_trains():
    at = run_page(SCRIPT, query={"dataset": "plane", "num_epochs": "10"})
    at.button(key=TRAIN).click().run()
    _ok(at)
    assert _epoch(at) == "10"


def test_replay_and_edit_a_weight():
    at = run_page(SCRIPT, query={"num_epochs": "20"})
    at.button(key=TRAIN).click().run()
    _ok(at)
    at.radio(key="mlp.view").set_value("Replay").run()
    slider = next(s for s in at.select_slider if s.label == "Epoch")
    assert slider.value == 20
    slider.set_value(0).run()
    _ok(at)
    specs = [chart.proto.spec for chart in at.get("plotly_chart")]
    assert any("Output at epoch 0" in spec for spec in specs)
    next(n for n in at.number_input if n.label == "new w").set_value(3.0).run()
    before = " ".join(m.value for m in at.markdown if "Train loss" in m.value)
    at.button(key="mlp.set_weight").click().run()
    _ok(at)
    assert any("to +3.0000" in c.value for c in at.caption)
    after = " ".join(m.value for m in at.markdown if "Train loss" in m.value)
    assert after and after != before  # the loss/accuracy line follows the edited weight at once


def test_a_teachers_link_can_fold_the_settings_away():
    at = run_page(SCRIPT, query={"settings": "closed", "dataset": "xor"})
    _ok(at)
    assert at.expander[0].proto.expanded is False
    assert at.query_params.get("settings") in ("closed", ["closed"])
    assert run_page(SCRIPT).expander[0].proto.expanded is True
