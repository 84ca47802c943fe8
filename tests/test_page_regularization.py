"""Lab 4 page (AppTest): renders, trains from its button, keeps its tab, survives bad links and Stop."""

from __future__ import annotations

import ast
import json

import pytest

from lab import regularization as reg
from tests.conftest import run_page

SCRIPT = "app_pages/regularization.py"
PAGE = "regularization"
TAB = f"{PAGE}.tab"
#: The page's views by label, and their short names (session state, ``?tab=``)
SLUGS = {
    "Curves": "curves",
    "Table & code": "table",
    "Activations": "activations",
    "Gradients": "gradients",
    "Weights: L1 vs L2": "weights",
    "BN statistics": "bn",
    "Dropout": "dropout",
    "Bias before BN": "bias",
    "Vanishing gradients": "vanishing",
}


def _texts(at) -> str:
    return (
        " ".join(m.value for m in at.markdown)
        + " ".join(c.value for c in at.caption)
        + " ".join(x.value for x in at.latex)
    )


def _show(at, label: str):
    """Switch to a view (what a click does: its short name lands in session state, then a rerun)."""
    at.session_state[TAB] = SLUGS[label]
    return at.run()


def test_page_renders_demos_before_any_training():
    at = run_page(SCRIPT)
    assert not at.exception, [e.value for e in at.exception]
    assert any("Dropout & batch norm" in t.value for t in at.title)
    assert "Train & compare" in [b.label for b in at.button]
    # the preset promises what it shows (issue 14 audit: dropout lowers the val loss; accuracy moves 0-1.5 points)
    assert reg.PRESET_LABEL["overfit_dropout"] in [b.label for b in at.button]
    assert not any("fix it" in b.label for b in at.button)
    assert f"{PAGE}.result" not in at.session_state
    # the standalone demos are there without training: BN formula, dropout scaling, bias, vanishing gradients
    _show(at, "BN statistics")
    # issue 14: BN normalises a training batch with the *biased* variance; the unbiased one only feeds running_var
    # ("biased" alone would also match "unbiased")
    text = _texts(at)
    assert "momentum" in text and "own mean and **biased** variance (÷B)" in text
    assert "The running variance takes the **unbiased** batch variance (÷(B − 1))" in text
    assert "what BN normalises with" not in text
    _show(at, "Dropout")
    assert "1/(1 − p) = 2" in _texts(at)
    _show(at, "Vanishing gradients")
    assert "at initialisation" in _texts(at) and at.selectbox(key=f"{PAGE}.vg.act").value == "sigmoid"
    assert "none of these three inits does" in _texts(at) and "no init fixes" not in _texts(at)
    assert not at.exception


def test_two_configuration_comparison_runs_from_the_button():
    at = run_page(SCRIPT)
    at.sidebar.multiselect(key=f"{PAGE}.variants").set_value(["baseline", "batchnorm"])
    at.sidebar.slider(key=f"{PAGE}.num_epochs").set_value(3)
    at.sidebar.slider(key=f"{PAGE}.n_train").set_value(100)
    at.run()
    at.button(key=f"{PAGE}.train").click().run()
    assert not at.exception, [e.value for e in at.exception]
    result = at.session_state[f"{PAGE}.result"]
    assert result.status == "finished"
    assert [r.variant for r in result.runs] == ["baseline", "batchnorm"]
    assert all(r.epochs == [0, 1, 2, 3] for r in result.runs)
    _show(at, "Table & code")
    table = at.dataframe[0].value
    assert list(table["configuration"]) == ["Baseline", "+ Batch norm"]
    # BN statistics tab is populated for the BN run, and a rerun (e.g. moving α) keeps the results
    _show(at, "BN statistics")
    at.slider(key=f"{PAGE}.bn.alpha").set_value(0.5).run()
    assert not at.exception
    assert at.session_state[f"{PAGE}.result"] is result
    assert "Black diamonds" in _texts(at) and "nn.BatchNorm1d" in _texts(at)
    # the grey dots are the unbiased variance, fed to the running average; the old text called it what BN normalises with
    text = _texts(at)
    assert "**unbiased** variance (÷(B − 1))" in text and "the batch itself is normalised with the biased one" in text
    assert "what BN normalises with" not in text


