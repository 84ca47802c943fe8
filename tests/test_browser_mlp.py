"""Browser: the MLP page trains from its button in a real server, live, with no exception."""

from __future__ import annotations

import pytest

from tests.browser import FINISHED, RUNNING, assert_no_exception, open_page, screenshot, wait_for_script

pytestmark = pytest.mark.browser


def _epoch(page) -> str:
    metric = page.locator('[data-testid="stMetric"]', has_text="Epoch")
    return metric.locator('[data-testid="stMetricValue"]').inner_text().strip()


def test_mlp_trains_from_the_button_and_finishes(streamlit_server, page):
    open_page(
        page,
        streamlit_server,
        "mlp?dataset=spiral&noise=0.02&w1=8&w2=8&optimizer=adam&lr=0.02&batch_size=16&num_epochs=150",
    )
    assert_no_exception(page)
    assert _epoch(page) == "0"
    page.get_by_role("button", name="Train 150 epochs").click()
    page.wait_for_selector(RUNNING, timeout=30_000)
    wait_for_script(page)
    page.wait_for_selector(FINISHED)
    assert_no_exception(page)
    assert _epoch(page) == "150"
    assert "Test accuracy" in page.inner_text("body")
    screenshot(page, "mlp_trained")


def test_mlp_pause_stops_a_long_run_midway(streamlit_server, page):
    open_page(page, streamlit_server, "mlp?num_epochs=5000")
    page.get_by_role("button", name="Train 5000 epochs").click()
    page.wait_for_selector(RUNNING, timeout=30_000)
    page.wait_for_timeout(2500)
    page.get_by_role("button", name="Pause").click()
    wait_for_script(page)
    assert_no_exception(page)
    epoch = int(_epoch(page).replace(",", ""))
    assert 0 < epoch < 5000  # stopped midway, the weights kept
