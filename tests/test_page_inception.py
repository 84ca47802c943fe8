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
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["parameters (without aux heads)"] == "6,624,904"
    assert metrics["multiply-adds at 224²"] == "1.498 G"
    assert any("aux" in e.value.lower() or "5×5" in e.value for e in at.markdown)


def test_uploading_a_photo_shows_predictions_and_feature_maps(at):
    _uploader(at, "inception.upload").set_value(("holiday.jpg", _jpeg(), "image/jpeg")).run()
    assert not at.exception, [e.value for e in at.exception]
    text = _texts(at)
    assert "Working on **holiday.jpg** (640×480 px)" in text
    frames = at.dataframe
    top5 = next(f.value for f in frames if "probability" in f.value.columns and "ImageNet index" in f.value.columns)
    assert len(top5) == 5 and top5["probability"].between(0, 1).all()
    at.selectbox(key="inception.layer").set_value("inception3b").run()
    at.selectbox(key="inception.branch").set_value("branch3").run()
    assert not at.exception
    assert "Strongest channels of inception3b.branch3" in _texts(at)
    assert at.query_params.get("layer") in (["inception3b"], "inception3b")


def test_input_size_below_15_is_explained(at):
    at.slider(key="inception.arch.input_size").set_value(14).run()
    assert not at.exception
    text = _texts(at)
    assert "14×14 is too small" in text and "15×15" in text
    at.slider(key="inception.arch.input_size").set_value(320).run()
    assert "multiply-adds at 320²" in {m.label for m in at.metric}
    assert I.layer_table(320).total_macs / 1e9 == pytest.approx(
        float(next(m.value for m in at.metric if m.label == "multiply-adds at 320²").split()[0]), abs=1e-3
    )


def test_block_view_shows_branches_and_saving(at):
    at.selectbox(key="inception.block.block").set_value("inception3a").run()
    text = _texts(at)
    assert "1×1 reductions are the paper's key idea" in text and "416 channels" in text
    frames = at.dataframe
    branches = next(f.value for f in frames if "output channels" in f.value.columns)
    assert list(branches["output channels"]) == ["0…63", "64…191", "192…223", "224…255", "0…255"]


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
