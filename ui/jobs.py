"""Heavy jobs on a page: wait for a free core in the process-wide queue, visibly and cancellably.

    with heavy_job("Lab 4: train & compare") as ticket:
        history = train(..., should_stop=lambda: ticket.cancelled)

While the job waits, the page shows "Waiting for a free core — 2 ahead of you"
with a Cancel button; any click (Cancel, or another widget) ends the wait and the
ticket leaves the queue. A new heavy job of the same session cancels its older one
(``lab.scheduler``), so a student who clicks Train ten times runs one training.
Light reruns (moving a slider over a cached result) never come here, and a running
job gives way to them at its pause points (``ticket.should_stop``; ``lab.scheduler``):
``app.py`` marks every page run as interactive, :func:`fragment` does the same for a
fragment's own reruns (they do not pass through ``app.py``).
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable, Iterator
from typing import Any

import streamlit as st
from streamlit.logger import get_logger
from streamlit.runtime.scriptrunner import get_script_run_ctx

from lab import limits
from lab.scheduler import SCHEDULER, JobCancelled, Ticket

log = get_logger("dl101.jobs")  # Streamlit's handler and level (server.logger.level, "info")

__all__ = ["JobCancelled", "apply_cap", "fragment", "give_way", "heavy_job", "session_id"]


def session_id() -> str:
    """This browser session's id (the scheduler's owner: one heavy job per session)."""
    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else "no-session"


@contextlib.contextmanager
def heavy_job(name: str, *, key: str = "heavy") -> Iterator[Ticket]:
    """Queue ``name`` for a slot, showing its place; yield the ticket while it runs."""
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
