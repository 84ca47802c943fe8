"""Remember what an uploaded file parsed to, by its SHA-256 — failures included.

Streamlit reruns a page on every click, and the uploader hands the same bytes
back each time. Without a memory of the result, a slow or hostile upload costs
its full parse on every click (a 20 MB WAV: a resample per click), and a bad
file is re-read only to fail again. :func:`remember` keeps the last
:data:`MAX_ENTRIES` results (or user-facing errors) per loader, keyed by the
bytes' digest and the loader's arguments, shared by every session (the result
depends on the bytes only). Callers get their own copy of a cached result.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TypeVar

T = TypeVar("T")

#: Results kept per loader (each is small: a clip at 16 kHz, ≤ 10,000 CSV rows).
MAX_ENTRIES = 16

_lock = threading.Lock()
_caches: dict[str, OrderedDict] = {}


def digest(data: bytes) -> str:
    """The SHA-256 of ``data`` as hex (the key of an upload)."""
    return hashlib.sha256(data).hexdigest()


def remember(
    loader: str,
    data: bytes,
    args: Hashable,
    compute: Callable[[], T],
    *,
    errors: tuple[type[BaseException], ...],
    copy: Callable[[T], T],
) -> T:
    """``compute()`` once per ``(loader, digest(data), args)``; ``errors`` raised by it are remembered too.

    A remembered error is raised again as a fresh exception of the same type
    and message; a remembered result is returned through ``copy`` so a caller
    that changes it cannot change what the next caller gets.
    """
    key = (digest(data), args)
    with _lock:
        cache = _caches.setdefault(loader, OrderedDict())
        hit = cache.get(key)
        if hit is not None:
            cache.move_to_end(key)
    if hit is None:
        try:
            hit = ("ok", compute())
        except errors as err:
            hit = ("error", (type(err), str(err)))
        with _lock:
            cache[key] = hit
            while len(cache) > MAX_ENTRIES:
                cache.popitem(last=False)
    kind, value = hit
    if kind == "error":
        error_type, message = value
        raise error_type(message)
    return copy(value)


def clear() -> None:
    """Forget every remembered result (tests)."""
    with _lock:
        _caches.clear()
