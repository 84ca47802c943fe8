"""Fair sharing of the CPU between sessions: one process-wide queue for heavy jobs.

A Streamlit server runs every visitor's script in its own thread of one process.
Without a queue, 20 students pressing *Train* at once start 20 trainings that
share two cores, each 20× slower, and a light rerun (moving a slider over a
cached result) waits behind all of them. With it:

- at most ``slots`` heavy jobs run at once (default: one per core); the others
  wait in arrival order (FIFO) and can show their place ("2 ahead of you");
- one session has at most one heavy job: a new one from the same owner cancels
  the owner's earlier job (still waiting, or running: its ``cancelled`` flag is
  set, and the job's loop stops at its next check) and queues behind nobody new;
- a waiting job can be abandoned at any time (the caller's ``on_wait`` callback
  may raise, e.g. Streamlit's stop/rerun): it leaves the queue cleanly;
- light work never goes through here, so it never waits.

Pure Python (no torch, no streamlit): ``ui.jobs`` puts it on a page, and the
tests drive it with threads.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field


class JobCancelled(Exception):
    """Raised by :meth:`Ticket.check` when a newer job of the same owner (or a caller) cancelled this one."""


@dataclass
class Ticket:
    """One heavy job: its place in the queue and whether it should stop."""

    number: int  # arrival order, process-wide
    owner: str  # the session that asked (one heavy job per owner)
    name: str  # what it is, for the page and the logs ("Lab 4: train & compare")
    started: float | None = None  # time.monotonic() when it got a slot
    _cancel: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        self._cancel.set()

    def check(self) -> None:
        """Raise :class:`JobCancelled` if this job was cancelled (call it between steps of a long loop)."""
        if self._cancel.is_set():
            raise JobCancelled(f"{self.name} was cancelled")


class Scheduler:
    """A FIFO of heavy jobs with ``slots`` running at once and one job per owner."""

    def __init__(self, slots: int | None = None) -> None:
        self.slots = max(1, int(slots or os.cpu_count() or 1))
        self._cond = threading.Condition()
        self._waiting: list[Ticket] = []  # in arrival order
        self._running: list[Ticket] = []
        self._numbers = itertools.count(1)

    # --- reading the state (cheap, for pages and tests) --------------------------------
    def running(self) -> list[Ticket]:
        with self._cond:
            return list(self._running)

    def waiting(self) -> list[Ticket]:
        with self._cond:
            return list(self._waiting)

    def ahead_of(self, ticket: Ticket) -> int:
        """How many waiting jobs are ahead of ``ticket`` (0 when it is next, or running)."""
        with self._cond:
            return self._waiting.index(ticket) if ticket in self._waiting else 0

    # --- running a job ------------------------------------------------------------------
    @contextlib.contextmanager
    def job(
        self,
        owner: str,
        name: str = "heavy job",
        *,
        on_wait: Callable[[int], None] | None = None,
        poll: float = 0.25,
        timeout: float | None = None,
    ) -> Iterator[Ticket]:
        """Wait for a slot, run the body, release the slot.

        ``on_wait(ahead)`` is called right away and then every ``poll`` seconds while
        the job waits, with the number of jobs ahead of it; it may raise to abandon
        the wait (the ticket leaves the queue). ``timeout`` (seconds) abandons the
        wait with :class:`TimeoutError`. The body should call ``ticket.check()``
        between its steps so that a newer job of the same owner can cancel it.
        """
        ticket = Ticket(next(self._numbers), owner, name)
        with self._cond:
            for older in self._waiting + self._running:  # one heavy job per session: the newest wins
                if older.owner == owner:
                    older.cancel()
            self._waiting.append(ticket)
            self._cond.notify_all()
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while True:
                with self._cond:
                    if ticket.cancelled:
                        raise JobCancelled(f"{name} was replaced by a newer request")
                    if self._may_start(ticket):
                        self._waiting.remove(ticket)
                        self._running.append(ticket)
                        ticket.started = time.monotonic()
                        break
                    ahead = self._waiting.index(ticket)
                if on_wait is not None:
                    on_wait(ahead)
                with self._cond:
                    if not self._may_start(ticket):
                        self._cond.wait(poll)
                if deadline is not None and time.monotonic() > deadline:
                    raise TimeoutError(f"{name} waited more than {timeout:.0f} s for a free core")
        except BaseException:
            with self._cond:
                if ticket in self._waiting:
                    self._waiting.remove(ticket)
                self._cond.notify_all()
            raise
        try:
            yield ticket
        finally:
            with self._cond:
                self._running.remove(ticket)
                self._cond.notify_all()

    def _may_start(self, ticket: Ticket) -> bool:
        """FIFO: a job starts when a slot is free and it is first in line among jobs that may run.

        A job whose owner still has a (cancelled) job running waits for that one to
        end first, so one session never holds two slots; jobs behind it may pass.
        """
        free = self.slots - len(self._running)
        if free <= 0:
            return False
        busy_owners = {t.owner for t in self._running}
        eligible = [t for t in self._waiting if t.owner not in busy_owners]
        return ticket in eligible[:free]


#: The one scheduler of this process (every session of a Streamlit server shares it).
SCHEDULER = Scheduler()
