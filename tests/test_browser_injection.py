"""Chromium: a shared link that carries Markdown/HTML cannot put a link or an image on the page.

The attack from the "Safe to host publicly" issue: a crafted link whose values
were echoed into a warning box became a working phishing link, and a remote
image (a tracking pixel that leaks the visitor's IP). Here every page-level
setting of two labs and the sample photo get such values; the page must show
one notice naming the settings, and

- no ``<a>`` or ``<img>`` on the page may point at the attacker's host;
- the browser must not send a single request to another host (every request
  is routed through Playwright, and anything not to the test server is
  recorded and refused). :data:`KNOWN_HOSTS` is empty: the app's favicon is an
  emoji (a ``:material/…:`` page icon made every browser fetch it from a font host).
"""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

import pytest

from tests.browser import assert_no_exception, screenshot, wait_for_script
from ui.catalog import LABS

pytestmark = pytest.mark.browser

EVIL = "evil.example"
#: Hosts the app itself contacts: none (a visitor's IP is never sent to a third party).
KNOWN_HOSTS: set[str] = set()
PAYLOADS = [
    f"[Log in again](https://{EVIL}/login)",
    f"![pixel](https://{EVIL}/pixel.png)",
    f'<img src="https://{EVIL}/img.png">',
    f"<a href='https://{EVIL}/a'>click</a>",
    f"https://{EVIL}/bare",
    f"www.{EVIL}",
    f":red[**URGENT**] [x](//{EVIL}/proto)",
    f"$\\href{{https://{EVIL}/tex}}{{x}}$",
]


def _lab(name: str):
    return next(p for p in LABS if p.url_path.startswith(name))


CASES = [
    (_lab("convolution"), ["stride", "padding", "dilation", "photo", "mode"]),
    (_lab("logistic"), ["lr", "num_steps", "noise", "features", "momentum"]),
]


@pytest.mark.parametrize("lab_page, keys", CASES, ids=lambda c: getattr(c, "url_path", ""))
def test_a_link_with_markup_makes_no_link_no_image_and_no_foreign_request(streamlit_server, page, lab_page, keys):
    ours = urlsplit(streamlit_server).netloc
    foreign: list[str] = []

    def route(route):
        url = route.request.url
        if url.startswith(("http://", "https://", "ws://", "wss://")) and urlsplit(url).netloc != ours:
            foreign.append(url)
            return route.abort()
        return route.continue_()

    page.route("**/*", route)
    for i in range(-(-len(PAYLOADS) // len(keys))):  # every payload in some setting, few page loads
        query = {key: PAYLOADS[(i * len(keys) + j) % len(PAYLOADS)] for j, key in enumerate(keys)}
        query["seed"] = str(i + 1)
        page.goto(f"{streamlit_server}/{lab_page.url_path}?{urlencode(query)}", wait_until="domcontentloaded")
        wait_for_script(page)
        assert_no_exception(page)
        hrefs = page.eval_on_selector_all("a", "els => els.map(e => e.getAttribute('href') || '')")
        srcs = page.eval_on_selector_all("img", "els => els.map(e => e.getAttribute('src') || '')")
        assert not [h for h in hrefs if EVIL in h], (query, hrefs)
        assert not [s for s in srcs if EVIL in s], (query, srcs)
        notices = page.locator('[data-testid="stAlert"]').filter(has_text="were not valid")
        assert notices.count() == 1, page.inner_text("body")[:1500]
        text = notices.first.inner_text()
        assert EVIL not in text and "](" not in text and text.count("(") >= len(keys), text
        if i == 0:
            screenshot(page, f"injection-{lab_page.url_path}")
    assert not [u for u in foreign if EVIL in urlsplit(u).netloc], foreign
    assert not [u for u in foreign if urlsplit(u).netloc not in KNOWN_HOSTS], foreign
