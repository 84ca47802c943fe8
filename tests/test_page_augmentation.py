"""Lab 5 page (AppTest): the preview grid, resample, URL state, label check, sound uploads, training."""

from __future__ import annotations

import pytest

from lab import audio as au
from tests.conftest import run_page

SCRIPT = "app_pages/augmentation.py"
#: The tabs' labels (``augmentation.tab`` holds the open one), by their name in the link.
TABS = {
    "images": ":material/photo_library: Images",
    "sound": ":material/graphic_eq: Sound",
    "train": ":material/model_training: As a regulariser",
}


class _Grid:
    """The preview grid: every st.image whose caption starts with "#" (one image per cell)."""

    def __init__(self, at):
        cells = [im for im in at.get("image") if im.captions and im.captions[0].startswith("#")]
        assert cells, [im.captions[:1] for im in at.get("image")]
        self.value = [v for im in cells for v in im.value]
        self.captions = [c for im in cells for c in im.captions]
        assert self.captions[0].startswith("#1") and len(self.captions) == len(self.value)


def _grid(at) -> _Grid:
    return _Grid(at)


def _code(at) -> str:
    return next(c.value for c in at.code if "v2.Compose([" in c.value)


@pytest.fixture(scope="module")
def page():
    at = run_page(SCRIPT)
    assert not at.exception, [e.value for e in at.exception]
    return at


def _full_captions(at):
    at.toggle(key="augmentation.full_captions").set_value(True).run()
    assert not at.exception
    return _grid(at)


def test_page_shows_the_preview_grid_the_original_and_the_code(page):
    grid = _grid(page)
    assert len(grid.value) == 12
    assert grid.captions[:3] == ["#1", "#2", "#3"]  # short captions: no 8–15-line walls of abbreviations
    assert any(im.captions[0].startswith("**original**") for im in page.get("image"))
    code = _code(page)
    assert "v2.RandomRotation(degrees=(-15.0, 15.0))" in code and "torch.manual_seed(0 + i)" in code
    assert not page.error


def test_link_settings_reach_the_pipeline_and_resample_moves_the_draw():
    at = run_page(SCRIPT, query={"rotate_deg": "45", "num_samples": "4", "blur": "1", "seed": "3"})
    assert not at.exception
    grid = _full_captions(at)
    assert len(grid.value) == 4 and all("blur σ=" in c for c in grid.captions)
    assert "degrees=(-45.0, 45.0)" in _code(at) and "torch.manual_seed(300000 + i)" in _code(at)
    before = grid.captions
    next(b for b in at.button if b.label == "Resample").click().run()
    assert not at.exception
    assert _grid(at).captions != before
    assert at.query_params["draw"] == "1" and at.query_params["rotate_deg"] == "45"
    assert "torch.manual_seed(300100 + i)" in _code(at)


def test_switching_a_transform_on_adds_it_with_its_widgets():
    at = run_page(SCRIPT, query={"num_samples": "3"})
    at.toggle(key="augmentation.on.erasing.erasing").set_value(True).run()
    assert not at.exception
    assert any(s.label == "max area erased" for s in at.slider)
    assert "v2.RandomErasing(" in _code(at) and "v2.ToDtype(torch.float32, scale=True)" in _code(at)
    assert at.query_params["erasing"] == "1"


def test_bad_link_values_warn_and_fall_back():
    at = run_page(SCRIPT, query={"rotate_deg": "9000", "num_samples": "2"})
    assert not at.exception
    assert any("rotate_deg" in w.value for w in at.warning)  # names the setting (never echoes the value)
    assert "degrees=(-15.0, 15.0)" in _code(at)


def test_label_check_without_weights_says_so_and_skips(monkeypatch, tmp_path):
    import torch

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))  # an empty hub cache
    at = run_page(SCRIPT, query={"num_samples": "2"})
    at.toggle(key="augmentation.labels_on").set_value(True).run()
    assert not at.exception
    assert any("not in the torch hub cache" in i.value for i in at.info)
    assert len(_grid(at).value) == 2


def test_sound_tab_plays_before_and_after_and_refuses_bad_uploads():
    at = run_page(SCRIPT, query={"num_samples": "1", "tab": "sound"})
    assert len(at.get("audio")) == 2
    assert any("measured" in m.value for m in at.markdown)
    uploader = next(u for u in at.get("file_uploader") if u.label.startswith("…or upload a WAV"))
    uploader.set_value(("song.wav", b"ID3\x04\x00\x00" + b"\x00" * 64, "audio/wav")).run()
    assert not at.exception
    assert any("not a WAV file" in e.value and "MP3" in e.value for e in at.error)
    uploader = next(u for u in at.get("file_uploader") if u.label.startswith("…or upload a WAV"))
    uploader.set_value(("tone.wav", au.to_wav(au.make_signal("tone", 1.0)), "audio/wav")).run()
    assert not at.exception and not at.error
    assert any("tone\\.wav" in m.value for m in at.markdown)  # the name, escaped


