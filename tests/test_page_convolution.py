"""AppTest of the convolution page: renders, reacts to its widgets, takes uploads, keeps URL state."""

from __future__ import annotations

import io
import json
import re

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


#: The page's tab labels by the short name the link uses.
TABS = {"photo": "Your photo", "steps": "Worked example", "pool": "Pooling & shifts", "quiz": "Architecture & quiz"}


def _open(at, tab: str):
    """Open a tab as a click on it does (the tab's state, then a rerun): only the open tab is built."""
    at.session_state["conv.tab"] = TABS[tab]
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _quiz_buttons(at) -> list:
    return [b for b in at.button if b.key and b.key.startswith("conv.quiz_btn")]


@pytest.fixture(scope="module")
def at():
    page = run_page(SCRIPT)
    assert not page.exception, [e.value for e in page.exception]
    return page


def test_page_renders_with_maps_formula_stepper_and_quiz():
    at = run_page(SCRIPT)
    assert not at.exception and not _errors(at)
    text = _texts(at)
    assert "computing at" in text  # the compute resolution is stated
    assert "H_out = ⌊(" in text and "W_out = ⌊(" in text
    assert any("conv.map_click" in c.proto.id for c in at.get("plotly_chart"))  # the clickable feature map
    # Only the open tab is built: no stepper, pooled maps or quiz until their tab opens.
    ids = " ".join(c.proto.id for c in at.get("plotly_chart"))
    assert "conv.stepper_fig" not in ids and "conv.shift_fig" not in ids and not _quiz_buttons(at)
    assert "out[0, 0]" in _texts(_open(at, "steps")) and "= 4" in _texts(at)  # the lecture's first cell
    assert "H_out = ⌊(" not in _texts(at)  # the photo tab is closed now
    _open(at, "pool")
    assert len(at.get("image")) == 4  # the map and its pooled map, the two shift differences
    assert len(_quiz_buttons(_open(at, "quiz"))) == 5  # the lecture's four questions and the weight-sharing count


def test_widget_change_updates_the_output_size(at):
    at.slider(key="convolution.geo1.stride").set_value(2).run()
    assert not at.exception
    text = _texts(at)
    assert "/ 2⌋ + 1" in text
    assert at.query_params.get("stride") == ["2"] or at.query_params.get("stride") == "2"
    at.slider(key="convolution.geo1.stride").set_value(1).run()


def test_impossible_geometry_is_explained(at):
    # A 3×3 kernel with dilation 3 spans 7 pixels: the lecture's 5×5 image has no output.
    _open(at, "steps")
    at.slider(key="convolution.ex2.ex_dilation").set_value(3).run()
    assert not at.exception
    assert any("No output" in e and "3·(3−1)+1 = 7" in e for e in _errors(at)), _errors(at)
    at.slider(key="convolution.ex2.ex_padding").set_value(1).run()  # 5 + 2 = 7: one cell again
    assert not _errors(at) and "out[0, 0]" in _texts(at)
    at.slider(key="convolution.ex2.ex_dilation").set_value(1).run()
    at.slider(key="convolution.ex2.ex_padding").set_value(0).run()
    _open(at, "photo")


@pytest.mark.parametrize("mode", ["rgb", "bank"])
def test_channel_modes(mode):
    at = run_page(SCRIPT, query={"mode": mode})
    assert not at.exception and not _errors(at)
    n_maps = 3 if mode == "rgb" else 4
    assert f"{n_maps} map(s)" in _texts(at)


def test_quiz_reveal_and_stepper():
    at = run_page(SCRIPT, query={"tab": "quiz"})
    at.button(key="conv.quiz_btn.0").click().run()
    assert any("100×22×22" in s.value for s in at.success)
    _open(at, "steps")
    at.slider(key="conv.step.9").set_value(9).run()
    assert "out[2, 2]" in _texts(at)
    at.selectbox(key="convolution.ex1.ex_source").set_value("photo").run()
    assert not at.exception and "Crop of the grayscale photo" in _texts(at)
    _open(at, "quiz")
    assert any("100×22×22" in s.value for s in at.success)  # still revealed after a visit to another tab
    at.button(key="conv.arch_check").click().run()
    assert any("matches" in s.value for s in at.success)
    _open(at, "steps")  # the stepper kept its cell and input while closed (7×7 crop: 25 cells)
    assert at.slider(key="conv.step.25").value == 9 and "Crop of the grayscale photo" in _texts(at)


