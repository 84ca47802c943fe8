"""Lab 4 in a real browser: a short comparison runs, every view draws at 1000 and 1400 px without overflow
or cut-off labels, the chosen view survives training and the next widget change, and a seed change during
the first run leaves the settings alone."""

from __future__ import annotations

import pytest

from lab import regularization as reg
from tests.browser import assert_no_exception, at_each_width, open_page, screenshot, wait_for_script

pytestmark = pytest.mark.browser

# 2 configurations, 3 epochs, 100 samples: a short run that still shows every view
QUERY = "regularization?variants=baseline,batchnorm&num_epochs=3&n_train=100"
#: The page's views and their short names in the link (?tab=…; the first one is left out)
VIEWS = {"Curves": "curves", "Table & code": "table", "Activations": "activations", "Gradients": "gradients", "Weights: L1 vs L2": "weights",
         "BN statistics": "bn", "Dropout": "dropout", "Bias before BN": "bias", "Vanishing gradients": "vanishing"}  # fmt: skip

#: Horizontal overflow of the main area, and labels / formulas cut off inside it.
LAYOUT_JS = """() => {
  const main = document.querySelector('[data-testid="stMain"]');
  const cut = [];
  const sel = 'button p, [data-testid="stMetricLabel"] p, [data-testid="stMetricValue"], .katex-display';
  for (const el of main.querySelectorAll(sel)) {
    if (el.offsetParent !== null && el.scrollWidth > el.clientWidth + 1) cut.push(el.innerText.slice(0, 50));
  }
  return {scroll: main.scrollWidth, client: main.clientWidth, cut};
}"""


def _train(page) -> None:
    """Press Train & compare and wait until the run's results are drawn (not just any idle moment)."""
    page.get_by_role("button", name="Train & compare").click()
    page.get_by_text("validation accuracy (final)").first.wait_for(timeout=180_000)
    wait_for_script(page)


def _show(page, view: str) -> None:
    """Click a view and wait for the rerun it causes (the link names the view once that run has started)."""
    page.get_by_role("radio", name=view, exact=True).click()
    slug = VIEWS[view]
    if slug == "curves":
        page.wait_for_function("() => !location.search.includes('tab=')", timeout=120_000)
    else:
        page.wait_for_function(f"() => location.search.includes('tab={slug}')", timeout=120_000)
    wait_for_script(page)


def _assert_layout(page, where: str) -> None:
    result = page.evaluate(LAYOUT_JS)
    assert result["scroll"] <= result["client"], f"{where}: main area scrolls sideways {result}"
    assert not result["cut"], f"{where}: cut off: {result['cut']}"


def test_every_view_draws_at_both_widths(page, streamlit_server):
    page.set_default_timeout(120_000)
    open_page(page, streamlit_server, QUERY)
    assert_no_exception(page)
    at_each_width(page, lambda width: _assert_layout(page, f"{width} px, before training"))
    _train(page)
    assert_no_exception(page)
    assert page.get_by_text("validation accuracy (final)").count() == 2
    # the run's progress bar and live chart are gone once it has finished (they used to stay up)
    assert page.locator('[data-testid="stProgress"]').count() == 0
    at_each_width(page, lambda width: screenshot(page, f"regularization-curves-{width}"))
    for view in VIEWS:
        _show(page, view)
        assert_no_exception(page)

        def check(width: int, view: str = view) -> None:
            _assert_layout(page, f"{width} px, {view}")
            if view in ("BN statistics", "Table & code"):
                screenshot(page, f"regularization-{view.split()[0].lower()}-{width}")

        at_each_width(page, check)
    assert "tab=vanishing" in page.url


def test_view_survives_training_and_the_first_widget_change(page, streamlit_server):
    """Issue 15: after each training run the first widget change jumped back to the Curves tab."""
    open_page(page, streamlit_server, QUERY + "&tab=bn")
    page.get_by_role("button", name="Train & compare").click()
    page.get_by_text("Black diamonds").wait_for(timeout=180_000)
    wait_for_script(page)
    thumb = page.locator('[data-testid="stSidebar"] [data-testid="stSlider"]').filter(has_text="Hidden layers")
    thumb.get_by_role("slider").press("ArrowRight")  # the first widget change after training
    page.wait_for_timeout(500)
    wait_for_script(page)
    assert_no_exception(page)
    assert page.get_by_role("radio", name="BN statistics", exact=True).get_attribute("aria-checked") == "true"
    assert "tab=bn" in page.url and "depth=3" in page.url
    assert page.get_by_text("settings changed since this run").count() == 1


def test_seed_change_during_the_first_run_keeps_the_settings(browser_context, streamlit_server):
    """Issue 15: changing the seed while the page's first run was going reset widgets / emptied the list."""
    for attempt, delay in enumerate((0, 100, 400)):
        page = browser_context.new_page()  # a new page is a new Streamlit session: its first run again
        page.set_default_timeout(120_000)
        try:
            # the bias experiment makes the first run long enough to interrupt it
            page.goto(f"{streamlit_server}/regularization?tab=bias&seed={attempt + 10}", wait_until="domcontentloaded")
            page.wait_for_selector('[data-testid="stSidebar"] [data-testid="stSlider"]', state="attached")
            page.wait_for_timeout(delay)
            page.locator('[data-testid="stNumberInputStepUp"]').first.click()
            wait_for_script(page)
            assert_no_exception(page)
            sidebar = page.locator('[data-testid="stSidebar"]').inner_text()
            for text in ("Training samples\n\n300", "Hidden layers\n\n2", "Epochs\n\n30"):
                assert text.replace("\n\n", "") in sidebar.replace("\n", ""), (attempt, text)
            chips = page.locator('[data-testid="stSidebar"] [data-testid="stMultiSelect"] span[title]')
            assert chips.count() == 4, (attempt, chips.count())
            assert f"seed={attempt + 11}" in page.url and "variants" not in page.url
        finally:
            page.close()


def test_preset_shows_overfitting_and_dropout(page, streamlit_server):
    open_page(page, streamlit_server, "regularization")
    page.get_by_role("button", name=reg.PRESET_LABEL["overfit_dropout"]).click()
    page.wait_for_timeout(500)
    wait_for_script(page)
    assert_no_exception(page)
    body = page.inner_text("body")
    assert "Preset loaded" in body and "+ Dropout" in body and "vs baseline" in body
    screenshot(page, "regularization-preset")
