"""Browser e2e for the GoogLeNet page: upload a photo → top-5 (or the untrained notice) and feature maps;
then run a short feature visualisation and see it finish."""

from __future__ import annotations

from tests.browser import assert_no_exception, open_page, screenshot, wait_for_script, write_photo


def test_upload_shows_predictions_and_feature_maps(page, streamlit_server, tmp_path):
    open_page(page, streamlit_server, "inception")
    assert_no_exception(page)
    photo = tmp_path / "my_photo.jpg"
    write_photo(photo, (800, 600))
    # the photo uploader is the one that accepts images (the weights uploader takes .pth)
    page.locator('[data-testid="stFileUploaderDropzoneInput"][accept*=".jpg"]').set_input_files(str(photo))
    page.wait_for_timeout(500)
    wait_for_script(page)
    assert_no_exception(page)
    body = page.inner_text("body")
    assert "my_photo.jpg" in body and "800×600" in body
    assert "Top-5 predictions" in body
    assert "Untrained network" in body or "Weights:" in body
    assert "Strongest channels of inception4c" in body
    assert page.locator('[data-testid="stImage"] img').count() >= 16 + 3  # 16 maps + preprocessing stages
    screenshot(page, "inception-upload")


def test_feature_visualisation_runs_to_the_end(page, streamlit_server):
    open_page(page, streamlit_server, "inception?fv_steps=10&fv_size=64&fv_layer=inception3a")
    page.get_by_role("tab", name="Feature visualisation").click()
    page.get_by_role("button", name="Visualise this channel").click()
    wait_for_script(page, timeout=300_000)
    assert_no_exception(page)
    body = page.inner_text("body")
    assert "inception3a channel 0 (finished, 10 steps)" in body
    screenshot(page, "inception-featurevis")
