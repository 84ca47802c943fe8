"""Browser tests of the logistic-regression lab in real Chromium: charts, steps, a bad CSV, scrubbing
with no rerun, and the layout at 1000 and 1400 px."""

from __future__ import annotations

import json

import pytest

from tests.browser import ARTIFACTS, assert_no_exception, at_each_width, open_page, screenshot, upload, wait_for_script

pytestmark = pytest.mark.browser

#: Counts script runs from the moment it is installed: every change of stApp's
#: data-test-script-state to "running" is one run of the page script.
COUNT_RUNS = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    window.__runs = 0;
    new MutationObserver(() => {
        if (app.getAttribute('data-test-script-state') === 'running') window.__runs += 1;
    }).observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
}"""

#: Times every frame the scrubbing figure draws: slider change → plotly_animated → next paint.
TIME_FRAMES = """() => {
    const gd = [...document.querySelectorAll('.js-plotly-plot')].find(g => g.querySelector('.slider-container'));
    window.__frames = [];
    let start = null;
    gd.on('plotly_sliderchange', () => { start = performance.now(); });
    gd.on('plotly_animated', () => {
        if (start === null) return;
        const t0 = start;
        start = null;
        requestAnimationFrame(() => window.__frames.push(performance.now() - t0));
    });
}"""


def _scrub_chart(page):
    return page.locator('[data-testid="stPlotlyChart"]').filter(has=page.locator(".slider-container")).first


def _current_step(page) -> int:
    # The slider's current-value line: "Step 57 of 200: train loss …" (the tick labels are transparent).
    text = _scrub_chart(page).locator(".slider-group > text.slider-label").first.text_content()
    return int(text.split()[1])


def _drag_slider(page, steps: int, total: int) -> None:
    """Drag the figure's own slider grip from its position across ``steps`` steps of a ``total``-step run."""
    chart = _scrub_chart(page)
    rail = chart.locator(".slider-rail-rect").bounding_box()
    grip = chart.locator(".slider-grip-rect").bounding_box()
    y = grip["y"] + grip["height"] / 2
    x0 = grip["x"] + grip["width"] / 2
    per_step = rail["width"] / total
    page.mouse.move(x0, y)
    page.mouse.down()
    for k in range(1, steps + 1):
        page.mouse.move(x0 + k * per_step, y)
        page.wait_for_timeout(15)
    page.mouse.up()


def _main_overflow(page) -> dict:
    return page.evaluate(
        """() => {
            const main = document.querySelector('[data-testid="stMain"]');
            return {scroll: main.scrollWidth, client: main.clientWidth};
        }"""
    )


def test_logistic_page_renders_charts_and_steps(page, streamlit_server, tmp_path):
    # Old feature keys (x1^2) in a link still open.
    open_page(page, streamlit_server, "logistic-regression?dataset=circles&features=x1%5E2,x2%5E2&compare=1")
    assert_no_exception(page)
    page.wait_for_selector(".js-plotly-plot", timeout=60_000)
    assert page.locator(".js-plotly-plot").count() >= 2  # (a)+(b) scrubbing figure, (c) curves
    assert page.locator(".katex").count() >= 4  # st.latex maths rendered
    assert "agree" in page.inner_text("body")
    assert "features=x1sq%2Cx2sq" in page.url or "features=x1sq,x2sq" in page.url
    screenshot(page, "logistic_regression")

    # One update back: the step metric and the link follow.
    page.get_by_role("button", name="◀ step").click()
    wait_for_script(page)
    assert_no_exception(page)
    assert "19 / 200" in page.inner_text("body") and "step=19" in page.url

    # The active tab goes into the link too.
    page.get_by_role("tab", name="Accuracy").click()
    wait_for_script(page)
    assert "tab=accuracy" in page.url and "step=19" in page.url

    # A CSV with one class: an error on the page, never a traceback, and the generated data stay.
    bad = tmp_path / "one_class.csv"
    bad.write_text("x1,x2,label\n0.1,0.2,1\n0.3,0.4,1\n0.5,0.1,1\n")
    upload(page, bad)
    assert_no_exception(page)
    text = page.inner_text("body")
    assert "at least two classes" in text and "Still using the generated" in text
    screenshot(page, "logistic_regression_bad_csv")


