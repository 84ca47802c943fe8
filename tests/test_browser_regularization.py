"""Lab 4 in a real browser: the page renders, a short comparison runs to the end, every tab draws."""

from __future__ import annotations

import pytest

from tests.browser import assert_no_exception, open_page, screenshot, wait_for_script

pytestmark = pytest.mark.browser

# 2 configurations, 4 epochs, 100 samples: a short run that still shows every view
QUERY = "regularization?variants=baseline,batchnorm&num_epochs=4&n_train=100"


def test_short_comparison_runs_to_the_end(page, streamlit_server):
    open_page(page, streamlit_server, QUERY)
    assert_no_exception(page)
    page.get_by_role("button", name="Train & compare").click()
    page.wait_for_timeout(500)
    wait_for_script(page)
    assert_no_exception(page)
    body = page.inner_text("body")
    assert "Train (solid) vs validation (dashed)" in body or page.locator(".js-plotly-plot").count() >= 2
    screenshot(page, "regularization-curves")
    for tab in ("Table & export", "Activations", "Gradients", "BN statistics", "Dropout", "Bias before BN",
                "Vanishing gradients"):  # fmt: skip
        page.get_by_role("tab", name=tab, exact=True).click()
        page.wait_for_timeout(300)
        assert_no_exception(page)
    page.get_by_role("tab", name="Table & export", exact=True).click()
    assert page.get_by_text("Download curves (CSV)").count() >= 1
    page.get_by_role("tab", name="BN statistics", exact=True).click()
    page.wait_for_timeout(500)
    screenshot(page, "regularization-bn")


def test_preset_shows_dropout_shrinking_the_gap(page, streamlit_server):
    open_page(page, streamlit_server, "regularization")
    page.get_by_role("button", name="Show me overfitting, then fix it with dropout").click()
    page.wait_for_timeout(500)
    wait_for_script(page)
    assert_no_exception(page)
    body = page.inner_text("body")
    assert "Preset loaded" in body and "+ Dropout: loss gap" in body and "vs baseline" in body
    screenshot(page, "regularization-preset")
