"""Browser test of the augmentation lab: the preview grid renders, Resample redraws it, the sound tab plays."""

from __future__ import annotations

import pytest

from tests.browser import assert_no_exception, open_page, screenshot, wait_for_script

pytestmark = pytest.mark.browser


def _captions(page) -> list[str]:
    return [c for c in page.locator('[data-testid="stImageCaption"]').all_inner_texts() if c.startswith("#")]


def test_augmentation_grid_resample_and_sound(page, streamlit_server):
    open_page(page, streamlit_server, "augmentation?num_samples=8&blur=1")
    assert_no_exception(page)
    page.wait_for_selector('[data-testid="stImage"] img', timeout=60_000)
    assert page.locator('[data-testid="stImage"] img').count() >= 9  # the original + 8 samples
    before = _captions(page)
    assert len(before) == 8 and all("blur σ=" in c for c in before), before
    screenshot(page, "augmentation")

    page.get_by_role("button", name="Resample").click()
    wait_for_script(page)
    assert_no_exception(page)
    after = _captions(page)
    assert len(after) == 8 and after != before
    assert "draw=1" in page.url

    page.get_by_role("tab", name="Sound").click()
    page.wait_for_selector("audio", state="attached", timeout=30_000)
    assert page.locator("audio").count() == 2
    assert page.locator('[data-testid="stTabs"] .js-plotly-plot').count() >= 2
    screenshot(page, "augmentation_sound")
