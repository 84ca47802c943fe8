"""Browser e2e for the convolution page: upload a photo, see feature maps, hover a cell, reveal a quiz answer."""

from __future__ import annotations

from tests.browser import assert_no_exception, open_page, screenshot, upload, wait_for_script, write_photo


def test_upload_shows_feature_maps_and_hover(page, streamlit_server, tmp_path):
    open_page(page, streamlit_server, "convolution")
    assert_no_exception(page)
    photo = tmp_path / "my_photo.jpg"
    write_photo(photo)
    upload(page, photo)
    assert_no_exception(page)
    body = page.inner_text("body")
    assert "my_photo.jpg" in body and "1600×1200 as uploaded" in body and "computing at 512×384 px" in body
    # The input and the feature map are images in the first tab.
    assert page.locator('[data-testid="stImage"] img').count() >= 2
    assert "Lecture edge on gray" in body

    # Hover the zoomed map: the tooltip lists the patch and the sum.
    plot = page.locator(".js-plotly-plot").nth(1)
    plot.scroll_into_view_if_needed()
    box = page.locator(".js-plotly-plot .nsewdrag").nth(1).bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_timeout(800)
    hover = page.locator(".hoverlayer").nth(1).text_content() or ""
    assert "Σ patch ⊙ kernel" in hover and "patch (input values)" in hover, hover
    screenshot(page, "convolution-upload")


def test_quiz_reveal_in_the_browser(page, streamlit_server):
    open_page(page, streamlit_server, "convolution")
    page.get_by_role("tab", name="Architecture & quiz").click()
    page.get_by_role("button", name="Reveal the answer").first.click()
    wait_for_script(page)
    assert_no_exception(page)
    assert "100×22×22" in page.inner_text("body")
    screenshot(page, "convolution-quiz")