def test_sound_upload_names_are_shown_literally():
    name = "[x](https:__evil.example) :red[**X**].wav"

    def literal(message: str) -> None:
        assert "](" not in message and ":red[" not in message and "**X**" not in message, message
        assert "\\[x\\]" in message, message

    at = run_page(SCRIPT, query={"num_samples": "1", "tab": "sound"})
    uploader = next(u for u in at.get("file_uploader") if u.label.startswith("…or upload a WAV"))
    uploader.set_value((name, b"ID3\x04\x00\x00" + b"\x00" * 64, "audio/wav")).run()
    assert not at.exception
    (error,) = [e.value for e in at.error if "not a WAV file" in e.value]
    literal(error)
    uploader = next(u for u in at.get("file_uploader") if u.label.startswith("…or upload a WAV"))
    uploader.set_value((name, au.to_wav(au.make_signal("tone", 1.0)), "audio/wav")).run()
    assert not at.exception and not at.error
    (line,) = [m.value for m in at.markdown if "Hz →" in m.value]
    literal(line)


def test_training_both_runs_reports_the_gain():
    at = run_page(SCRIPT, query={"num_samples": "1", "tr_epochs": "5", "tr_train_size": "50"})
    next(b for b in at.button if b.label == "Train both").click().run()
    assert not at.exception, [e.value for e in at.exception]
    metrics = {m.label: m for m in at.metric}
    without, with_aug = (
        float(metrics[k].value.rstrip("%")) for k in ("Validation accuracy, without", "…with augmentation")
    )
    # The delta is the difference of the two numbers as shown (no rounding surprise on screen).
    assert metrics["…with augmentation"].delta == f"{with_aug - without:+.1f} points"
    assert metrics["Overfitting gap (train − val)"].value.endswith(" points")
    assert not any("stopped" in w.value for w in at.warning)


def _partly_trained(epochs: int = 2, total: int = 5):
    from lab import augment_training as AT

    comparer = AT.Comparer(AT.TrainConfig(tr_train_size=50, tr_epochs=total))
    comparer.advance(epochs)
    return comparer


def test_a_training_interrupted_by_a_rerun_continues_where_it_stopped():
    """A widget touch elsewhere reruns the page mid-training; the next run continues the same runs to the end."""
    from lab import augment_training as AT

    comparer = _partly_trained()
    at = run_page(
        SCRIPT,
        query={"num_samples": "1", "tr_epochs": "5", "tr_train_size": "50"},
        session_state={"augmentation.trainer": comparer, "augmentation.training": True},
    )
    assert not at.exception, [e.value for e in at.exception]
    assert comparer.done and comparer.epoch == 5
    whole = AT.compare(AT.TrainConfig(tr_train_size=50, tr_epochs=5))
    assert comparer.comparison().augmented.metrics == whole.augmented.metrics  # as if never interrupted
    assert any(m.label == "…with augmentation" for m in at.metric)
    assert not any("stopped" in w.value for w in at.warning)


def test_stop_keeps_the_epochs_so_far_says_so_and_can_continue():
    comparer = _partly_trained()
    at = run_page(
        SCRIPT,
        query={"num_samples": "1", "tr_epochs": "5", "tr_train_size": "50"},
        session_state={"augmentation.trainer": comparer, "augmentation.training": False},
    )
    assert not at.exception
    notice = next(w.value for w in at.warning if "stopped" in w.value)
    assert "after 2 of 5 epochs" in notice and "Stop training" in notice
    assert at.get("plotly_chart") and any(m.label == "…with augmentation" for m in at.metric)  # the epochs so far
    next(b for b in at.button if b.label == "Continue training").click().run()
    assert not at.exception
    assert comparer.done and not any("stopped" in w.value for w in at.warning)


def test_extreme_elastic_at_the_smallest_preview_draws_the_grid_and_every_tab():
    at = run_page(SCRIPT, query={"elastic": "1", "elastic_sigma": "10", "side": "128", "num_samples": "4"})
    assert not at.exception and not at.error, [e.value for e in at.error]
    grid = _full_captions(at)
    assert len(grid.value) == 4 and all("elastic ≤" in c for c in grid.captions)
    assert any(b.label.startswith("Download the photo the code reads") for b in at.get("download_button"))
    for tab in ("sound", "train"):  # the other tabs still work with these settings
        at.session_state["augmentation.tab"] = TABS[tab]
        at.run()
        assert not at.exception and not at.error, (tab, [e.value for e in at.error])
    assert len(at.get("image")) == 2  # the regulariser's example digits


def test_a_cell_can_be_seen_large_with_its_parameters_as_a_table():
    """The readable detail view (the cell widths per preview size are checked in the browser test)."""
    large = run_page(SCRIPT, query={"num_samples": "2", "side": "384"})
    assert not large.exception
    table = large.table[0].value
    assert list(table.columns) == ["transform", "parameter", "drawn value"]
    assert "Rotation" in set(table["transform"]) and any("counter-clockwise" in v for v in table["drawn value"])
    large.selectbox(key="augmentation.detail").set_value(2).run()
    assert not large.exception
    assert not large.table[0].value.equals(table)  # sample #2's own draws


