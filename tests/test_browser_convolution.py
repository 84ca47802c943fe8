"""Browser e2e for the convolution page: upload a photo, hover the arithmetic, play the stepper, layout widths."""

from __future__ import annotations

import re

import pytest

from tests.browser import (
    assert_fits,
    assert_no_exception,
    at_each_width,
    open_page,
    screenshot,
    tall_screenshot,
    upload,
    wait_for_script,
    write_photo,
)

HOVER_FIG = '[class*="st-key-conv-hover_fig"] .js-plotly-plot'
STEPPER_FIG = '[class*="st-key-conv-stepper_fig"] .js-plotly-plot'
TAB_NAMES = ("Your photo", "Worked example", "Pooling & shifts", "Architecture & quiz")


def _hover_text(page, fx: float, fy: float) -> str:
    """Move the mouse to (fx, fy) of the hover figure's feature-map panel; return the tooltip's text."""
    fig = page.locator(HOVER_FIG).first
    fig.scroll_into_view_if_needed()
    box = fig.locator(".nsewdrag").nth(1).bounding_box()  # the second panel: the feature map
    page.mouse.move(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)
    page.wait_for_timeout(600)
    return fig.locator(".hoverlayer").text_content() or ""


def test_hovering_a_map_pixel_shows_a_sum_equal_to_the_maps_value(page, streamlit_server, tmp_path):
    open_page(page, streamlit_server, "convolution")
    assert_no_exception(page)
    photo = tmp_path / "my_photo.jpg"
    write_photo(photo)
    upload(page, photo)
    assert_no_exception(page)
    body = page.inner_text("body")
    assert "my_photo.jpg" in body and "1600×1200 as uploaded" in body and "computing at 512×384 px" in body
    assert page.locator('[data-testid="stImage"] img').count() >= 2
    assert "Lecture edge on gray" in body

    script_state = page.locator('[data-testid="stApp"]')
    for fx, fy in ((0.5, 0.5), (0.2, 0.8), (0.85, 0.15)):
        text = _hover_text(page, fx, fy)
        assert script_state.get_attribute("data-test-script-state") == "notRunning"  # hovering never reruns
        value = re.search(r"out\[(\d+), (\d+)\] = ([-\d.e+]+) \(the map\)", text)
        total = re.search(r"Σ products = ([-\d.e+]+)", text)
        assert value and total, text
        map_value, sum_value = float(value.group(3)), float(total.group(1))
        assert sum_value == pytest.approx(map_value, rel=1e-3, abs=1e-4), text
        assert "patch" in text and "kernel" in text and "products" in text and "⊙" in text
        # The products (third group of each row, 2 decimals) add up to the sum, within their rounding.
        rows = re.findall(r"((?:[-+]\d+\.\d\d ?){3})", text.replace("\xa0", " "))
        products = [float(v) for row in rows[2::3] for v in row.split()]
        assert len(products) == 9 and sum(products) == pytest.approx(sum_value, abs=9 * 0.005 + 1e-6), text
    screenshot(page, "convolution-hover")


def test_stepper_plays_in_the_browser_without_a_rerun(page, streamlit_server):
    open_page(page, streamlit_server, "convolution")
    page.get_by_role("tab", name="Worked example").click()
    wait_for_script(page)
    fig = page.locator(STEPPER_FIG).first
    fig.scroll_into_view_if_needed()
    title = fig.locator(".gtitle").first
    assert "(cell 1 of 9)" in title.text_content()
    runs_before = page.evaluate("() => performance.getEntriesByType('resource').length")
    fig.get_by_text("▶ Play").click()
    page.wait_for_timeout(2500)  # 700 ms a cell
    assert page.locator('[data-testid="stApp"]').get_attribute("data-test-script-state") == "notRunning"
    cell = int(re.search(r"cell (\d) of 9", title.text_content()).group(1))
    assert cell >= 3, title.text_content()
    assert page.evaluate("() => performance.getEntriesByType('resource').length") == runs_before  # nothing fetched
    fig.get_by_text("❚❚ Pause").click()
    assert_no_exception(page)


def test_quiz_reveal_in_the_browser(page, streamlit_server):
    open_page(page, streamlit_server, "convolution")
    page.get_by_role("tab", name="Architecture & quiz").click()
    wait_for_script(page)
    page.get_by_role("button", name="Reveal the answer").first.click()
    wait_for_script(page)
    assert_no_exception(page)
    assert "100×22×22" in page.inner_text("body")
    assert "tab=quiz" in page.url  # the active tab is in the link
    screenshot(page, "convolution-quiz")


def test_layout_fits_at_laptop_and_desktop_widths(page, streamlit_server):
    page.set_default_timeout(90_000)
    open_page(page, streamlit_server, "convolution")
    for name in TAB_NAMES:
        page.get_by_role("tab", name=name).click()
        wait_for_script(page)
        assert_no_exception(page)

        def check(width: int, name: str = name) -> None:
            assert_fits(page, f"at {width} px on {name}", TAB_NAMES)
            tall_screenshot(page, f"convolution-{width}-{name.split()[0].lower()}")

        at_each_width(page, check)