def test_scrubbing_100_steps_runs_no_script_and_plays_in_the_browser(page, streamlit_server):
    open_page(page, streamlit_server, "logistic-regression")
    assert_no_exception(page)
    chart = _scrub_chart(page)
    chart.locator(".slider-grip-rect").wait_for()
    assert _current_step(page) == 20  # the page's opening step
    page.evaluate(COUNT_RUNS)
    page.evaluate(TIME_FRAMES)
    lines_a = chart.locator(".subplot.xy .scatterlayer path.js-line")  # (a)'s boundary and P = 0.1 / 0.9 lines
    boundary_before = [p.get_attribute("d") for p in lines_a.all()]

    _drag_slider(page, 100, 200)
    page.wait_for_timeout(1500)
    runs = page.evaluate("window.__runs")
    assert runs == 0, f"scrubbing re-ran the script {runs} times"
    reached = _current_step(page)
    assert reached >= 100, reached
    # The boundary on the data was redrawn (a frame's map), and the arrow is still drawn in (b).
    assert [p.get_attribute("d") for p in lines_a.all()] != boundary_before
    assert "step=" not in page.url  # the figure cannot write the link; the page's step is unchanged
    frames = page.evaluate("window.__frames")
    assert len(frames) >= 20, len(frames)  # frames were drawn while dragging

    # Play animates in the browser too: the step advances with no script run.
    before = _current_step(page)
    chart.get_by_text("▶ Play").click()
    page.wait_for_timeout(1500)
    chart.get_by_text("Pause").click()
    page.wait_for_timeout(300)
    assert _current_step(page) > before and page.evaluate("window.__runs") == 0
    assert_no_exception(page)
    screenshot(page, "logistic_regression_scrubbed")

    # Per-frame render time in Chromium goes to the benchmark's JSON, not into an assertion.
    frames = sorted(page.evaluate("window.__frames"))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "logistic_scrub_frames.json").write_text(
        json.dumps(
            {
                "frames": len(frames),
                "p50_ms": frames[len(frames) // 2],
                "p95_ms": frames[int(len(frames) * 0.95)],
                "max_ms": frames[-1],
                "script_runs": runs,
            }
        )
    )


def test_layout_fits_at_laptop_widths(page, streamlit_server):
    page.set_default_timeout(90_000)
    open_page(page, streamlit_server, "logistic-regression?compare=1&features=x1sq")
    assert_no_exception(page)

    def check(width: int) -> None:
        sizes = _main_overflow(page)
        assert sizes["scroll"] <= sizes["client"], sizes  # no sideways scrolling of the main area
        for name in ("◀ step", "step ▶", "end ▶▶"):
            button = page.get_by_role("button", name=name, exact=True)
            assert button.evaluate("b => b.scrollWidth") <= button.bounding_box()["width"] + 1, name  # not cut
        chart = _scrub_chart(page)
        titles = [t.bounding_box() for t in chart.locator(".annotation-text").all()[:2]]  # (a) and (b) titles
        assert titles[0]["x"] + titles[0]["width"] <= titles[1]["x"], titles  # side by side, not overlapping
        for subplot in ("xy", "x2y2"):  # (a) and (b) keep a usable size (no legend squeezing them)
            area = chart.locator(f".draglayer .{subplot} .nsewdrag").first.bounding_box()
            assert area["width"] >= 170 and area["height"] >= 170, (subplot, area)
        curves = page.locator('[data-testid="stPlotlyChart"]').filter(has_text="GD test").first
        legend, box = curves.locator(".legend").bounding_box(), curves.bounding_box()
        assert legend["y"] + legend["height"] <= box["y"] + box["height"] + 1  # 8 curves' legend is visible
        screenshot(page, f"logistic_regression_{width}px")

    at_each_width(page, check)
