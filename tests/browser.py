"""Browser end-to-end support: a real ``streamlit run app.py`` driven by headless Chromium.

``tests/conftest.py`` registers this module as a pytest plugin, so every test can
use the fixtures ``streamlit_server``, ``browser`` and ``page`` (one Playwright and
one server for the whole session); import the helpers below by name.

- Chromium is Debian's ``/usr/bin/chromium`` (Playwright cannot download its own
  browser here). When it or Playwright is missing the tests *skip* with the reason;
  CI installs both, so there they run.
- ``streamlit_server`` starts one fresh server per test session on a free port,
  waits for ``/_stcore/health`` and stops it at the end. ``fresh_server()`` starts
  a private one (deep-link tests need a server that has never served a page).
- Screenshots are kept in ``tests/artifacts/`` (ignored by git) as test artifacts.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = os.environ.get("DL101_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
FINISHED = '[data-testid="stApp"][data-test-script-state="notRunning"]'
RUNNING = '[data-testid="stApp"][data-test-script-state="running"]'

__all__ = [
    "ARTIFACTS",
    "PHOTO_UPLOADER",
    "assert_fits",
    "assert_no_exception",
    "browser",
    "browser_context",
    "fresh_server",
    "open_page",
    "page",
    "screenshot",
    "streamlit_server",
    "upload",
    "wait_for_script",
]


def _skip_reason() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install playwright)"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def streamlit_process(
    *,
    app: str = "app.py",
    args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
    timeout: float = 90.0,
    log_dir: Path = ARTIFACTS,
) -> Iterator[tuple[str, subprocess.Popen]]:
    """Start ``streamlit run <app> <args>`` on a free loopback port; yield (base URL, process) once healthy; stop it."""
    port = _free_port()
    log_dir.mkdir(parents=True, exist_ok=True)
    log = open(log_dir / f"server-{port}.log", "w")  # noqa: SIM115 — closed below
    cmd = [sys.executable, "-m", "streamlit", "run", app, "--server.port", str(port),
           "--server.address", "127.0.0.1", "--server.headless", "true",
           "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none", *args]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with {proc.returncode}; see {log.name}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not become healthy within {timeout} s")
            time.sleep(0.2)
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@contextlib.contextmanager
def fresh_server(*, app: str = "app.py", timeout: float = 90.0, env: dict[str, str] | None = None) -> Iterator[str]:
    """Start ``streamlit run <app>`` on a free port (``env``: extra environment); yield its base URL; stop it."""
    with streamlit_process(app=app, timeout=timeout, env={**os.environ, **env} if env else None) as (url, _):
        yield url


@pytest.fixture(scope="session")
def streamlit_server() -> Iterator[str]:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    with fresh_server() as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def browser_context(browser):
    """One context per test session: its pages share the HTTP and compiled-code caches, so a page after
    the first loads Streamlit's JavaScript without parsing it again (half the browser's CPU a test). Each
    page is still its own Streamlit session (one WebSocket a page)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    yield context
    context.close()


@pytest.fixture
def page(browser_context):
    p = browser_context.new_page()
    p.set_default_timeout(90_000)
    yield p
    p.close()