def test_settings_of_a_closed_tab_stay_in_the_link_the_code_and_their_widgets():
    at = run_page(SCRIPT, query={"tab": "pool"})
    at.selectbox(key="convolution.pool.pool").set_value("mean").run()
    at.select_slider(key="conv.shift_shown").set_value(3).run()
    at.radio(key="conv.shift_metric").set_value("correlation").run()
    _open(at, "quiz")
    assert any("100×22×22" in str(v) for df in at.dataframe for v in df.value.to_numpy().ravel().tolist() if v)
    at.number_input(key="conv.arch_h").set_value(64).run()
    _open(at, "photo")
    assert _query(at, "pool") == "mean" and _query(at, "arch_h") == "64" and _query(at, "tab") is None
    assert "avg_pool2d" in " ".join(c.value for c in at.code)  # the code follows the closed tab's pooling
    _open(at, "pool")
    assert at.selectbox(key="convolution.pool.pool").value == "mean"
    assert (
        at.select_slider(key="conv.shift_shown").value == 3 and at.radio(key="conv.shift_metric").value == "correlation"
    )
    _open(at, "quiz")
    assert at.number_input(key="conv.arch_h").value == 64


def test_url_state_is_read_back():
    at = run_page(
        SCRIPT,
        query={
            "kernel": "custom",
            "custom": "0,-1,0;-1,5,-1;0,-1,0",
            "stack": "c8k3s1p1-m2s2",
            "pool": "mean",
            "tab": "quiz",
        },
    )
    assert not at.exception
    assert at.selectbox(key="convolution.kernel.kernel").value == "custom"
    # The grid holds the link's weights:
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


def _query(at, name):
    value = at.query_params.get(name)
    return value[0] if isinstance(value, list) else value


def _notice(at) -> str:
    return " ".join(w.value for w in at.warning)


def test_statements_sharpen_cross_correlation_shift_and_quiz_assumptions():
    at = run_page(SCRIPT, query={"kernel": "sharpen"})
    assert not at.exception
    text = _texts(at) + _texts(_open(at, "pool")) + _texts(_open(at, "quiz"))
    assert "Identity minus the Laplacian" in text and "identity plus a Laplacian" not in text.lower()
    assert "cross-correlation" in text and "Sobel" in text and "emboss" in text  # the flip note
    assert "right and down" in text and "content moves **up and left**" in text  # the shift test's direction
    assert "Assumed by this app" in text and "100 filters of 5×5" in text and "2×2 max pooling with stride 2" in text


def test_weight_sharing_is_in_the_quiz_with_latex():
    at = run_page(SCRIPT, query={"tab": "quiz"})
    at.button(key="conv.quiz_btn.4").click().run()
    assert not at.exception
    assert any("27,648,921,600" in s.value and "7,600" in s.value for s in at.success)
    tex = " ".join(e.value for e in at.latex)
    assert r"27\,648\,921\,600" in tex and r"7\,600" in tex


def test_a_5000_digit_stack_in_the_link_gets_a_message_and_the_session_recovers():
    at = run_page(SCRIPT, query={"stack": "c" + "9" * 5000, "tab": "quiz"})
    assert not at.exception, [e.value for e in at.exception]
    notice = _notice(at)
    assert "stack" in notice and "9999" not in notice  # named, never echoed
    assert any("100×22×22" in str(v) for df in at.dataframe for v in df.value.to_numpy().ravel().tolist() if v)
    at.slider(key="convolution.geo1.stride").set_value(2).run()  # the next run works too
    assert not at.exception and "stack" not in _notice(at)
    assert _query(at, "stack") is None  # the bad stack left the link


