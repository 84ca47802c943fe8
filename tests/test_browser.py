"""End-to-end: the real server in headless Chromium (skips only when Chromium/Playwright are absent).

- (every page opening by its own URL as the *first* request to a freshly started server —
  the ``pages/`` deep-link trap of DESIGN §5 — is in ``test_browser_concurrency.py``, all at once);
- every page that takes a photo accepts a real upload;
- every file of the bad-input list uploaded in the browser gives a message on the page,
  never a traceback, and the app keeps working afterwards;
- a bad upload after a good one keeps (and names) the good one, not the sample;
- the chosen sample photo is kept in the link and survives a reload.

Screenshots land in tests/artifacts/.
"""

from __future__ import annotations

import re

import pytest

from tests.bad_images import REFUSED, make_files
from tests.browser import (
    PHOTO_UPLOADER,
    assert_no_exception,
    open_page,
    screenshot,
    upload,
    wait_for_script,
)
from ui.catalog import LABS, ROOT

pytestmark = pytest.mark.browser
IMAGE_PAGES = [p for p in LABS if p.takes_image]


@pytest.mark.parametrize("lab_page", IMAGE_PAGES, ids=lambda p: p.url_path)
def test_upload_a_photo(streamlit_server, page, lab_page):
    open_page(page, streamlit_server, lab_page.url_path)
    upload(page, ROOT / "assets" / "astronaut.jpg", PHOTO_UPLOADER)
    assert_no_exception(page)
    uploader = page.locator('[data-testid="stFileUploader"]').filter(has_text=PHOTO_UPLOADER)
    assert "astronaut.jpg" in uploader.inner_text()
    assert page.locator('[data-testid="stAlertContentError"]').count() == 0
    assert page.locator('[data-testid="stImage"], [data-testid="stPlotlyChart"]').count() >= 1
    screenshot(page, f"upload-{lab_page.url_path}")


def test_bad_uploads_give_messages_and_the_app_keeps_working(streamlit_server, page, tmp_path):
    files = make_files(tmp_path)
    lab_page = IMAGE_PAGES[0]
    open_page(page, streamlit_server, lab_page.url_path)
    for name, path in files.items():
        upload(page, path, PHOTO_UPLOADER)
        assert_no_exception(page)
        errors = page.locator('[data-testid="stAlertContentError"]')
        if name in REFUSED:
            assert errors.count() >= 1, f"{name}: no error message shown"
            assert re.search(r"empty|not an image|damaged|too large|at least", errors.first.inner_text()), name
            assert "Still showing" in errors.first.inner_text()
        else:
            assert errors.count() == 0, f"{name}: {errors.first.inner_text()}"
        screenshot(page, f"bad-upload-{name.replace('.', '_')}")
    # After all that, a good photo still works: the app kept running.
    upload(page, ROOT / "assets" / "coffee.jpg", PHOTO_UPLOADER)
    assert_no_exception(page)
    assert page.locator('[data-testid="stAlertContentError"]').count() == 0


def test_a_bad_upload_after_a_good_one_keeps_the_good_one(streamlit_server, page, tmp_path):
    """Replacing a file may run the page once with no file in between: that run must not make
    the sample the "last good" photo. Two rounds, since that in-between run does not come every time."""
    files = make_files(tmp_path)
    open_page(page, streamlit_server, IMAGE_PAGES[0].url_path)
    errors = page.locator('[data-testid="stAlertContentError"]')
    for good, bad in (("rgba.png", "truncated.jpg"), ("cmyk.jpg", "text_renamed.png")):
        upload(page, files[good], PHOTO_UPLOADER)
        assert errors.count() == 0, errors.first.inner_text()
        upload(page, files[bad], PHOTO_UPLOADER)
        assert_no_exception(page)
        assert errors.count() == 1, f"{bad}: expected one error"
        text = errors.first.inner_text()
        assert bad in text and f"Still showing your last good upload, {good}" in text, text
    screenshot(page, "bad-upload-keeps-good-upload")


def test_the_sample_photo_is_kept_in_the_link(streamlit_server, page):
    lab_page = IMAGE_PAGES[0]
    open_page(page, streamlit_server, lab_page.url_path)
    picker = page.get_by_role("combobox", name="Sample photo")
    picker.click()
    page.get_by_role("option", name=re.compile(r"^astronaut")).click()
    wait_for_script(page)
    assert "photo=astronaut" in page.url, page.url
    page.reload(wait_until="domcontentloaded")  # a new session: the link alone brings the photo back
    wait_for_script(page)
    assert_no_exception(page)
    assert picker.input_value().startswith("astronaut"), picker.input_value()
    assert "photo=astronaut" in page.url, page.url
