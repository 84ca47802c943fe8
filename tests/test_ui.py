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
    assert any("opt=nope" in w.value for w in at.warning)


def test_changing_a_widget_writes_the_url():
    at = _app().run()
    assert dict(at.query_params) == {}
    at.slider(key="demo.steps").set_value(300).run()
    at.selectbox(key="demo.opt").set_value("adam").run()
    assert at.query_params["steps"] == "300" and at.query_params["opt"] == "adam"
    assert "lr" not in at.query_params  # defaults stay out of the link
