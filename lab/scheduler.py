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
- light work never goes through here, so it never waits;
- a running heavy job gives way to light work: at its pause points (between
  epochs, slices or steps, :meth:`Scheduler.yield_to_light`) it waits while any
  *interactive* script run is in progress (a run of a session that holds no
  ticket: a slider moved, a page opened), for at most ``YIELD_MAX_S`` per pause.
  Streamlit runs every session in one interpreter, so without this a training
  thread takes its turn at the GIL beside every rerun: in a 30-student class
  Lab 4's and Lab 2's trainings held 28 % of the server's GIL time, and a
  slider's rerun queued behind them. Two bounds keep a busy class from
  starving the trainings: one pause lasts at most ``YIELD_MAX_S``, and a job
  gives way for at most ``YIELD_SHARE`` of its running time;
- heavy *runs* (a page's first run in a session, a run that takes a new upload)
  queue too, in :data:`RUNS` (one slot): ``ui.jobs.heavy_run`` makes the rest of
  such a run wait for it, :meth:`Scheduler.parked` (a waiting run is not light
  work), and a run gives its slot back when it starts a heavy job.

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

#: Longest a heavy job waits for light work at one pause point (then it takes one more step).
YIELD_MAX_S = 0.5
#: At most this share of a running job's time goes to giving way, so a class that reruns without
#: a break slows a training by at most 4× instead of stopping it.
YIELD_SHARE = 0.75


class JobCancelled(Exception):
    """Raised by :meth:`Ticket.check` when a newer job of the same owner (or a caller) cancelled this one."""


@dataclass
class Ticket:
    """One heavy job: its place in the queue and whether it should stop."""

    number: int  # arrival order, process-wide
    owner: str  # the session that asked (one heavy job per owner)
    name: str  # what it is, for the page and the logs ("Lab 4: train & compare")
    started: float | None = None  # time.monotonic() when it got a slot
    thread: int = field(default_factory=threading.get_ident)  # the thread that asked (a session's script run)
    yielded_s: float = 0.0  # time it gave way to light work at its pause points
    _cancel: threading.Event = field(default_factory=threading.Event, repr=False)
    _pause: Callable[[], float] | None = field(default=None, repr=False)

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        self._cancel.set()

    def check(self) -> None:
        """Raise :class:`JobCancelled` if this job was cancelled (call it between steps of a long loop)."""
        if self._cancel.is_set():
            raise JobCancelled(f"{self.name} was cancelled")

    def should_stop(self) -> bool:
        """A pause point: give way to light work (see :meth:`Scheduler.yield_to_light`), then say whether to stop.

        Pass it as a training loop's ``should_stop``."""
        if self._pause is not None:
            self._pause()
        return self.cancelled


class Scheduler:
    """A FIFO of heavy jobs with ``slots`` running at once and one job per owner."""

    def __init__(self, slots: int | None = None) -> None:
        self.slots = max(1, int(slots or os.cpu_count() or 1))
        self._cond = threading.Condition()
        self._waiting: list[Ticket] = []  # in arrival order
        self._running: list[Ticket] = []
        self._numbers = itertools.count(1)
        self._runs: dict[int, int] = {}  # thread ident -> nesting depth of interactive() (script runs in progress)
        self._parked: set[int] = set()  # runs waiting in another queue (parked()): not light work meanwhile
        self.yielded_s = 0.0  # total time heavy jobs waited for light work (bench and tests read it)

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

    # --- light work goes first -----------------------------------------------------------
    @contextlib.contextmanager
    def interactive(self) -> Iterator[None]:
        """Mark this thread as running a session's script (``app.py`` wraps every page run in it).

        While it runs and holds no ticket it is *light work*: running heavy jobs give
        way to it at their pause points. Nesting is allowed (a fragment inside a run)."""
        me = threading.get_ident()
        with self._cond:
            self._runs[me] = self._runs.get(me, 0) + 1
        try:
            yield
        finally:
            with self._cond:
                depth = self._runs.pop(me, 1) - 1
                if depth > 0:
                    self._runs[me] = depth
                self._cond.notify_all()

    def light_runs(self) -> int:
        """Script runs in progress that hold no heavy-job ticket (waiting or running)."""
        with self._cond:
            return self._light_runs()

    def _light_runs(self, exclude: int | None = None) -> int:
        heavy = {t.thread for t in self._running} | {t.thread for t in self._waiting} | {exclude}
        return sum(1 for thread in self._runs if thread not in heavy and thread not in self._parked)

    @contextlib.contextmanager
    def parked(self) -> Iterator[None]:
        """This thread's run waits in another queue meanwhile: heavy jobs need not give way to it."""
        me = threading.get_ident()
        with self._cond:
            self._parked.add(me)
        try:
            yield
        finally:
            with self._cond:
                self._parked.discard(me)
                self._cond.notify_all()

    def holds_ticket(self) -> bool:
        """Whether this thread has a heavy job waiting or running here."""
        me = threading.get_ident()
        with self._cond:
            return any(t.thread == me for t in self._running + self._waiting)

    def yield_to_light(self, max_wait_s: float | None = None) -> float:
        """Wait while light work is in progress, at most ``max_wait_s`` (``YIELD_MAX_S``); returns the wait.

        Call it between the steps of a heavy job (:meth:`Ticket.should_stop` does). It
        returns at once when no session is rerunning, so a lone student's training runs
        at full speed. A running job's total wait stays within ``YIELD_SHARE`` of its
        running time."""
        limit = YIELD_MAX_S if max_wait_s is None else max_wait_s
        me = threading.get_ident()
        t0 = time.monotonic()
        with self._cond:
            mine = [t for t in self._running if t.thread == me]
            if mine and mine[0].started is not None:  # (yielded + w) <= share * (ran + w)
                ran = t0 - mine[0].started
                limit = min(limit, (YIELD_SHARE * ran - mine[0].yielded_s) / (1.0 - YIELD_SHARE))
            while self._light_runs(exclude=me) and (left := limit - (time.monotonic() - t0)) > 0:
                self._cond.wait(left)
            waited = time.monotonic() - t0
            self.yielded_s += waited
            for ticket in mine:
                ticket.yielded_s += waited
        return waited

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
        ticket = Ticket(next(self._numbers), owner, name, _pause=self.yield_to_light)
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


def slots_from_env(name: str, default: int) -> int:
    """A slot count from the environment variable ``name``: a whole number from 1 to 64, else ``default``.

    A typo in a host's settings must not stop the server from starting."""
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw.isdigit() and 1 <= int(raw) <= 64 else default


#: The one scheduler of this process (every session of a Streamlit server shares it).
SCHEDULER = Scheduler()

#: Heavy *runs* (``ui.jobs.page_run``): a page's first run in a session, and a run that takes a new
#: upload. They wait in arrival order for one of these slots, so that a class arriving at once opens
#: its pages a few at a time instead of all sharing the one interpreter, and the light reruns of
#: those already in go first. One slot, whatever the cores: the runs hold the GIL for most of
#: their work, so a second one only halves the share of the light reruns (30 students on 2 cores:
#: light p95 1.84-2.84 s with one slot, 2.97-4.05 s with two). ``DL101_HEAVY_RUNS`` sets the number.
RUNS = Scheduler(slots=slots_from_env("DL101_HEAVY_RUNS", 1))
