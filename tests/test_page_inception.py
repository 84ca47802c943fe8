"""AppTest of the GoogLeNet page: renders, photo upload → predictions + feature maps, bad weights refused."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from lab import inception as I
from tests.conftest import run_page

SCRIPT = "app_pages/inception.py"


def _texts(at) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [w.value for w in at.warning]
    parts += [s.value for s in at.subheader] + [s.value for s in at.success] + [e.value for e in at.error]
    return "\n".join(str(p) for p in parts)


def _image_captions(at) -> list[str]:
    return [str(img.caption) for el in at.get("image") for img in el.proto.imgs]


#: The page's tab labels by the short name the link uses.
TABS = {
    "photo": "Your photo",
    "overview": "Overview",
    "block": "Block",
    "layers": "Layers",
    "paper": "Paper",
    "gradcam": "Grad-CAM",
    "featurevis": "Feature vis",
}


def _open(at, tab: str):
    """Open a tab as a click on it does (the tab's state, then a rerun): only the open tab is built."""
    at.session_state["inception.tab"] = TABS[tab]
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _caveats(at, start: str = "**Untrained network:**") -> list[str]:
    """The untrained caveats of every interpreting tab (each tab is opened in turn), then back to the photo."""
    found = []
    for tab in ("photo", "overview", "gradcam", "featurevis"):
        found += [str(w.value) for w in _open(at, tab).warning if str(w.value).startswith(start)]
    _open(at, "photo")
    return found


def _uploader(at, key: str):
    return next(u for u in at.get("file_uploader") if u.key == key)


def _jpeg(size=(640, 480)) -> bytes:
    rng = np.random.default_rng(0)
    img = Image.fromarray(rng.integers(0, 255, (12, 16, 3), dtype=np.uint8)).resize(size)
    buf = io.BytesIO()
    img.save(buf, "JPEG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def at(tmp_path_factory):
    # no weights anywhere: the untrained fallback (tests never download)
    mp = pytest.MonkeyPatch()
    mp.delenv("DL101_GOOGLENET_WEIGHTS", raising=False)
    mp.setattr(torch.hub, "get_dir", lambda: str(tmp_path_factory.mktemp("hub")))
    page = run_page(SCRIPT)
    yield page
    mp.undo()


def test_page_renders_untrained_notice_table_and_maps(at):
    assert not at.exception, [e.value for e in at.exception]
    text = _texts(at)
    assert "Untrained network" in text and "predictions are meaningless" in text
    assert "architecture, shape and cost views are still exact" in text and "random filters" in text
    assert "Top-5 predictions" in text and "Strongest channels of inception4c" in text
    assert len(at.get("imgs")) >= 1 or len(at.get("image")) >= 1
    # Only the open tab is built: no architecture metrics, overview or paper tables until their tab opens.
    assert not at.metric and not any("stage by stage" in c.proto.spec for c in at.get("plotly_chart"))
    _open(at, "layers")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["parameters (without aux heads)"] == "6,624,904"
    assert metrics["multiply-adds at 224²"] == "1.498 G"
    assert "theoretical receptive field" in text and "centre-weighted" in text  # issue 14: not "the" field
    assert any("aux" in e.value.lower() or "5×5" in e.value for e in _open(at, "paper").markdown)
    _open(at, "photo")


def test_field_beyond_the_input_is_named_for_the_chosen_size(at):
    # issue 14: "from inception4 on it is larger than the 224×224 image" was wrong (4a-4d: 107-203 px)
    _open(at, "layers")
    for size, name in ((224, "inception4e"), (96, "inception4a")):
        at.slider(key="inception.arch.input_size").set_value(size).run()
        row = I.first_field_beyond_input(I.layer_table(size))
        assert row is not None and row.name == name
        text = _texts(at)
        assert f"from {name} on ({row.rf}×{row.rf}) it is larger than the {size}×{size} input" in text
        assert "from inception4 on" not in text
    at.slider(key="inception.arch.input_size").set_value(512).run()
    assert "no layer's field is larger than the 512×512 input" in _texts(at)
    at.slider(key="inception.arch.input_size").set_value(224).run()
    _open(at, "photo")


def test_uploading_a_photo_shows_predictions_and_feature_maps(at):
    _open(at, "photo")
    _uploader(at, "inception.upload").set_value(("holiday.jpg", _jpeg(), "image/jpeg")).run()
    assert not at.exception, [e.value for e in at.exception]
    text = _texts(at)
    assert "Working on **holiday\\.jpg** (640×480 px)" in text  # the name is escaped (Markdown-inert)
    frames = at.dataframe
    top5 = next(f.value for f in frames if "probability" in f.value.columns and "ImageNet index" in f.value.columns)
    assert len(top5) == 5 and top5["probability"].between(0, 1).all()
    at.selectbox(key="inception.layer").set_value("inception3b").run()
    at.selectbox(key="inception.branch").set_value("branch3").run()
    assert not at.exception
    assert "Strongest channels of inception3b.branch3" in _texts(at)
    assert at.query_params.get("layer") in (["inception3b"], "inception3b")
    # the overlay picker belongs to this selection: its labels are this layer's channels, not the previous one's
    pick = next(s for s in at.selectbox if s.key.startswith("inception.pick."))
    assert pick.key == "inception.pick.inception3b.branch3.post"
    shown = next(c for c in _image_captions(at) if "over the 224×224 crop" in c).split(" over")[0]
    assert pick.format_func(pick.value).startswith(shown + " [")


def test_input_size_below_15_is_explained(at):
    _open(at, "layers")
    at.slider(key="inception.arch.input_size").set_value(14).run()
    assert not at.exception
    text = _texts(at)
    assert "14×14 is too small" in text and "15×15" in text
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["parameters (without aux heads)"] == "6,624,904"  # was 620,832: only the layers reached
    assert metrics["multiply-adds at 14²"] == "—"
    at.slider(key="inception.arch.input_size").set_value(320).run()
    assert "multiply-adds at 320²" in {m.label for m in at.metric}
    assert I.layer_table(320).total_macs / 1e9 == pytest.approx(
        float(next(m.value for m in at.metric if m.label == "multiply-adds at 320²").split()[0]), abs=1e-3
    )


def test_block_view_shows_branches_and_saving(at):
    _open(at, "block")
    at.selectbox(key="inception.block.block").set_value("inception3a").run()
    text = _texts(at)
    assert "1×1 reductions are the paper's key idea" in text and "416 channels" in text
    frames = at.dataframe
    branches = next(f.value for f in frames if "output channels" in f.value.columns)
    assert list(branches["output channels"]) == ["0…63", "64…191", "192…223", "224…255", "0…255"]


def test_a_server_whose_upload_cap_is_below_a_weights_file_offers_no_weights_upload(monkeypatch, tmp_path):
    """A server capped at 20 MB (photos only): the widget would take a 50 MB file the server then refuses (a
    per-widget limit is checked by the browser only), so the page says uploads are off."""
    from streamlit import config

    cap = 20
    monkeypatch.delenv("DL101_GOOGLENET_WEIGHTS", raising=False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    local = config.get_option("server.maxUploadSize")
    config.set_option("server.maxUploadSize", cap)
    try:
        page = run_page(SCRIPT)
    finally:
        config.set_option("server.maxUploadSize", local)
    assert not page.exception
    assert not [u for u in page.get("file_uploader") if u.key == "inception.weights"]
    off = [c.value for c in page.caption if "Uploading weights is off on this server" in c.value]
    assert off and f"up to {cap} MB" in off[0]
    assert any(u.key == "inception.upload" for u in page.get("file_uploader"))  # photos still upload


def test_bad_weight_upload_is_refused_with_a_message(at, tmp_path):
    target = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(target), "w"))

    buf = io.BytesIO()
    torch.save({"x": Evil()}, buf)
    _uploader(at, "inception.weights").set_value(("evil.pth", buf.getvalue(), "application/octet-stream")).run()
    assert not at.exception
    errors = " ".join(e.value for e in at.error)
    assert "refused" in errors and "nothing in the file was run" in errors
    assert not target.exists()
    assert "Untrained network" in _texts(at)  # still usable


def test_block_savings_compare_like_with_like(at):
    _open(at, "block")
    at.selectbox(key="inception.block.block").set_value("inception3a").run()
    a = I.block_anatomy("inception3a")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["naive ÷ reduced, 5×5"] == f"×{a.naive.macs / a.paper_macs:.2f} MACs"
    assert metrics["naive ÷ reduced, 3×3"] == f"×{a.naive_tv.macs / a.macs:.2f} MACs"
    assert "like with like" in _texts(at)


def test_architecture_table_has_input_shape_and_activation_memory(at):
    _open(at, "layers")
    at.slider(key="inception.arch.input_size").set_value(224).run()
    table = next(f.value for f in at.dataframe if "activation memory" in f.value.columns)
    assert {"input shape", "theoretical receptive field"} <= set(table.columns)
    assert table["input shape"].iloc[0] == "3×224×224"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["activation memory"] == I.format_bytes(I.layer_table(224).total_act_bytes)


def test_paper_tables_are_formatted_and_the_deviations_complete(at):
    _open(at, "paper")
    frames = [f.value for f in at.dataframe if "printed" in f.value.columns]
    assert len(frames) == 2 and all(len(f.columns) <= 5 for f in frames)
    assert frames[0]["paper, 5×5 (computed)"].iloc[0] == "163,328"  # separators, not 163328
    assert any("Table 1 widths" in f.value.columns for f in at.dataframe)
    text = _texts(at)
    assert "our inference" in text and "adaptive average pool" in text and "aux heads' pool is adaptive" in text
    assert "15×15 is torchvision's property" in text


def test_every_interpreting_tab_carries_the_untrained_caveat(at):
    caveats = _caveats(at)
    assert len(caveats) >= 5, caveats  # overview, top-5, Grad-CAM, knock-out, feature visualisation
    joined = " ".join(caveats)
    for needle in ("five classes", "Grad-CAM", "branch that matters", "random* filters", "fc"):
        assert needle in joined, needle


def test_grad_cam_explains_any_of_the_1000_classes(at):
    _open(at, "gradcam")
    box = next(s for s in at.selectbox if s.key.startswith("inception.cam_class."))
    assert len(box.options) == 1000
    box.set_value(281).run()  # tabby, wherever it ranks
    assert not at.exception
    assert any("for “tabby”" in c for c in _image_captions(at))


def test_knock_out_ranking_has_named_axes_and_a_percent_colour_bar(at):
    import json

    _open(at, "gradcam")
    at.button(key="inception.ko_all").click().run()
    assert not at.exception
    chart = next(c for c in at.get("plotly_chart") if "one branch zeroed" in c.proto.spec)
    spec = json.loads(chart.proto.spec)
    trace = spec["data"][0]
    assert trace["y"] == ["3a", "3b", "4a", "4b", "4c", "4d", "4e", "5a", "5b"]
    assert trace["x"][0] == "1×1" and len(trace["x"]) == 4
    assert trace["colorbar"]["tickformat"] == ".0%"


def test_overview_draws_every_stage_with_clickable_thumbnails(at):
    import json

    chart = next(c for c in _open(at, "overview").get("plotly_chart") if "stage by stage" in c.proto.spec)
    spec = json.loads(chart.proto.spec)
    images = spec["layout"]["images"]
    assert len(images) == len(spec["data"][0]["x"]) == 60  # 9 blocks × 4 branches + 6 plain layers × 3 + 6
    texts = [a["text"] for a in spec["layout"]["annotations"]]
    assert "64×112×112" in texts and "1024×7×7" in texts and "<b>4c</b>" in texts


def _state_bytes(model) -> bytes:
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    return buf.getvalue()


def test_random_weights_are_custom_and_look_untrained_never_verified(at):
    from torchvision.models import googlenet

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        fresh = googlenet(weights=None, aux_logits=False, init_weights=True, transform_input=True).half()
    _uploader(at, "inception.weights").set_value(("googlenet-1378be20.pth", _state_bytes(fresh), "x")).run()
    assert not at.exception, [e.value for e in at.exception]
    text = _texts(at)
    assert "these weights look untrained" in text and "verified" not in " ".join(str(s.value) for s in at.success)
    caveats = _caveats(at, "**These weights look untrained:**")
    assert len(caveats) >= 5


def test_zip_bomb_upload_gets_a_message_and_the_page_keeps_working(at):
    import zipfile

    buf = io.BytesIO()
    torch.save({"fc.bias": torch.zeros(10)}, buf)
    bomb = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as src, zipfile.ZipFile(bomb, "w") as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info.filename), compress_type=zipfile.ZIP_DEFLATED)
    _uploader(at, "inception.weights").set_value(("bomb.pth", bomb.getvalue(), "x")).run()
    assert not at.exception
    errors = " ".join(str(e.value) for e in at.error)
    assert "zip bomb" in errors and "bomb.pth" not in errors  # the file name is never echoed
    assert "Untrained network" in _texts(at)


