"""Browser test of the logistic-regression lab: charts render, stepping and a bad CSV work in real Chromium."""

from __future__ import annotations

import pytest

from tests.browser import assert_no_exception, open_page, screenshot, upload, wait_for_script

pytestmark = pytest.mark.browser


def test_logistic_page_renders_charts_and_steps(page, streamlit_server, tmp_path):
    open_page(page, streamlit_server, "logistic-regression?dataset=circles&features=x1%5E2,x2%5E2&compare=1")
    assert_no_exception(page)
    # (a) boundary, (b) landscape, (c) curves are real plotly charts in the DOM.
    page.wait_for_selector(".js-plotly-plot", timeout=60_000)
    assert page.locator(".js-plotly-plot").count() >= 3
    assert page.locator(".katex").count() >= 4  # st.latex maths rendered
    assert "agree" in page.inner_text("body")
    screenshot(page, "logistic_regression")

    # One update back: the step metric follows.
    page.get_by_role("button", name="◀ step").click()
    wait_for_script(page)
    assert_no_exception(page)
    assert "199 / 200" in page.inner_text("body")

    # A CSV with one class: an error on the page, never a traceback, and the generated data stay.
    bad = tmp_path / "one_class.csv"
    bad.write_text("x1,x2,label\n0.1,0.2,1\n0.3,0.4,1\n0.5,0.1,1\n")
    upload(page, bad)
    assert_no_exception(page)
    text = page.inner_text("body")
    assert "at least two classes" in text and "Still using the generated" in text
    screenshot(page, "logistic_regression_bad_csv")
