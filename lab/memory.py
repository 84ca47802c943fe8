"""Give freed heap back to the operating system.

A Streamlit server runs every session's script in a thread of its own. glibc's
``malloc`` gives each thread that meets contention an arena of its own (up to
8 × cores), and an arena keeps what was freed in it for later use instead of
returning it. Two settings limit that:

- :func:`limit_arenas` caps the arenas (``mallopt(M_ARENA_MAX)``), as the
  environment variable ``MALLOC_ARENA_MAX`` would, but from inside the process,
  so ``streamlit run app.py`` needs no wrapper;
- :func:`start_trimmer` calls ``malloc_trim(0)`` every few seconds: it returns
  the free pages of every arena (not only the top of the main heap) with
  ``madvise``. A trim of a ~1 GB heap takes a few ms.

Both are no-ops where the C library is not glibc (macOS, Windows, musl).

The trimmer's thread also runs a full garbage collection every tick (on every
platform), and that is what brought the server back after a class. A session
that ends leaves reference cycles (its state, its script's frames, the figures
and the tensors they hold), and only a collection frees them. Streamlit can
collect after every script *run* (``runner.postScriptGC``, off in this project's
configs: with 30 sessions that collection held the GIL ~0.1 s per rerun, 23 % of
the server's GIL time in a class), but a session is dropped later (after
``server.disconnectedSessionTTL``), so after the last student left nothing ran
and the cycles stayed: measured after 10 students, 12,520 objects holding 43 MB
of tensors (feature maps, photo tensors), and RSS fell by 79 MB at the first
collection (``bench/bench_load.py``). The arena cap and the trim alone had left
the server ~210–250 MB above its size before.

``tests/test_memory.py`` shows each effect: a thread's freed heap goes back to
the OS, and a dropped cycle of tensors is freed without a script run.

:func:`freeze_imports` is about time, not size: every full collection (the
trimmer's, Python's own, and Streamlit's after each run where it is on) walks all
tracked objects. With torch, torchvision, plotly and pandas imported that is
~420,000 objects, 0.2–0.3 s holding the GIL, while every session's rerun (and the
websocket sending the last one's result) waits. Freezing what the imports made
moves it out of the collector's sight; a collection then walks only what sessions
made since.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import threading
import time

#: ``mallopt`` parameter numbers from glibc's ``malloc.h``.
_M_ARENA_MAX = -8

_lock = threading.Lock()
_started = False
_libc: ctypes.CDLL | bool | None = False  # False: not looked up yet


def _glibc() -> ctypes.CDLL | None:
    global _libc
    if _libc is False:
        try:
            lib = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            _libc = lib if hasattr(lib, "malloc_trim") and hasattr(lib, "mallopt") else None
        except OSError:
            _libc = None
    return _libc  # type: ignore[return-value]


def available() -> bool:
    """Whether this process runs on glibc (where arenas and trimming apply)."""
    return _glibc() is not None


def limit_arenas(n: int = 2) -> bool:
    """Cap glibc's malloc arenas at ``n`` for threads that have none yet; True if applied."""
    lib = _glibc()
    return bool(lib is not None and lib.mallopt(_M_ARENA_MAX, int(n)) == 1)


def trim() -> bool:
    """Return free heap pages of every arena to the OS; True if any memory was released."""
    lib = _glibc()
    return bool(lib is not None and lib.malloc_trim(0))


def start_trimmer(interval_s: float = 5.0, collect_every: int = 1) -> bool:
    """Once per process: cap the arenas and, in a daemon thread, trim every ``interval_s`` seconds.

    Every ``collect_every``-th tick the thread first runs a full garbage collection,
    so the cycles an ended session leaves are freed even when no script runs. It
    replaces Streamlit's collection after every run (``runner.postScriptGC = false``
    in the configs). It is cheap: the imports are frozen (:func:`freeze_imports`), so
    it walks only what the live sessions hold (measured: before torch is imported and
    frozen, streamlit, plotly and pandas alone make it 71 ms; with 30 sessions in a
    class ~0.1 s, once per tick).

    Returns True the first time it starts the thread, False if it already runs
    (off glibc the thread only collects: capping and trimming are no-ops there).
    """
    global _started
    with _lock:
        if _started:
            return False
        _started = True
    limit_arenas()

    def loop() -> None:
        tick = 0
        while True:
            time.sleep(interval_s)
            tick += 1
            if tick % max(1, collect_every) == 0:
                gc.collect()
            trim()

    threading.Thread(target=loop, name="dl101-malloc-trim", daemon=True).start()
    return True


def freeze_imports() -> int:
    """Collect, then move every object alive now out of the cyclic collector's sight; returns how many.

    Call it once, right after the heavy imports (``lab.device.import_heavy``). Frozen
    objects are still freed by reference counting; only a reference cycle among them
    is never collected, which is right for what imports make (modules, classes,
    functions: they live as long as the process). Anything a session makes later is
    collected as before.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
