"""ui helpers in a real Streamlit script run (AppTest): URL state and image input."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.conftest import APPTEST_TIMEOUT, ROOT


def _controls_script(root: str):
    import sys

    sys.path.insert(0, root)  # AppTest runs this function's source as a script elsewhere
    import streamlit as st

    import ui
    from lab.params import Param

    specs = (
        Param("lr", "Learning rate", 0.1, kind="log", lo=1e-4, hi=10.0),
        Param("steps", "Steps", 100, kind="int", lo=1, hi=1000),
        Param("opt", "Optimiser", "gd", kind="choice", options=("gd", "adam")),
        Param("show", "Show", False, kind="bool"),
    )
    values = ui.controls(specs, page="demo")
    ui.sync_url(specs, values)
    st.write(f"values={values}")


def _app(query: dict | None = None) -> AppTest:
    at = AppTest.from_function(_controls_script, args=(str(ROOT),), default_timeout=APPTEST_TIMEOUT)
    at.session_state["global.seed"] = 0
    for key, value in (query or {}).items():
        at.query_params[key] = value
    return at


def test_link_values_reach_the_widgets_and_bad_ones_are_reported():
    at = _app({"lr": "0.02", "steps": "250", "opt": "nope"}).run()
    assert not at.exception
    assert at.select_slider(key="demo.lr").value == 0.02
    assert at.slider(key="demo.steps").value == 250
    assert at.selectbox(key="demo.opt").value == "gd"
    assert len(at.warning) == 1 and "Optimiser (opt): expected one of gd, adam; using gd" in at.warning[0].value
    assert "nope" not in at.warning[0].value  # the link's value is never echoed


def test_changing_a_widget_writes_the_url():
    at = _app().run()
    assert dict(at.query_params) == {}
    at.slider(key="demo.steps").set_value(300).run()
    at.selectbox(key="demo.opt").set_value("adam").run()
    assert at.query_params["steps"] == "300" and at.query_params["opt"] == "adam"
    assert "lr" not in at.query_params  # defaults stay out of the link


# --- image_input: the sample photo in the link, and bad uploads -----------------------------------------------------


def _image_script(root: str):
    import sys

    sys.path.insert(0, root)
    import streamlit as st

    import ui
    from lab.params import Param

    specs = (Param("steps", "Steps", 100, kind="int", lo=1, hi=1000),)
    loaded = ui.image_input("demo")
    values = ui.controls(specs, page="demo")
    ui.sync_url(specs, values)
    st.write(f"showing={loaded.name}")


def _image_app(query: dict | None = None) -> AppTest:
    at = AppTest.from_function(_image_script, args=(str(ROOT),), default_timeout=APPTEST_TIMEOUT)
    at.session_state["global.seed"] = 0
    for key, value in (query or {}).items():
        at.query_params[key] = value
    return at


def _showing(at: AppTest) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("showing=")).removeprefix("showing=")


def _png(size: tuple[int, int] = (64, 48), mode: str = "RGBA") -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new(mode, size, (10, 200, 30, 128) if mode == "RGBA" else (10, 200, 30)).save(out, "PNG")
    return out.getvalue()


def test_the_sample_photo_comes_from_the_link():
    at = _image_app({"photo": "astronaut"}).run()
    assert not at.exception
    assert at.selectbox(key="demo.sample").value == "astronaut"
    assert _showing(at) == "astronaut.jpg"
    assert at.query_params["photo"] == "astronaut"  # sync_url keeps it


def test_an_unknown_sample_in_the_link_falls_back_to_the_default():
    at = _image_app({"photo": "../../etc/passwd", "steps": "300"}).run()
    assert not at.exception and not at.error
    assert at.selectbox(key="demo.sample").value == "cat" and _showing(at) == "cat.jpg"
    assert len(at.warning) == 1 and "Sample photo (photo): expected one of cat" in at.warning[0].value
    assert "passwd" not in at.warning[0].value
    assert "photo" not in at.query_params and at.query_params["steps"] == "300"  # the rest of the link is kept


def test_choosing_a_sample_writes_the_link_and_other_settings_keep_it():
    at = _image_app().run()
    assert "photo" not in at.query_params
    at.selectbox(key="demo.sample").set_value("astronaut").run()
    assert at.query_params["photo"] == "astronaut"
    at.slider(key="demo.steps").set_value(300).run()  # another setting: sync_url rewrites the link
    assert at.query_params["photo"] == "astronaut" and at.query_params["steps"] == "300"
    at.selectbox(key="demo.sample").set_value("cat").run()
    assert "photo" not in at.query_params  # the default stays out of the link
    assert not at.exception


def test_a_bad_upload_keeps_the_last_good_upload_across_a_run_without_a_file():
    at = _image_app().run()
    uploader = lambda: at.get("file_uploader")[0]  # noqa: E731 — the element is rebuilt by every run
    uploader().set_value(("holiday.png", _png(), "image/png")).run()
    assert _showing(at) == "holiday.png" and not at.error
    # Replacing the file in a browser runs the script once with no file in between (seen in Chromium).
    uploader().set_value(None).run()
    assert _showing(at) == "cat.jpg"
    uploader().set_value(("broken.jpg", b"this is not a photo" * 10, "image/jpeg")).run()
    assert not at.exception
    assert _showing(at) == "holiday.png"
    assert len(at.error) == 1 and "Still showing your last good upload, **holiday\\.png**" in at.error[0].value
    assert "broken\\.jpg" in at.error[0].value


def test_a_bad_first_upload_names_the_sample_that_is_shown():
    at = _image_app({"photo": "coffee"}).run()
    at.get("file_uploader")[0].set_value(("tiny.png", _png((1, 1), "RGB"), "image/png")).run()
    assert not at.exception and _showing(at) == "coffee.jpg"
    assert len(at.error) == 1 and "Still showing the sample photo, **coffee\\.jpg**" in at.error[0].value


def test_the_sample_photo_survives_a_page_link_and_navigation():
    from tests.conftest import run_page

    at = run_page("app_pages/convolution.py", query={"photo": "rocket"})
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="conv.sample").value == "rocket"
    assert at.query_params["photo"] == "rocket"
    at.switch_page("app_pages/logistic_regression.py").run()
    assert not at.exception
    assert "photo" not in at.query_params  # the photo belongs to the convolution page's link only
    at.switch_page("app_pages/convolution.py").run()
    assert at.selectbox(key="conv.sample").value == "rocket" and at.query_params["photo"] == "rocket"


# --- hostile links: one notice, no echo; capped widgets; failed uploads decoded once ----------------------------------


def _many_groups_script(root: str):
    import sys

    sys.path.insert(0, root)
    import streamlit as st

    import ui
    from lab.params import Param

    ui.page_header("Demo")
    a = (Param("steps", "Steps", 100, kind="int", lo=1, hi=1000), Param("show", "Show", False, kind="bool"))
    b = (Param("feats", "Features", ("x",), kind="multi", options=("x", "y", "z"), max_len=2),)
    c = (Param("note", "Note", "", kind="text", max_len=12),)
    ui.image_input("demo")
    values = ui.controls(a, page="a")
    with st.sidebar:
        values |= ui.controls(b, page="b")
    values |= ui.controls(c, page="c")
    ui.sync_url(a + b + c, values)
    st.write(f"values={values}")


def test_a_bad_link_shows_one_notice_listing_every_fix_without_its_values():
    evil = "[win](https://evil.example) ![x](https://evil.example/p.png)"
    query = {"steps": evil, "show": evil, "feats": "x,x,x,y,z", "note": evil, "photo": evil}
    at = AppTest.from_function(_many_groups_script, args=(str(ROOT),), default_timeout=APPTEST_TIMEOUT)
    at.session_state["global.seed"] = 0
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception
    assert len(at.warning) == 1, [w.value for w in at.warning]
    notice = at.warning[0].value
    for words in ("Steps (steps)", "Show (show)", "Features (feats): expected up to 2 of", "Note (note)",
                  "Sample photo (photo)"):  # fmt: skip
        assert words in notice
    assert "evil" not in notice and "](" not in notice
    at.slider(key="a.steps").set_value(300).run()  # the next run: nothing new is read from the link
    assert not at.warning and at.query_params["steps"] == "300"


def test_multiselect_and_text_widgets_are_capped():
    at = AppTest.from_function(_many_groups_script, args=(str(ROOT),), default_timeout=APPTEST_TIMEOUT)
    at.session_state["global.seed"] = 0
    at.run()
    assert at.multiselect(key="b.feats").max_selections == 2
    assert at.text_input(key="c.note").max_chars == 12


def test_a_bad_upload_is_decoded_once_not_on_every_rerun(monkeypatch):
    from lab import images

    calls = []
    original = images.load_image

    def counting(*args, **kwargs):
        calls.append(args[1] if len(args) > 1 else kwargs.get("name"))
        return original(*args, **kwargs)

    monkeypatch.setattr(images, "load_image", counting)
    at = _image_app().run()
    at.get("file_uploader")[0].set_value(("bad.png", b"not a picture at all" * 50, "image/png")).run()
    at.slider(key="demo.steps").set_value(300).run()
    at.slider(key="demo.steps").set_value(400).run()
    assert not at.exception and len(at.error) == 1 and "not an image we can read" in at.error[0].value
    assert calls.count("bad.png") == 1


def test_upload_names_are_shown_literally():
    at = _image_app().run()
    name = "[x](https:__evil.example) ![y](a.png).png"
    at.get("file_uploader")[0].set_value((name, b"junk" * 100, "image/png")).run()
    assert not at.exception
    message = at.error[0].value
    assert "](" not in message and "\\[x\\]" in message
