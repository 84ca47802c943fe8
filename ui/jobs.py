"""Heavy jobs on a page: wait for a free core in the process-wide queue, visibly and cancellably.

    with heavy_job("Lab 4: train & compare") as ticket:
        history = train(..., should_stop=lambda: ticket.cancelled)

While the job waits, the page shows "Waiting for a free core — 2 ahead of you"
with a Cancel button; any click (Cancel, or another widget) ends the wait and the
ticket leaves the queue. A new heavy job of the same session cancels its older one
(``lab.scheduler``), so a student who clicks Train ten times runs one training.
Light reruns (moving a slider over a cached result) never come here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from lab import limits
from lab.scheduler import SCHEDULER, JobCancelled, Ticket

__all__ = ["JobCancelled", "apply_cap", "heavy_job", "session_id"]


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
        yield ticket


def apply_cap(name: str, value: int | float) -> int | float:
    """The value to use under the public-server caps (``lab.limits``); shows the cap's message if one applied."""
    used, message = limits.cap(name, value)
    if message:
        st.info(message, icon=":material/speed:")
    return used