def wait_for_script(page, timeout: float = 120_000) -> None:
    """Wait until the app's script run has finished (and has started at least once)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout)
    # let a rerun triggered by the last action begin: on as soon as it has, after 300 ms if none shows
    # (none came, or it was over before we looked)
    with contextlib.suppress(PlaywrightTimeout):
        page.wait_for_selector(RUNNING, timeout=300)
    page.wait_for_selector(FINISHED, timeout=timeout)
    page.wait_for_timeout(300)


def open_page(page, base_url: str, url_path: str = "", timeout: float = 120_000) -> None:
    """Open ``base_url/url_path`` and wait until its script run has finished."""
    page.goto(f"{base_url}/{url_path}", wait_until="domcontentloaded")
    wait_for_script(page, timeout)


def assert_no_exception(page) -> None:
    exceptions = page.locator('[data-testid="stException"]')
    if exceptions.count():
        raise AssertionError("exception on page: " + exceptions.first.inner_text()[:2000])
    body = page.inner_text("body")
    assert "Page not found" not in body, "Streamlit showed 'Page not found'"
    assert "Traceback (most recent call last)" not in body


#: The widths every page must fit: a laptop with the sidebar open, and a desktop.
WIDTHS = (1400, 1000)


def at_each_width(page, check: Callable[[int], None], *, height: int = 1000) -> None:
    """Run ``check(width)`` on the page as it is, at each of :data:`WIDTHS`.

    One load and one script run serve both widths: the server's output does not
    depend on the window (Streamlit sends the same elements; the browser lays them
    out), so resizing is what opening the page at the other width would show —
    at half the cost of the suite's slowest tests.
    """
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(400)  # plotly and the tab bar re-measure on the resize event
        check(width)


def tall_screenshot(page, name: str, height: int = 3200) -> Path:
    """The whole page (up to ``height`` px) in one screenshot; the viewport is put back afterwards."""
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"], "height": height})
    page.wait_for_timeout(400)
    try:  # the window is the page here (Streamlit scrolls inside it): no second, full-page capture
        return screenshot(page, name, full_page=False)
    finally:
        page.set_viewport_size(size)


def assert_tabs_fit(
    page,
    prefix: str,
    tabs: tuple[str, ...],
    *,
    exact_tabs: bool = False,
    height: int = 3200,
    extra: Callable[[str, int], None] | None = None,
) -> None:
    """Open each of ``tabs`` in turn and check it at both :data:`WIDTHS`.

    Per tab: the rerun finishes without an exception; at each width
    :func:`assert_fits` holds, ``extra(tab, width)`` (a page's own checks)
    passes, and a tall screenshot ``{prefix}-{width}-{first word of the tab}``
    is kept.
    """
    for name in tabs:
        page.get_by_role("tab", name=name, exact=exact_tabs).click()
        wait_for_script(page)
        assert_no_exception(page)

        def check(width: int, name: str = name) -> None:
            assert_fits(page, f"at {width} px on {name}", tabs, exact_tabs=exact_tabs)
            if extra is not None:
                extra(name, width)
            tall_screenshot(page, f"{prefix}-{width}-{name.split()[0].lower()}", height)

        at_each_width(page, check)


def assert_fits(page, where: str, tabs: tuple[str, ...] = (), *, exact_tabs: bool = False) -> None:
    """The layout checks every page makes at 1000 and 1400 px: no horizontal overflow of the main
    area, every tab of ``tabs`` fully visible in the tab bar, no button with a clipped label."""
    measure = (
        "() => { const m = document.querySelector('[data-testid=\"stMain\"]'); return [m.scrollWidth, m.clientWidth]; }"
    )
    # plotly re-lays its charts out on the resize event, later on a busy machine (seen: a chart still
    # 1029 px wide in a 700 px main area after 400 ms, with two test workers): give it up to 5 s, then
    # measure; an overflow that stays is a real one
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    with contextlib.suppress(PlaywrightTimeout):
        page.wait_for_function(f"() => {{ const [s, c] = ({measure})(); return s <= c; }}", timeout=5_000)
    main = page.evaluate(measure)
    assert main[0] <= main[1], f"horizontal overflow {where}: {main}"
    if tabs:
        bar = page.locator('[role="tablist"]').first.bounding_box()
        for name in tabs:
            tab = page.get_by_role("tab", name=name, exact=exact_tabs).bounding_box()
            assert tab["x"] >= bar["x"] - 1 and tab["x"] + tab["width"] <= bar["x"] + bar["width"] + 1, name
    for button in page.locator('[data-testid="stMain"] button:visible').all():
        clipped = button.evaluate("b => b.scrollWidth > b.clientWidth + 1")
        assert not clipped, f"clipped button {where}: {button.inner_text()!r}"


def upload(page, path: Path | str, label: str = "") -> None:
    """Put a file into a file uploader and wait for the rerun.

    ``label`` picks the uploader whose label contains it (default: the first
    uploader on the page).
    """
    uploaders = page.locator('[data-testid="stFileUploader"]')
    if label:
        uploaders = uploaders.filter(has_text=label)
    uploaders.first.locator('input[type="file"]').set_input_files(str(path))
    page.wait_for_timeout(500)
    wait_for_script(page)


#: The label of ``ui.image_input``'s uploader, shared by every page that takes a photo.
PHOTO_UPLOADER = "upload your own photo"


def write_photo(path: Path, size: tuple[int, int] = (1600, 1200)) -> Path:
    """A photo-like JPEG of ``size`` (W, H) at ``path``: smooth colour blocks with sharp edges."""
    import io

    import numpy as np
    from PIL import Image

    small = np.random.default_rng(0).integers(0, 255, (12, 16, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(small).resize(size, Image.Resampling.NEAREST).save(buf, "JPEG", quality=85)
    Path(path).write_bytes(buf.getvalue())
    return Path(path)


def screenshot(page, name: str, *, full_page: bool = True) -> Path:
    """Screenshot into tests/artifacts/<name>.png (kept as a test artifact): the full page, or
    (``full_page=False``) the window only, which is already drawn and costs next to nothing."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
