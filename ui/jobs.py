"""Heavy jobs on a page: wait for a free core in the process-wide queue, visibly and cancellably.

    with heavy_job("Lab 4: train & compare") as ticket:
        history = train(..., should_stop=lambda: ticket.cancelled)

While the job waits, the page shows "Waiting for a free core — 2 ahead of you"
with a Cancel button; any click (Cancel, or another widget) ends the wait and the
ticket leaves the queue. A new heavy job of the same session cancels its older one
(``lab.scheduler``), so a student who clicks Train ten times runs one training.
Light reruns (moving a slider over a cached result) never come here, and a running
job gives way to them at its pause points (``ticket.should_stop``; ``lab.scheduler``):
``app.py`` runs every page in :func:`page_run`, which marks it as interactive;
:func:`fragment` does the same for a fragment's own reruns (they do not pass through
``app.py``).

Heavy *runs* are the other half: a page's first run in a session and a run that takes a
new upload do a second or more of work each, and a class arriving at once starts 30 of
them. :func:`heavy_run` (called by :func:`page_run` for a page's first run, and by
``ui.image_input`` for a new upload) makes the rest of such a run wait for a slot of
``lab.scheduler.RUNS`` (one), in arrival order, visibly ("Opening 3. Convolution — 3 ahead
of you") and cancellably. While it waits it holds nothing, and the light reruns of the
students already in do not share the interpreter with 30 page openings. A run that starts
a heavy job gives its run slot back first.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import streamlit as st
from streamlit.logger import get_logger
from streamlit.runtime.scriptrunner import get_script_run_ctx

from lab import limits
from lab.scheduler import RUNS, SCHEDULER, JobCancelled, Ticket

log = get_logger("dl101.jobs")  # Streamlit's handler and level (server.logger.level, "info")

__all__ = [
    "JobCancelled",
    "apply_cap",
    "fragment",
    "give_way",
    "heavy_job",
    "heavy_run",
    "page_run",
    "session_id",
]

_run = threading.local()  # this thread's page run: its exit stack, and whether it is already a heavy run


def session_id() -> str:
    """This browser session's id (the scheduler's owner: one heavy job per session)."""
    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else "no-session"


@contextlib.contextmanager
def heavy_job(name: str, *, key: str = "heavy") -> Iterator[Ticket]:
    """Queue ``name`` for a slot, showing its place; yield the ticket while it runs.

    A run that holds a run slot (:func:`heavy_run`) gives it back first: it never holds up
    other students' page openings while it waits in this queue or trains."""
    _release_run_slot()
    message, cancel = st.empty(), st.empty()
    drew_button = False

    def on_wait(ahead: int) -> None:
        # Redrawn every poll: an st call is where Streamlit stops a run after a click, so this
        # is what makes the wait cancellable (Cancel, or any other widget).
        nonlocal drew_button
        running = len(SCHEDULER.running())
        message.info(
            f"Waiting for a free core — **{ahead}** ahead of you, {running} running now "
            f"(this server runs {SCHEDULER.slots} heavy job{'s' if SCHEDULER.slots != 1 else ''} at a time).",
            icon=":material/hourglass_top:",
        )
        if not drew_button:  # once per run: a widget key may appear only once
            drew_button = True
            cancel.button("Cancel", key=f"{key}.cancel_wait", icon=":material/close:")

    with SCHEDULER.job(session_id(), name, on_wait=on_wait) as ticket:
        message.empty()
        cancel.empty()
        try:
            yield ticket
        finally:  # the server log shows how much each job gave way to other sessions' reruns
            log.info(
                "%s: ran %.1f s, gave way %.1f s to light reruns",
                name,
                time.monotonic() - (ticket.started or time.monotonic()),
                ticket.yielded_s,
            )


@contextlib.contextmanager
def page_run(*, opening: str = "") -> Iterator[None]:
    """One script run of a page (``app.py``): light work for the scheduler, heavy from :func:`heavy_run` on.

    ``opening`` names the page when this is its first run in the session (a heavy run)."""
    with SCHEDULER.interactive():
        _run.active, _run.heavy, _run.slot = True, False, None
        try:
            if opening:
                heavy_run(f"Opening {opening}")
            yield
        finally:
            _release_run_slot()
            _run.active = False


def _release_run_slot() -> None:
    """Give this run's slot of ``RUNS`` back (at the end of the run, or when it starts a heavy job)."""
    slot, _run.slot = getattr(_run, "slot", None), None
    if slot is not None:
        slot.__exit__(None, None, None)


def heavy_run(what: str) -> None:
    """The rest of this page run is heavy: wait here for a slot of ``RUNS`` (once per run).

    Shows the place in line while it waits; any click ends the wait (Streamlit stops the run
    at the next st call). A no-op outside :func:`page_run` (a fragment's own rerun) and in a
    run that already holds a heavy job's ticket (it never waits for a run slot while holding a core)."""
    if not getattr(_run, "active", False) or _run.heavy or SCHEDULER.holds_ticket():
        return
    _run.heavy = True
    message = st.empty()

    def on_wait(ahead: int) -> None:
        pace = "one at a time" if RUNS.slots == 1 else f"{RUNS.slots} at a time"
        place = "you are next" if ahead == 0 else f"**{ahead}** ahead of you"
        message.info(
            f"{what} — {place}. This server opens labs and takes uploads {pace}, "
            "so that everybody's clicks stay quick.",
            icon=":material/hourglass_top:",
        )

    slot = RUNS.job(session_id(), what, on_wait=on_wait, poll=0.2)
    with SCHEDULER.parked():  # waiting is not light work: running heavy jobs need not give way to it
        slot.__enter__()  # raises (and leaves the line) when a click ends the wait
    _run.slot = slot
    message.empty()


def give_way() -> None:
    """A heavy job's pause point: wait while other sessions' light reruns run (at most ``YIELD_MAX_S``)."""
    SCHEDULER.yield_to_light()


def fragment(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``st.fragment`` whose own reruns count as light work, as a page run does (``app.py``)."""

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        with SCHEDULER.interactive():
            return fn(*args, **kwargs)

    return st.fragment(run)


def apply_cap(name: str, value: int | float) -> int | float:
    """The value to use under the public-server caps (``lab.limits``); shows the cap's message if one applied."""
    used, message = limits.cap(name, value)
    if message:
        st.info(message, icon=":material/speed:")
    return used
