"""Shared test fixtures: AppTest runner for pages, paths, and cache hygiene."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

#: Browser fixtures (streamlit_server, browser, page) are registered once for the whole
#: session: one Playwright instance and one server, shared by every browser test module.
pytest_plugins = ["tests.browser"]

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

#: AppTest's default 3 s is too short for pages that import torch or train.
APPTEST_TIMEOUT = 120


def run_page(
    script: str, *, session_state: dict | None = None, query: dict | None = None, timeout: float = APPTEST_TIMEOUT
):
    """Run ``app.py`` switched to ``script`` (e.g. ``"app_pages/mlp.py"``) in AppTest.

    Going through ``app.py`` runs the real navigation and sidebar globals, as a
    browser would. Returns the finished ``AppTest`` for inspection and reruns.
    """
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=timeout)
    for key, value in (session_state or {}).items():
        at.session_state[key] = value
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.run()  # st.navigation registers the pages (and custom url_paths) on the first run
    if script != "app_pages/home.py":
        at.switch_page(script)
        at.run()
    return at


@pytest.fixture(autouse=True)
def _clear_streamlit_caches():
    """Each test starts with empty st.cache_data / st.cache_resource (no cross-test leakage)."""
    yield
    if "streamlit" in sys.modules:
        import streamlit as st

        st.cache_data.clear()
        st.cache_resource.clear()