def test_link_keeps_stepper_cell_architecture_input_and_tab():
    at = run_page(SCRIPT, query={"cell": "7", "arch_c": "1", "arch_h": "28", "arch_w": "32", "tab": "quiz"})
    assert not at.exception
    assert [at.number_input(key=f"conv.arch_{a}").value for a in "chw"] == [1, 28, 32]
    assert at.session_state["conv.tab"] == "Architecture & quiz"
    assert (_query(at, "cell"), _query(at, "arch_c"), _query(at, "arch_h"), _query(at, "arch_w")) == (
        "7",
        "1",
        "28",
        "32",
    )
    assert _query(at, "tab") == "quiz"
    at.number_input(key="conv.arch_h").set_value(64).run()
    _open(at, "steps")  # the linked cell waited in the closed tab
    assert at.slider(key="conv.step.9").value == 7 and "out[2, 0]" in _texts(at)
    at.slider(key="conv.step.9").set_value(3).run()
    assert _query(at, "cell") == "3" and _query(at, "arch_h") == "64"


def test_bad_linked_cell_and_dims_are_named_in_one_notice():
    at = run_page(SCRIPT, query={"cell": "[x](http://evil)", "arch_c": "9" * 50, "tab": "nope"})
    assert not at.exception
    notice = _notice(at)
    assert "cell" in notice and "arch_c" in notice and "tab" in notice and "evil" not in notice
    assert len([w for w in at.warning if "link" in w.value]) == 1


def test_bank_of_blur_and_sobel_captions_follow_each_maps_sign():
    at = run_page(SCRIPT, query={"mode": "bank", "bank": "gaussian_blur,sobel_x"})
    assert not at.exception
    # The selected map (the first) is the clickable figure with its caption under it; the others are pictures.
    captions = [i.caption for e in at.get("image") for i in e.proto.imgs] + [c.value for c in at.caption]
    blur = next(c for c in captions if c.startswith("Gaussian blur (3×k×k)"))
    sobel = next(c for c in captions if c.startswith("Sobel x (3×k×k)"))
    assert "one sign: viridis" in blur and "both signs: blue < 0 < red" in sobel


def test_zoom_map_options_follow_the_mode():
    at = run_page(SCRIPT)
    gray = next(s for s in at.selectbox if s.key and s.key.startswith("conv.zoom_map"))
    assert gray.options == ["Lecture edge on gray"] and gray.value == "Lecture edge on gray"
    at.selectbox(key="convolution.kernel.mode").set_value("rgb").run()
    rgb = next(s for s in at.selectbox if s.key and s.key.startswith("conv.zoom_map"))
    assert rgb.options == [f"Lecture edge on {c}" for c in ("red", "green", "blue")] and rgb.value == rgb.options[0]
    # A new set of maps is a new widget: the browser cannot keep showing the old label.
    assert rgb.key != gray.key


def test_impossible_stack_gets_no_quiz_answers():
    at = run_page(SCRIPT, query={"arch_h": "8", "arch_w": "8", "tab": "quiz"})
    assert not at.exception
    assert any("impossible" in e for e in _errors(at))
    assert any("quiz has no answers" in i.value for i in at.info)
    assert not [b for b in at.button if b.key and b.key.startswith("conv.quiz_btn")]


def test_kernel_size_is_fixed_for_3x3_presets_and_custom_grids_keep_their_weights():
    at = run_page(SCRIPT)
    fixed = at.slider(key="conv.size_fixed")
    assert fixed.disabled and fixed.value == 3
    at = run_page(SCRIPT, query={"kernel": "custom", "custom": "0,-1,0;-1,5,-1;0,-1,0"})
    at.slider(key="convolution.kernel.size").set_value(5).run()
    code = " ".join(c.value for c in at.code)
    assert "[[[[0, 0, 0, 0, 0], [0, 0, -1, 0, 0], [0, -1, 5, -1, 0], [0, 0, -1, 0, 0], [0, 0, 0, 0, 0]]]]" in code
    at.slider(key="convolution.kernel.size").set_value(3).run()
    assert "[[[[0, -1, 0], [-1, 5, -1], [0, -1, 0]]]]" in " ".join(c.value for c in at.code)


