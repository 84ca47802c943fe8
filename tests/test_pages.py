"""Every page renders through the real navigation with no exception (AppTest)."""

from __future__ import annotations

import re

import pytest

from tests.conftest import run_page
from ui.catalog import LABS, PAGES


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.url_path)
def test_page_renders_without_exception(page):
    at = run_page(page.script)
    assert not at.exception, [e.value for e in at.exception]
    titles = [t.value for t in at.title]
    assert any(page.title in t for t in titles) or page.number == 0, titles
    # The sidebar globals are on every page.
    labels = [s.label for s in at.sidebar.selectbox]
    assert "Compute device" in labels


def test_home_lists_every_lab_with_a_link():
    at = run_page("app_pages/home.py")
    text = " ".join(m.value for m in at.markdown) + " ".join(s.value for s in at.subheader)
    for lab_page in LABS:
        assert lab_page.title in text
        assert lab_page.thumbnail.exists(), lab_page.thumbnail


def test_seed_from_the_link_reaches_the_sidebar():
    at = run_page("app_pages/home.py", query={"seed": "42"})
    assert at.sidebar.number_input(key="global.seed").value == 42


def test_bad_seed_in_the_link_falls_back_to_zero():
    at = run_page("app_pages/home.py", query={"seed": "banana"})
    assert not at.exception
    assert at.sidebar.number_input(key="global.seed").value == 0
    notices = [t.value for t in at.toast]
    assert any("seed" in n and "whole number" in n for n in notices), notices  # not replaced silently
    assert not any("banana" in n for n in notices)  # the link's value is never echoed (Markdown injection)


def test_a_failing_page_shows_a_short_message_not_a_traceback(monkeypatch, caplog):
    """The last-resort handler in app.py: no exception box, no server path, an error id, the log has it."""
    import ui.widgets

    def broken(choice: str = "auto"):
        raise RuntimeError("boom in /srv/secret/path.py")

    monkeypatch.setattr(ui.widgets, "resolve_device", broken)
    at = run_page("app_pages/convolution.py")
    assert not at.exception, [e.value for e in at.exception]
    errors = [e.value for e in at.error]
    assert any("Sorry" in e and "error id" in e for e in errors), errors
    assert not any("/srv/secret" in e or "boom" in e for e in errors)
    # The detail goes to the server's log, under the id the visitor can quote.
    error_id = re.search(r"error id `([0-9a-f]{8})`", next(e for e in errors if "error id" in e)).group(1)
    logged = [r for r in caplog.records if r.name == "dl101" and error_id in r.getMessage()]
    assert logged and "boom in /srv/secret/path.py" in logged[0].exc_text