def test_headline_is_validation_accuracy_and_loss_then_the_gap():
    """Issue 14: the headline was the loss gap with a green delta when it shrank, even from a worse fit."""
    at = run_page(SCRIPT, query={"variants": ",".join(["baseline", "dropout", "batchnorm", "bn_dropout", "l2", "l1",
                                                      "layernorm", "weightnorm", "dropconnect"]),
                                 "num_epochs": "2", "n_train": "100", "width": "32"})  # fmt: skip
    at.button(key=f"{PAGE}.train").click().run()
    assert not at.exception, [e.value for e in at.exception]
    metrics = at.metric
    assert len(metrics) == 9  # every configuration shows (only 5 of 9 did)
    assert all(m.label == "validation accuracy (final)" for m in metrics)
    assert "loss gap" not in " ".join(m.label for m in metrics)
    texts = _texts(at)
    assert "How to read it" in texts and "smaller gap only counts as a win when validation did not get worse" in texts
    assert "val loss" in texts and "gap train − val" in texts


def test_one_configuration_link_trains_and_every_tab_renders():
    """Issue 15 §2: ``?variants=batchnorm&num_epochs=3`` + Train raised StreamlitDuplicateElementId."""
    at = run_page(SCRIPT, query={"variants": "batchnorm", "num_epochs": "3", "n_train": "100"})
    at.button(key=f"{PAGE}.train").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state[f"{PAGE}.result"].status == "finished"
    for label in ("Table & code", "Activations", "Gradients", "BN statistics", "Dropout", "Bias before BN",
                  "Vanishing gradients"):  # fmt: skip
        _show(at, label)
        assert not at.exception, (label, [e.value for e in at.exception])
        if label == "Activations":  # both boxes on the same (only) configuration
            assert at.selectbox(key=f"{PAGE}.act.0").value == at.selectbox(key=f"{PAGE}.act.1").value
        if label == "BN statistics":
            assert "Black diamonds" in _texts(at)


def test_both_activation_boxes_on_the_same_configuration():
    at = run_page(
        SCRIPT, query={"variants": "baseline,dropout", "num_epochs": "2", "n_train": "100", "tab": "activations"}
    )
    at.button(key=f"{PAGE}.train").click().run()
    at.selectbox(key=f"{PAGE}.act.1").set_value("baseline").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key=f"{PAGE}.act.0").value == at.selectbox(key=f"{PAGE}.act.1").value


def test_active_tab_comes_from_the_link_goes_into_it_and_survives_training():
    at = run_page(SCRIPT, query={"tab": "bn", "variants": "batchnorm", "num_epochs": "1", "n_train": "50"})
    assert at.session_state[TAB] == "bn"
    assert at.query_params["tab"] == ["bn"] or at.query_params["tab"] == "bn"
    at.button(key=f"{PAGE}.train").click().run()
    at.sidebar.slider(key=f"{PAGE}.depth").set_value(3).run()  # the first widget change after training
    assert at.session_state[TAB] == "bn"
    _show(at, "Curves")
    assert "tab" not in at.query_params  # the default tab stays out of the link
    at = run_page(SCRIPT, query={"tab": "nonsense"})
    assert not at.exception and at.session_state[TAB] == "curves"
    assert any("**tab**" in w.value and "nonsense" not in w.value for w in at.warning)


def test_settings_come_from_the_link_and_bad_values_warn():
    at = run_page(SCRIPT, query={"depth": "3", "variants": "baseline,dropout", "lr": "banana"})
    assert not at.exception
    assert at.sidebar.slider(key=f"{PAGE}.depth").value == 3
    assert list(at.sidebar.multiselect(key=f"{PAGE}.variants").value) == ["baseline", "dropout"]
    assert any("lr" in w.value for w in at.warning)