def test_a_panorama_keeps_a_short_side_worth_seeing():
    from lab import augment as A

    assert A.preview_size((16, 1280), 256) == (16, 1280)  # the old rule gave (3, 256): slivers
    assert A.preview_size((64, 6400), 256) == (32, 3200)
    assert A.preview_size((300, 451), 256) == (170, 256)  # ordinary photos as before


def test_the_open_tab_is_kept_in_the_link():
    at = run_page(SCRIPT, query={"num_samples": "1", "tab": "sound"})
    assert not at.exception
    assert "Sound" in at.session_state["augmentation.tab"] and at.query_params["tab"] == "sound"
    at.session_state["augmentation.tab"] = ":material/photo_library: Images"  # the student opens Images
    at.run()
    assert "tab" not in at.query_params  # the default tab is left out of the link
    at.session_state["augmentation.tab"] = ":material/model_training: As a regulariser"
    at.run()
    assert at.query_params["tab"] == "train"
    # The tabs' default (part of their widget id) stays the first one: switching never makes a new widget.
    assert "Sound" in at.session_state["augmentation.tab_default"]
    bad = run_page(SCRIPT, query={"num_samples": "1", "tab": "<img src=x>"})
    assert "Images" in bad.session_state["augmentation.tab"]
    assert any("**tab**" in w.value and "<img" not in w.value for w in bad.warning)  # named, never echoed


def test_sound_tab_resamples_the_noise_and_shows_code_that_reproduces_it():
    at = run_page(SCRIPT, query={"num_samples": "1", "seed": "2", "tab": "sound"})
    snippet = next(c.value for c in at.code if "def add_noise" in c.value)
    assert any("before.wav" in b.label for b in at.get("download_button"))
    assert "seed=2000" in snippet  # sample-for-sample reproduction: tests/test_audio_code.py
    resample = [b for b in at.button if b.label == "Resample"][1]  # the sound tab's
    resample.click().run()
    assert not at.exception
    assert at.query_params["snd_draw"] == "1"
    assert "seed=2001" in next(c.value for c in at.code if "def add_noise" in c.value)
    assert any("Noise draw 1" in c.value for c in at.caption)


def test_label_check_marks_each_cell_and_the_close_look(monkeypatch):
    """With GoogLeNet available (faked here: no weights are downloaded), cells and the table give its verdict."""
    from lab import augment as A

    def fake_top1(model, images, *, device="cpu"):
        return [A.Label(281, "tabby", 0.9)] + [A.Label(281 + (i % 2), "cat", 0.5) for i in range(len(images) - 1)]

    monkeypatch.setattr(A, "googlenet_available", lambda: True)
    monkeypatch.setattr(A, "load_googlenet", lambda device="cpu": None)
    monkeypatch.setattr(A, "top1", fake_top1)
    at = run_page(SCRIPT, query={"num_samples": "3", "seed": "9"})
    at.toggle(key="augmentation.labels_on").set_value(True).run()
    assert not at.exception, [e.value for e in at.exception]
    captions = _grid(at).captions
    assert captions[0].startswith("#1 · ✓") and captions[1].startswith("#2 · ✗"), captions
    assert any(m.label == "Label survives" and m.value == "2/3" for m in at.metric)
    table = at.table[0].value
    assert "GoogLeNet top-1" in set(table["transform"])


def test_a_closed_tab_keeps_its_settings_and_upload_but_sends_no_outputs():
    """Only the open tab's outputs are built and sent (the sound's spectrogram was 0.75 MB on every first load);
    a closed tab still draws its controls and uploader, so nothing the student set or uploaded is lost."""
    at = run_page(SCRIPT, query={"num_samples": "2", "snd_gain": "6"})
    assert not at.exception
    assert _grid(at).value and not at.get("audio") and not at.get("plotly_chart")  # images open: no sound outputs
    _full_captions(at)  # a setting of the images tab's outputs…
    at.selectbox(key="augmentation.detail").set_value(2).run()  # …and the close look at sample #2
    uploader = next(u for u in at.get("file_uploader") if u.label.startswith("…or upload a WAV"))
    uploader.set_value(("tone.wav", au.to_wav(au.make_signal("tone", 1.0)), "audio/wav")).run()
    assert not at.get("audio")  # uploaded while the sound tab is closed: kept, not yet played

    at.session_state["augmentation.tab"] = TABS["sound"]
    at.run()
    assert not at.exception
    assert len(at.get("audio")) == 2 and len(at.get("plotly_chart")) == 2
    assert not [im for im in at.get("image") if im.captions and im.captions[0].startswith("#")]  # no grid
    assert any("tone\\.wav**, 1.00 s" in m.value for m in at.markdown)  # the upload is still there (1 s, not 2)
    assert at.query_params["snd_gain"] == "6" and at.query_params["num_samples"] == "2"  # the link keeps both

    at.session_state["augmentation.tab"] = TABS["images"]
    at.run()
    assert not at.exception and not at.get("audio")
    grid = _grid(at)
    assert len(grid.value) == 2 and all(": " in c for c in grid.captions)  # full captions still on
    assert at.selectbox(key="augmentation.detail").value == 2
