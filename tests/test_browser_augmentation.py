"""Browser tests of the augmentation lab: the grid and Resample, cell sizes, layout at 1000/1400 px,
training that survives clicks elsewhere, and the sidebar seed changed during the first run."""

from __future__ import annotations

import pytest

from tests.browser import (
    FINISHED,
    assert_no_exception,
    assert_tabs_fit,
    fresh_server,
    open_page,
    screenshot,
    wait_for_script,
)

pytestmark = pytest.mark.browser

TAB_NAMES = ("Images", "Sound", "As a regulariser")


def _captions(page) -> list[str]:
    return [c for c in page.locator('[data-testid="stImageCaption"]').all_inner_texts() if c.startswith("#")]


def _cell_widths(page) -> set[int]:
    """Rendered widths (CSS px) of the grid's sample images."""
    images = page.locator('.st-key-augmentation-grid [data-testid="stImage"] img')
    return {round(b["width"]) for b in (im.bounding_box() for im in images.all()) if b}


def test_augmentation_grid_resample_and_sound(page, streamlit_server):
    open_page(page, streamlit_server, "augmentation?num_samples=8&blur=1")
    assert_no_exception(page)
    page.wait_for_selector('[data-testid="stImage"] img', timeout=60_000)
    before = _captions(page)
    assert before == [f"#{i}" for i in range(1, 9)], before  # short captions
    page.locator('[data-testid="stCheckbox"]').filter(has_text="Drawn parameters under every sample").locator(
        "label"
    ).click()
    wait_for_script(page)
    before = _captions(page)
    assert len(before) == 8 and all("blur σ=" in c for c in before), before
    screenshot(page, "augmentation")

    page.get_by_role("button", name="Resample").first.click()
    wait_for_script(page)
    assert_no_exception(page)
    after = _captions(page)
    assert len(after) == 8 and after != before
    assert "draw=1" in page.url

    page.get_by_role("tab", name="Sound").click()
    wait_for_script(page)
    page.wait_for_selector("audio", state="attached", timeout=30_000)
    assert page.locator("audio").count() == 2
    assert page.locator('[data-testid="stTabs"] .js-plotly-plot').count() >= 2
    assert "tab=sound" in page.url  # the open tab is in the link
    screenshot(page, "augmentation_sound")


def test_the_preview_size_changes_the_cells_on_screen(page, streamlit_server):
    """Cells were always 140 px whatever the preview size; now they are shown at the preview's width."""
    open_page(page, streamlit_server, "augmentation?num_samples=3&side=128")
    page.wait_for_selector(".st-key-augmentation-grid img", timeout=60_000)
    small = _cell_widths(page)
    open_page(page, streamlit_server, "augmentation?num_samples=3&side=384")
    page.wait_for_selector(".st-key-augmentation-grid img", timeout=60_000)
    large = _cell_widths(page)
    assert small == {128} and large == {384}, (small, large)


def test_layout_fits_at_laptop_and_desktop_widths(page, streamlit_server):
    page.set_default_timeout(90_000)
    open_page(page, streamlit_server, "augmentation?side=384&num_samples=6")
    assert_tabs_fit(page, "augmentation", TAB_NAMES, height=3000)


def test_train_both_survives_a_click_elsewhere(page, streamlit_server):
    """Any widget touch used to abort a running "Train both" silently; now the runs continue to the end."""
    open_page(page, streamlit_server, "augmentation?tab=train&tr_epochs=40&tr_train_size=200&num_samples=2")
    page.get_by_role("button", name="Train both").click()
    page.wait_for_selector('[data-testid="stProgress"]', timeout=60_000)
    page.get_by_role("tab", name="Images").click()  # a rerun in the middle of training…
    page.wait_for_timeout(500)
    page.get_by_role("button", name="Resample").first.click()  # …and another
    page.wait_for_timeout(500)
    page.get_by_role("tab", name="As a regulariser").click()
    try:
        page.get_by_text("Validation accuracy, without").wait_for(timeout=240_000)
    finally:
        screenshot(page, "augmentation_training")
    wait_for_script(page, timeout=180_000)
    assert_no_exception(page)
    body = page.inner_text("body")
    assert "Validation accuracy, without" in body and "Training was stopped" not in body
    screenshot(page, "augmentation_training")


def test_changing_the_seed_during_the_first_run_keeps_the_settings(browser_context):
    """Issue 15 §2: a seed change while the page's first run was going reset sliders to their minimums.

    Cause (fixed in ``ui.widgets._widget``, which now passes the value as the widget's default): ``ui.controls``
    wrote the link's value into ``st.session_state`` and created the slider with no ``value=``, so the
    element's default was the slider's minimum. When the rerun supersedes the run
    whose deltas first carried the slider, the browser mounts it fresh from a later element that no
    longer says "set this value" (the server thinks the browser has it) and shows the default: the minimum
    (an empty list for a multiselect). The server still holds the right value (the link keeps it), so the
    next click sends the minimum back.
    """
    with fresh_server() as url:
        for attempt in range(10):
            page = browser_context.new_page()  # a new page is a new Streamlit session: its first run again
            page.set_default_timeout(90_000)
            try:
                page.goto(f"{url}/augmentation?num_samples=7&rotate_deg=20", wait_until="domcontentloaded")
                seed = page.locator('input[aria-label="Random seed"]')
                seed.wait_for()
                page.wait_for_timeout(80 * attempt)  # at different moments of the first run
                seed.fill(str(10 + attempt))
                seed.press("Enter")
                wait_for_script(page)
                page.wait_for_selector(FINISHED)
                assert_no_exception(page)
                values = page.locator('[data-testid="stSliderThumbValue"]').all_inner_texts()
                assert values[:4] == ["7", "0.50", "1.33", "20"], (attempt, values[:4])
                assert "num_samples=7" in page.url and "rotate_deg=20" in page.url, page.url
            finally:
                page.close()
