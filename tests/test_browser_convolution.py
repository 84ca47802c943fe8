"""Browser e2e for the convolution page: upload a photo, hover the arithmetic, click the map to move the window,
play the stepper, layout widths."""

from __future__ import annotations

import re

import pytest

from lab import conv
from tests.browser import (
    assert_fits,
    assert_no_exception,
    assert_tabs_fit,
    at_each_width,
    open_page,
    screenshot,
    upload,
    wait_for_script,
    write_photo,
)

HOVER_FIG = '[class*="st-key-conv-hover_fig"] .js-plotly-plot'
MAP_FIG = '[class*="st-key-conv-map_click"] .js-plotly-plot'
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
    assert page.locator('[data-testid="stImage"] img').count() >= 1  # the photo; the selected map is MAP_FIG
    assert page.locator(MAP_FIG).count() == 1
    assert "Lecture edge on gray" in body

    _assert_hover_sums(page, ((0.5, 0.5), (0.2, 0.8), (0.85, 0.15)))
    screenshot(page, "convolution-hover")


def _assert_hover_sums(page, where, window: tuple[int, int, int, int] | None = None) -> None:
    """Hover the map panel at each (fx, fy): the tooltip's Σ products equals the map's value, and the products add
    up to it; the cell is inside ``window`` (r0, r1, c0, c1, inclusive ends as the title writes them) if given."""
    script_state = page.locator('[data-testid="stApp"]')
    for fx, fy in where:
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
        if window is not None:
            r0, r1, c0, c1 = window
            assert r0 <= int(value.group(1)) <= r1 and c0 <= int(value.group(2)) <= c1, (window, text)


def _window(page) -> tuple[int, int, int, int]:
    """(r0, r1, c0, c1) from the hover figure's title "…: rows r0–r1, cols c0–c1" (inclusive)."""
    title = page.locator(HOVER_FIG).first.locator(".gtitle").first.text_content()
    found = re.search(r"rows (\d+)–(\d+), cols (\d+)–(\d+)", title)
    assert found, title
    return tuple(int(v) for v in found.groups())


def _slider_value(page, label: str) -> float:
    slider = page.locator('[data-testid="stSlider"]').filter(has_text=label).first
    return float(slider.locator('[data-testid="stSliderThumbValue"]').text_content())


def test_clicking_the_map_centres_the_hover_window_there(page, streamlit_server, tmp_path):
    open_page(page, streamlit_server, "convolution")
    upload(page, write_photo(tmp_path / "photo.jpg"))
    assert_no_exception(page)
    H, W = (int(v) for v in re.search(r"map\(s\) of (\d+)×(\d+)", page.inner_text("body")).groups())
    assert (H, W) == (384, 512)  # 512×384, 3×3 kernel, padding 1; 512 > 480 px: the map is sent downscaled
    before = _window(page)
    r0, r1, c0, c1 = conv.zoom_region(H, W, 0.5, 0.5)
    assert before == (r0, r1 - 1, c0, c1 - 1)  # the default: centred

    # Point at a spot far from the window (bottom left): the target there names its cell; click it.
    fig = page.locator(MAP_FIG).first
    fig.scroll_into_view_if_needed()
    box = fig.locator(".nsewdrag").first.bounding_box()
    fx, fy = 0.15, 0.8
    page.mouse.move(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)
    page.wait_for_timeout(500)
    label = fig.locator(".hoverlayer").text_content() or ""
    found = re.search(r"row (\d+), col (\d+)", label)
    assert found and "click to centre" in label, label
    row, col = int(found.group(1)), int(found.group(2))
    assert abs(row - fy * H) <= 8 and abs(col - fx * W) <= 8, (row, col)  # the target under the pointer, in map cells
    page.mouse.click(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)
    wait_for_script(page)
    assert_no_exception(page)

    r0, r1, c0, c1 = _window(page)
    assert (r0, r1, c0, c1) != before
    assert r0 <= row <= r1 and c0 <= col <= c1, ((r0, r1, c0, c1), row, col)
    assert abs((r0 + r1) / 2 - row) <= 6 and abs((c0 + c1) / 2 - col) <= 6  # centred on it (the sliders step 0.01)
    # The sliders moved with it, and the link records the position as a slider move does.
    zoom_y, zoom_x = conv.center_fraction(row, H), conv.center_fraction(col, W)
    assert _slider_value(page, "Window centre: rows") == pytest.approx(zoom_y)
    assert _slider_value(page, "Window centre: columns") == pytest.approx(zoom_x)
    assert f"zoom_y={zoom_y:g}" in page.url and f"zoom_x={zoom_x:g}" in page.url, page.url
    # Hovering cells of the moved window still spells out a sum equal to the map's value.
    _assert_hover_sums(page, ((0.5, 0.5), (0.1, 0.9), (0.9, 0.1)), (r0, r1, c0, c1))

    # A second click moves it again (a fresh chart: no selection left over from the first click).
    fig = page.locator(MAP_FIG).first
    fig.scroll_into_view_if_needed()
    box = fig.locator(".nsewdrag").first.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.9, box["y"] + box["height"] * 0.1)
    page.wait_for_timeout(500)  # plotly picks the clicked point from its hover, which follows the pointer
    page.mouse.click(box["x"] + box["width"] * 0.9, box["y"] + box["height"] * 0.1)
    wait_for_script(page)
    r0, r1, c0, c1 = _window(page)
    assert r0 < 0.1 * H + 12 and c1 > 0.9 * W - 12, (r0, r1, c0, c1)

    def check(width: int) -> None:
        assert_fits(page, f"at {width} px with the clickable map", TAB_NAMES)
        fig_box = page.locator(MAP_FIG).first.bounding_box()
        main = page.locator('[data-testid="stMain"]').bounding_box()
        assert fig_box["x"] + fig_box["width"] <= main["x"] + main["width"] + 1
        page.locator(MAP_FIG).first.evaluate("e => e.scrollIntoView({block: 'center'})")
        page.wait_for_timeout(300)
        screenshot(page, f"convolution-map-click-{width}")

    at_each_width(page, check)


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
    assert_tabs_fit(page, "convolution", TAB_NAMES)
