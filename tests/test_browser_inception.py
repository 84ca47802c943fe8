"""Browser e2e for the GoogLeNet page: upload a photo → top-5 (or the untrained notice) and feature maps;
a short feature visualisation; layout at 1000 and 1400 px; a click in the overview selects a layer;
real-size weights upload."""

from __future__ import annotations

import io

from tests.browser import (
    assert_no_exception,
    assert_tabs_fit,
    open_page,
    screenshot,
    wait_for_script,
    write_photo,
)

TAB_NAMES = ("Your photo", "Overview", "Block", "Layers", "Paper", "Grad-CAM", "Feature vis")


def test_upload_shows_predictions_and_feature_maps(page, streamlit_server, tmp_path):
    open_page(page, streamlit_server, "inception")
    assert_no_exception(page)
    photo = tmp_path / "my_photo.jpg"
    write_photo(photo, (800, 600))
    # the photo uploader is the one that accepts images (the weights uploader takes .pth)
    page.locator('[data-testid="stFileUploaderDropzoneInput"][accept*=".jpg"]').set_input_files(str(photo))
    page.get_by_text("800×600").first.wait_for(timeout=120_000)  # the upload's own rerun, not a fixed wait
    wait_for_script(page)
    assert_no_exception(page)
    page.get_by_role("tab", name="Your photo", exact=True).click()  # the default tab: no rerun
    body = page.inner_text("body")
    assert "my_photo.jpg" in body and "800×600" in body
    assert "Top-5 predictions" in body
    assert "Untrained network" in body or "Weights:" in body or "weights" in body
    assert "Strongest channels of inception4c" in body
    assert page.locator('[data-testid="stImage"] img').count() >= 16 + 3  # 16 maps + preprocessing stages
    screenshot(page, "inception-upload")


def test_feature_visualisation_runs_to_the_end(page, streamlit_server):
    open_page(page, streamlit_server, "inception?fv_steps=10&fv_size=64&fv_layer=inception3a")
    _open_tab(page, "Feature vis")
    page.get_by_role("button", name="Visualise this channel").click()
    wait_for_script(page, timeout=300_000)
    assert_no_exception(page)
    body = page.inner_text("body")
    assert "inception3a channel 0 (finished, 10 steps)" in body
    screenshot(page, "inception-featurevis")


def _overview_index(target: str) -> int:
    """Which clickable point of the overview selects ``target`` (the order lab.inception_overview draws)."""
    from lab.inception import BLOCKS, BRANCHES
    from lab.inception_overview import PER_LAYER, STAGES

    targets = []
    for stage in STAGES:
        if stage in BLOCKS:
            targets += [f"{stage}.{b}" for b in BRANCHES]
        elif stage in ("input", "avgpool", "fc"):
            targets.append(stage)
        else:
            targets += [stage] * PER_LAYER
    return targets.index(target)


def _selectbox_text(page, label: str) -> str:
    """A selectbox's label and the value it displays (the value is not in innerText)."""
    box = page.locator('[data-testid="stSelectbox"]').filter(has_text=label).first
    return box.evaluate(
        "e => { const i = e.querySelector('input'); return [e.textContent, i ? i.value : '',"
        " i ? (i.getAttribute('aria-label') || '') : ''].join(' | '); }"
    )


def _open_tab(page, name: str) -> None:
    """Click a tab: only the open tab is built, so the click reruns the page; wait for that run."""
    page.get_by_role("tab", name=name, exact=True).click()
    page.wait_for_timeout(300)
    wait_for_script(page)
    assert_no_exception(page)


def test_clicking_a_layer_in_the_overview_selects_it(page, streamlit_server):
    open_page(page, streamlit_server, "inception?tab=overview")
    assert_no_exception(page)
    chart = page.locator('[data-testid="stPlotlyChart"]').filter(has_text="stage by stage").first
    chart.scroll_into_view_if_needed()
    points = chart.locator(".scatterlayer .points path")
    assert points.count() == 60
    points.nth(_overview_index("inception4a.branch3")).click(force=True)
    wait_for_script(page)
    assert_no_exception(page)
    assert "Selected: inception4a.branch3" in page.inner_text("body")
    _open_tab(page, "Your photo")
    # wait for this tab's own output (with two test workers its rerun can start after _open_tab's wait,
    # and the overlay's caption once came after the text)
    page.get_by_text("Strongest channels of inception4a.branch3").first.wait_for()
    page.locator('[data-testid="stImageCaption"]', has_text="over the 224×224 crop").first.wait_for()
    # the overlay picker shows this selection's channel, the same one the overlay's caption names
    shown = _selectbox_text(page, "Map to overlay")
    captions = page.locator('[data-testid="stImageCaption"]').all_inner_texts()
    overlay = next(c for c in captions if "over the 224×224 crop" in c).split(" over")[0]
    assert f"{overlay} [" in shown, (shown, overlay)
    _open_tab(page, "Grad-CAM")
    assert "4a" in _selectbox_text(page, "Knock-out block").removeprefix("Knock-out block")
    assert "branch3" in _selectbox_text(page, "Knock-out branch").removeprefix("Knock-out branch")
    screenshot(page, "inception-overview-click")


def test_layout_fits_at_laptop_and_desktop_widths(page, streamlit_server):
    page.set_default_timeout(120_000)
    open_page(page, streamlit_server, "inception")

    def paper_tables_do_not_scroll(name: str, width: int) -> None:
        if name != "Paper":
            return
        for frame in page.locator('[data-testid="stDataFrame"]:visible').all():
            sizes = frame.evaluate(
                "f => { const s = f.querySelector('.dvn-scroller'); return s ? [s.scrollWidth, s.clientWidth] : [0, 0]; }"
            )
            assert sizes[0] <= sizes[1] + 1, f"paper table scrolls sideways at {width} px: {sizes}"

    assert_tabs_fit(page, "inception", TAB_NAMES, exact_tabs=True, extra=paper_tables_do_not_scroll)


def test_real_size_weights_upload_is_accepted_and_described(page, streamlit_server, tmp_path):
    """A 25 MB .pth (GoogLeNet without aux heads, fp32) used to get a red "!" at the 20 MB cap."""
    import torch

    from lab import inception as I

    state = I.build_googlenet(seed=3).state_dict()
    path = tmp_path / "googlenet-mine.pth"
    buf = io.BytesIO()
    torch.save(state, buf)
    path.write_bytes(buf.getvalue())
    assert path.stat().st_size > 20 * 2**20
    open_page(page, streamlit_server, "inception")
    page.get_by_text("Weights: ImageNet or untrained?").click()
    assert "Limit: 64 MB" in page.inner_text("body")
    page.locator('[data-testid="stFileUploaderDropzoneInput"][accept*=".pth"]').set_input_files(str(path))
    # Wait for the upload's own rerun: a fixed 1 s wait once read the page before it began (two test workers).
    page.get_by_text("Custom weights, loaded").first.wait_for(timeout=180_000)
    wait_for_script(page, timeout=300_000)
    assert_no_exception(page)
    alerts = " ".join(page.locator('[data-testid="stAlert"]').all_inner_texts())
    assert "Custom weights, loaded" in alerts and "Verified ImageNet weights" not in alerts
    assert "these weights look untrained" in alerts.lower()  # He-initialised random weights: near-uniform
    assert "Untrained network — no ImageNet weights found" not in alerts
    screenshot(page, "inception-weights-upload")