def test_repeated_configurations_in_the_link_are_kept_once():
    """Issue 17: ``?variants=baseline,baseline,…`` built one model per entry."""
    at = run_page(SCRIPT, query={"variants": ",".join(["baseline"] * 300 + ["dropout", "bogus"]), "num_epochs": "1",
                                 "n_train": "50"})  # fmt: skip
    assert not at.exception, [e.value for e in at.exception]
    assert list(at.sidebar.multiselect(key=f"{PAGE}.variants").value) == ["baseline", "dropout"]
    assert any("**variants**" in w.value and "bogus" not in w.value for w in at.warning)
    at.button(key=f"{PAGE}.train").click().run()
    assert [r.variant for r in at.session_state[f"{PAGE}.result"].runs] == ["baseline", "dropout"]
    # a session value with repeats (an old session, a callback) is cleaned before the widget is drawn
    at.session_state[f"{PAGE}.variants"] = ["l2", "l2", "l1"]
    at.run()
    assert list(at.sidebar.multiselect(key=f"{PAGE}.variants").value) == ["l2", "l1"]


def test_sidebar_shows_only_the_chosen_models_controls_and_keeps_the_other():
    at = run_page(SCRIPT, query={"width": "64", "channels": "8"})
    keys = {s.key for s in at.sidebar.slider}
    assert f"{PAGE}.width" in keys and f"{PAGE}.channels" not in keys
    at.sidebar.selectbox(key=f"{PAGE}.model").set_value("cnn").run()
    keys = {s.key for s in at.sidebar.slider}
    assert f"{PAGE}.channels" in keys and f"{PAGE}.width" not in keys
    assert at.sidebar.slider(key=f"{PAGE}.channels").value == 8
    assert at.query_params["width"] in ("64", ["64"])  # the hidden one stays in the link
    at.sidebar.selectbox(key=f"{PAGE}.model").set_value("mlp").run()
    assert at.sidebar.slider(key=f"{PAGE}.width").value == 64


def test_stopped_run_keeps_its_epochs_says_so_and_feeds_the_bn_tab():
    """Issue 15: Stop threw early runs away silently, and the BN tab then asked for a BN run."""
    from lab import digits
    from lab import regularization as reg

    at = run_page(SCRIPT, query={"variants": "baseline,batchnorm", "n_train": "64", "width": "16"})
    assert f"{PAGE}.result" not in at.session_state
    stored = {}

    class Stop(Exception):
        pass

    def on_tick(comparison):
        stored["c"] = comparison
        if sum(len(r.epochs) for r in comparison.runs) == 2 + 2 * 2:  # two epochs of both
            raise Stop

    cfg = reg.CompareConfig(n_train=64, width=16, variants=("baseline", "batchnorm"))
    with pytest.raises(Stop):
        reg.compare(cfg, digits.make_split("digits", 64, 1000, 0), on_tick=on_tick)
    at.session_state[f"{PAGE}.result"] = stored["c"]  # what the page held when Stop ended the script
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("Stopped after 2 of 30 epochs" in w.value for w in at.warning)
    _show(at, "BN statistics")
    assert "Black diamonds" in _texts(at)
    assert not any("Train a configuration with batch norm" in i.value for i in at.info)
    # a newer run replaces the notice
    at.sidebar.slider(key=f"{PAGE}.num_epochs").set_value(1)
    at.button(key=f"{PAGE}.train").click().run()
    assert not any("Stopped" in w.value for w in at.warning)


def test_missing_mnist_falls_back_to_digits_with_a_warning(monkeypatch):
    from lab import digits

    monkeypatch.setattr(digits, "DATA_DIRS", ())
    at = run_page(SCRIPT, query={"dataset": "mnist"})
    assert not at.exception, [e.value for e in at.exception]
    assert any("never downloads" in w.value for w in at.warning)
    assert "8×8 digits" in _texts(at)


def test_cnn_runs_from_the_page_and_spiral_stays_mlp():
    at = run_page(SCRIPT, query={"model": "cnn", "channels": "8", "num_epochs": "2", "n_train": "100", "tab": "bn"})
    at.sidebar.multiselect(key=f"{PAGE}.variants").set_value(["baseline", "batchnorm"])
    at.run()
    assert "CNN 8×8" in _texts(at)
    at.button(key=f"{PAGE}.train").click().run()
    assert not at.exception, [e.value for e in at.exception]
    result = at.session_state[f"{PAGE}.result"]
    assert result.status == "finished" and result.config.model == "cnn"
    assert "Black diamonds" in _texts(at) and "nn.BatchNorm2d" in _texts(at)  # named for CNN mode
    at = run_page(SCRIPT, query={"model": "cnn", "dataset": "spiral"})
    assert not at.exception
    assert any("MLP" in i.value for i in at.info) and "MLP 2-" in _texts(at)