def test_check_with_a_huge_input_runs_on_meta_with_a_message():
    at = run_page(SCRIPT, query={"arch_c": "512", "arch_h": "1024", "arch_w": "1024", "tab": "quiz"})
    at.button(key="conv.arch_check").click().run()
    assert not at.exception
    assert any("meta" in i.value and "multiply-adds" in i.value for i in at.info)
    assert any("matches" in s.value and "meta device" in s.value for s in at.success)


def test_transposed_convolution_formula_is_shown():
    at = run_page(SCRIPT, query={"tr_stride": "2", "tr_padding": "1", "tab": "steps"})
    assert not at.exception
    assert any(e.value.strip("$\n ").endswith(r"= 5\end{aligned}") for e in at.latex)
    assert "F.conv_transpose2d" in _texts(at)


def test_a_linked_kernel_size_survives_a_fixed_preset():
    at = run_page(SCRIPT, query={"kernel": "edge", "size": "5"})
    assert not at.exception
    assert _query(at, "size") == "5"  # kept in the link while the 3×3 preset ignores it
    at.selectbox(key="convolution.kernel.kernel").set_value("box_blur").run()
    assert at.slider(key="convolution.kernel.size").value == 5


def test_selected_map_is_the_clickable_figure_and_the_others_stay_pictures():
    at = run_page(SCRIPT, query={"mode": "bank", "bank": "gaussian_blur,sobel_x,edge", "zoom_y": "0.2"})
    assert not at.exception
    (chart,) = [c for c in at.get("plotly_chart") if "conv.map_click" in c.proto.id]
    assert chart.proto.selection_mode  # clicks come back as selections
    spec = json.loads(chart.proto.spec)
    image, targets = spec["data"]
    assert image["type"] == "image" and image["source"].startswith("data:image/png;base64,")
    assert targets["type"] == "scatter" and spec["layout"]["clickmode"] == "event+select"
    # The outline is the window the hover figure shows (rows from the linked zoom_y=0.2).
    hover = next(c for c in at.get("plotly_chart") if "conv.hover_fig" in c.proto.id)
    title = json.loads(hover.proto.spec)["layout"]["title"]["text"]
    r0, r1 = (int(v) for v in re.search(r"rows (\d+)–(\d+)", title).groups())
    (shape,) = spec["layout"]["shapes"]
    assert (shape["y0"], shape["y1"]) == (r0 - 0.5, r1 + 0.5)
    photo, others = ([i.caption for i in e.proto.imgs] for e in at.get("image")[:2])  # the photo, then the maps
    assert photo[0].startswith("input")
    # The two maps not selected are pictures; the selected one (the first, the blur) is the figure.
    assert [c.split(" · ")[0] for c in others] == ["Sobel x (3×k×k)", "Lecture edge (3×k×k)"], others


def test_an_uploaded_file_name_is_shown_literally():
    at = run_page(SCRIPT)
    buf = io.BytesIO()
    Image.fromarray(np.full((40, 60, 3), 128, np.uint8)).save(buf, "PNG")
    at.get("file_uploader")[0].set_value(("[x](https:__evil.example) :red[**X**].png", buf.getvalue(), "image/png"))
    at.run()
    assert not at.exception
    line = next(c.value for c in at.caption if "as uploaded" in c.value)
    assert "\\[x\\]" in line and "](" not in line and ":red[" not in line
    (photo,) = [i.caption for e in at.get("image") for i in e.proto.imgs if i.caption.startswith("input")]
    assert "\\[x\\]" in photo and "](" not in photo and ":red[" not in photo  # an image caption is Markdown too