def test_a_stopped_feature_visualisation_is_not_shown_as_finished(at, monkeypatch):
    from streamlit.runtime.scriptrunner_utils.exceptions import StopException

    from lab import featurevis as FV

    real = FV.visualise_channel
    fast = {"fv_steps": 10, "fv_size": 64}
    _open(at, "featurevis")
    at.slider(key="inception.fv.fv_steps").set_value(fast["fv_steps"])
    at.slider(key="inception.fv.fv_size").set_value(fast["fv_size"]).run()
    at.button(key="inception.fv_run").click().run()  # a finished run first
    assert not at.exception and any("(finished, 10 steps)" in c for c in _image_captions(at))

    def stopped_midway(model, cfg, **kw):
        result = real(model, cfg, **{**kw, "on_preview": None})
        partial = FV.FeatureVis(result.image, FV.History(completed_steps=4, status="running"), cfg)
        kw["on_preview"](partial)
        raise StopException()  # what a click on Stop does inside the run

    monkeypatch.setattr(FV, "visualise_channel", stopped_midway)
    at.button(key="inception.fv_run").click().run()
    at.run()
    assert not at.exception
    text = _texts(at)
    assert "Stopped after 4 of 10 steps" in text and "not a finished visualisation" in text


def test_an_upload_name_is_never_live_markdown(at):
    name = "[x](http://e.vil)![p](http://e.vil/p.png).jpg"
    _uploader(at, "inception.upload").set_value((name, _jpeg(), "image/jpeg")).run()
    assert not at.exception
    shown = [str(c.value) for c in at.caption if "Working on" in str(c.value) or "Photo:" in str(c.value)]
    assert shown and all("](http" not in c and "\\[x\\]" in c for c in shown), shown