def test_bn_worked_example_on_the_page_equals_nn_batchnorm1d():
    import torch

    at = run_page(SCRIPT, query={"tab": "bn"})
    table = at.dataframe[0].value  # the only table on the BN tab
    x = torch.tensor(table.iloc[:, 0].to_numpy())[:, None]
    bn = torch.nn.BatchNorm1d(1)
    gamma, beta = 1.5, 0.5
    with torch.no_grad():
        bn.weight.fill_(gamma)
        bn.bias.fill_(beta)
    y = bn(x)[:, 0].detach()
    torch.testing.assert_close(torch.tensor(table.iloc[:, 3].to_numpy()), y)
    torch.testing.assert_close(torch.tensor(table["x̂"].to_numpy()), (y - beta) / gamma)
    assert any(r"\sigma_B^2 = \frac1B" in x.value for x in at.latex)  # the biased variance, written out


def test_snippet_on_the_page_follows_the_chosen_configurations():
    at = run_page(SCRIPT, query={"variants": "l1,dropconnect", "input_dropout": "0.2", "tab": "table"})
    code = at.code[0].value
    line = next(x for x in code.splitlines() if x.startswith("CONFIGURATIONS = "))
    assert ast.literal_eval(line.split("=", 1)[1].split("#")[0].strip()) == {
        "l1": {"l1": True},
        "dropconnect": {"dropconnect": True},
    }
    assert "P, P_IN = 0.5, 0.2" in code  # input dropout reaches the snippet


def test_stuck_at_chance_gets_a_hint():
    at = run_page(SCRIPT, query={"variants": "baseline", "depth": "6", "activation": "sigmoid", "optimizer": "sgd",
                                 "lr": "0.0001", "num_epochs": "4", "n_train": "100", "width": "16"})  # fmt: skip
    at.button(key=f"{PAGE}.train").click().run()
    assert any("optimisation problem, not overfitting" in w.value for w in at.warning)


def test_preset_loads_and_trains_the_dropout_comparison():
    at = run_page(SCRIPT, query={"tab": "bn", "model": "cnn"})
    at.button(key=f"{PAGE}.preset").click().run()
    assert not at.exception, [e.value for e in at.exception]
    preset = __import__("lab.regularization", fromlist=["PRESETS"]).PRESETS["overfit_dropout"]
    assert at.sidebar.slider(key=f"{PAGE}.width").value == preset["width"]  # shown again: the preset is an MLP
    assert list(at.sidebar.multiselect(key=f"{PAGE}.variants").value) == ["baseline", "dropout"]
    assert at.session_state[TAB] == "curves"  # the preset shows its curves
    result = at.session_state[f"{PAGE}.result"]
    assert result.status == "finished" and result.config.num_epochs == preset["num_epochs"]
    assert any("Preset loaded" in i.value for i in at.info)
    assert len(at.metric) == 2


def test_l1_vs_l2_weight_histograms():
    at = run_page(SCRIPT, query={"variants": "baseline,l1,l2", "num_epochs": "15", "n_train": "100", "width": "32",
                                 "l1": "0.001", "tab": "weights"})  # fmt: skip
    at.button(key=f"{PAGE}.train").click().run()
    assert not at.exception, [e.value for e in at.exception]
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert [t["name"] for t in spec["data"]] == ["Baseline", "+ L1", "+ L2"]
    runs = {k: v[0] for k, v in at.session_state[f"{PAGE}.result"].by_variant().items()}
    from lab import regularization as reg

    assert reg.near_zero_fraction(runs["l1"].first_weights) > 2 * reg.near_zero_fraction(runs["baseline"].first_weights)
    text = _texts(at)
    assert "|w| < 10⁻³" in text
    # issue 14 audit: L1's gradient is λ₁·sign(w) (the step lr·λ₁ only under SGD); L2 is not "few near 0" under Adam
    assert "adds λ₁·sign(w) to every weight's gradient" in text and "by the same step λ₁" not in text
    assert "narrower bell, few near 0" not in text and "Adam rescales λ₂·W per weight" in text
