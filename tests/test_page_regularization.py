"""Lab 4 page (AppTest): renders, runs a two-configuration comparison from its button, survives bad links."""

from __future__ import annotations

from tests.conftest import run_page

SCRIPT = "app_pages/regularization.py"
PAGE = "regularization"


def _texts(at) -> str:
    return " ".join(m.value for m in at.markdown) + " ".join(c.value for c in at.caption)


def test_page_renders_demos_before_any_training():
    at = run_page(SCRIPT)
    assert not at.exception, [e.value for e in at.exception]
    assert any("Dropout & batch norm" in t.value for t in at.title)
    texts = _texts(at)
    assert "Train & compare" in [b.label for b in at.button]
    # the standalone demos are there without training: BN convention, dropout scaling, bias, vanishing gradients
    assert "running = (1 − momentum)·running + momentum·batch" in " ".join(i.value for i in at.info)
    assert "1/(1 − p) = 2" in texts
    assert "First layer ÷ output layer" in texts
    assert at.selectbox(key=f"{PAGE}.vg.act").value == "sigmoid"
    assert f"{PAGE}.result" not in at.session_state


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
    table = at.dataframe[0].value
    assert list(table["configuration"]) == ["Baseline", "+ Batch norm"]
    # BN statistics tab is populated for the BN run, and a rerun (e.g. moving α) keeps the results
    at.slider(key=f"{PAGE}.bn.alpha").set_value(0.5).run()
    assert not at.exception
    assert at.session_state[f"{PAGE}.result"] is result
    assert "Black diamonds" in _texts(at)


def test_settings_come_from_the_link_and_bad_values_warn():
    at = run_page(SCRIPT, query={"depth": "3", "variants": "baseline,dropout", "lr": "banana"})
    assert not at.exception
    assert at.sidebar.slider(key=f"{PAGE}.depth").value == 3
    assert list(at.sidebar.multiselect(key=f"{PAGE}.variants").value) == ["baseline", "dropout"]
    assert any("lr=banana" in w.value for w in at.warning)


def test_missing_mnist_falls_back_to_digits_with_a_warning(monkeypatch):
    from lab import digits

    monkeypatch.setattr(digits, "DATA_DIRS", ())
    at = run_page(SCRIPT, query={"dataset": "mnist"})
    assert not at.exception, [e.value for e in at.exception]
    assert any("never downloads" in w.value for w in at.warning)
    assert "8×8 digits" in _texts(at)


def test_preset_loads_and_trains_the_dropout_comparison():
    at = run_page(SCRIPT)
    at.button(key=f"{PAGE}.preset").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.sidebar.slider(key=f"{PAGE}.width").value == 256
    assert list(at.sidebar.multiselect(key=f"{PAGE}.variants").value) == ["baseline", "dropout"]
    result = at.session_state[f"{PAGE}.result"]
    assert result.status == "finished" and result.config.num_epochs == 100
    runs = result.by_variant()
    assert runs["dropout"][0].loss_gap < runs["baseline"][0].loss_gap - 0.04  # seed 0: 0.23 → 0.16
    assert any("Preset loaded" in i.value for i in at.info)
    assert any("loss gap" in m.label for m in at.metric)


def test_cnn_runs_from_the_page_and_spiral_stays_mlp():
    at = run_page(SCRIPT, query={"model": "cnn", "channels": "8", "num_epochs": "2", "n_train": "100"})
    at.sidebar.multiselect(key=f"{PAGE}.variants").set_value(["baseline", "batchnorm"])
    at.run()
    assert "CNN 8×8" in _texts(at)
    at.button(key=f"{PAGE}.train").click().run()
    assert not at.exception, [e.value for e in at.exception]
    result = at.session_state[f"{PAGE}.result"]
    assert result.status == "finished" and result.config.model == "cnn"
    assert "Black diamonds" in _texts(at)  # BatchNorm2d statistics are shown
    at = run_page(SCRIPT, query={"model": "cnn", "dataset": "spiral"})
    assert not at.exception
    assert any("MLP" in i.value for i in at.info) and "MLP 2-" in _texts(at)


def test_one_configuration_link_trains_and_every_tab_renders():
    """Issue 15 §2: ``?variants=batchnorm&num_epochs=3`` + Train raised StreamlitDuplicateElementId."""
    at = run_page(SCRIPT, query={"variants": "batchnorm", "num_epochs": "3", "n_train": "100"})
    at.button(key=f"{PAGE}.train").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state[f"{PAGE}.result"].status == "finished"
    # every tab after Activations still renders: BN statistics, dropout demo, bias, vanishing gradients
    texts = _texts(at)
    assert "Black diamonds" in texts and "First layer ÷ output layer" in texts
    # both Activations boxes on the same configuration (the only one) is fine, and a rerun keeps it
    assert at.selectbox(key=f"{PAGE}.act.0").value == at.selectbox(key=f"{PAGE}.act.1").value == "batchnorm"
    at.run()
    assert not at.exception, [e.value for e in at.exception]


def test_both_activation_boxes_on_the_same_configuration():
    at = run_page(SCRIPT, query={"variants": "baseline,dropout", "num_epochs": "2", "n_train": "100"})
    at.button(key=f"{PAGE}.train").click().run()
    at.selectbox(key=f"{PAGE}.act.1").set_value("baseline").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key=f"{PAGE}.act.0").value == at.selectbox(key=f"{PAGE}.act.1").value