def test_a_public_server_without_weights_points_to_its_administrator(monkeypatch, tmp_path):
    """No download button or upload on a public server: the untrained notice must not send a student there."""
    monkeypatch.setenv("DL101_PUBLIC", "1")
    monkeypatch.delenv("DL101_GOOGLENET_WEIGHTS", raising=False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    at = run_page(SCRIPT)
    assert not at.exception, [e.value for e in at.exception]
    notice = next(str(w.value) for w in at.warning if "Untrained network — no ImageNet weights" in str(w.value))
    assert "administrator installs them" in notice and "Open *Weights* above" not in notice


def test_the_photo_and_closed_tabs_settings_survive_switching_tabs(at):
    """The uploader sits above the tabs (Streamlit forgets an undrawn uploader's file); a closed tab's settings
    stay in the link and come back with their widgets; the open tab is in the link."""
    _open(at, "photo")
    _uploader(at, "inception.upload").set_value(("trip.jpg", _jpeg((500, 400)), "image/jpeg")).run()
    at.selectbox(key="inception.layer").set_value("inception3a").run()
    at.slider(key="inception.alpha").set_value(0.8).run()
    _open(at, "layers")
    at.slider(key="inception.arch.input_size").set_value(320).run()
    _open(at, "overview")
    assert any("**trip\\.jpg**" in str(c.value) for c in at.caption)  # the overview works on the upload
    assert at.query_params.get("layer") in (["inception3a"], "inception3a")  # the closed photo tab's setting
    assert at.query_params.get("input_size") in (["320"], "320") and at.query_params.get("tab") in (
        ["overview"],
        "overview",
    )
    _open(at, "photo")
    assert "Working on **trip\\.jpg** (500×400 px)" in _texts(at)
    assert at.selectbox(key="inception.layer").value == "inception3a" and at.slider(key="inception.alpha").value == 0.8
    assert "tab" not in at.query_params
    _open(at, "layers")
    assert at.slider(key="inception.arch.input_size").value == 320
    at.slider(key="inception.arch.input_size").set_value(224).run()
    _open(at, "photo")
    at.selectbox(key="inception.layer").set_value("inception4c").run()


def test_the_tab_comes_from_the_link_and_a_bad_one_is_named():
    at = run_page(SCRIPT, query={"tab": "paper"})
    assert not at.exception and at.session_state["inception.tab"] == "Paper"
    assert any("printed" in f.value.columns for f in at.dataframe)
    at = run_page(SCRIPT, query={"tab": "[x](http://e.vil)"})
    notice = " ".join(str(w.value) for w in at.warning)
    assert "Tab (tab)" in notice and "e.vil" not in notice and at.session_state["inception.tab"] == "Your photo"
