"""lab.scheduler (fair sharing of heavy jobs), lab.limits (public caps) and ui.jobs on a page."""

from __future__ import annotations

import contextlib
import threading
import time

import pytest

from lab import limits
from lab.scheduler import JobCancelled, Scheduler


def _hold(scheduler: Scheduler, owner: str, started: threading.Event, release: threading.Event, log: list):
    with scheduler.job(owner, owner) as ticket:
        log.append(owner)
        started.set()
        while not release.wait(0.01):
            if ticket.cancelled:
                log.append(f"{owner} cancelled")
                return


@contextlib.contextmanager
def _all_slots_taken(scheduler: Scheduler):
    """Every slot of ``scheduler`` held by another session's job; yields the event that releases them."""
    release = threading.Event()
    holders = []
    try:
        for i in range(scheduler.slots):
            started = threading.Event()
            t = threading.Thread(target=_hold, args=(scheduler, f"other-{i}", started, release, []))
            t.start()
            holders.append(t)
            assert started.wait(5)
        yield release
    finally:
        release.set()
        for t in holders:
            t.join(5)


def test_at_most_slots_jobs_run_and_the_rest_start_in_arrival_order():
    scheduler = Scheduler(slots=2)
    log: list[str] = []
    events = {name: (threading.Event(), threading.Event()) for name in "abcde"}
    threads = []
    for name in "abcde":  # arrive one after another
        started, release = events[name]
        t = threading.Thread(target=_hold, args=(scheduler, name, started, release, log))
        t.start()
        threads.append(t)
        if name in "ab":
            assert started.wait(5)
        else:
            deadline = time.monotonic() + 5
            while len(scheduler.waiting()) < "abcde".index(name) - 1 and time.monotonic() < deadline:
                time.sleep(0.01)
    assert [t.owner for t in scheduler.running()] == ["a", "b"]
    assert [t.owner for t in scheduler.waiting()] == ["c", "d", "e"]
    assert [scheduler.ahead_of(t) for t in scheduler.waiting()] == [0, 1, 2]
    for name in "abcde":  # finish them one by one: the next in line starts each time
        events[name][1].set()
        time.sleep(0.05)
    for t in threads:
        t.join(5)
    assert log == list("abcde")
    assert scheduler.running() == [] and scheduler.waiting() == []


def test_a_waiting_job_can_be_abandoned_and_leaves_the_queue():
    scheduler = Scheduler(slots=1)
    started, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold, args=(scheduler, "a", started, release, []))
    holder.start()
    assert started.wait(5)
    calls: list[int] = []

    class Clicked(BaseException):  # what Streamlit raises in a run when the student clicks
        pass

    def on_wait(ahead: int) -> None:
        calls.append(ahead)
        if len(calls) == 3:
            raise Clicked

    with pytest.raises(Clicked), scheduler.job("b", "b", on_wait=on_wait, poll=0.01):
        pytest.fail("must not run")
    assert calls == [0, 0, 0]
    assert scheduler.waiting() == []
    release.set()
    holder.join(5)
    with scheduler.job("c", "c") as ticket:  # the queue still works
        assert not ticket.cancelled


def test_a_new_job_of_the_same_session_cancels_its_older_one():
    """Ten clicks on Train: the newest job wins, the older one is told to stop, one slot is held."""
    scheduler = Scheduler(slots=2)
    started, release, log = threading.Event(), threading.Event(), []
    older = threading.Thread(target=_hold, args=(scheduler, "s1", started, release, log))
    older.start()
    assert started.wait(5)
    with scheduler.job("s1", "newer") as ticket:
        assert not ticket.cancelled
        assert [t.name for t in scheduler.running()] == ["newer"]  # the older one stopped before this started
    older.join(5)
    assert log == ["s1", "s1 cancelled"]


def test_a_cancelled_waiting_job_raises_job_cancelled():
    scheduler = Scheduler(slots=1)
    started, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold, args=(scheduler, "a", started, release, []))
    holder.start()
    assert started.wait(5)
    outcome: list[str] = []

    def wait_then_lose() -> None:
        try:
            with scheduler.job("b", "first"):
                outcome.append("ran")
        except JobCancelled:
            outcome.append("cancelled")

    first = threading.Thread(target=wait_then_lose)
    first.start()
    while not scheduler.waiting():
        time.sleep(0.01)

    def newer() -> None:
        with scheduler.job("b", "second"):
            outcome.append("second ran")

    replaced = threading.Thread(target=newer)
    replaced.start()
    first.join(5)
    release.set()
    holder.join(5)
    replaced.join(5)
    assert outcome == ["cancelled", "second ran"]
    assert scheduler.running() == [] and scheduler.waiting() == []


def test_public_caps_apply_only_on_a_public_server(monkeypatch):
    monkeypatch.delenv("DL101_PUBLIC", raising=False)
    assert limits.cap("regularization.work", 5000) == (5000, None)  # a student's own machine: uncapped
    monkeypatch.setenv("DL101_PUBLIC", "1")
    used, message = limits.cap("regularization.work", 5000)
    assert used == limits.PUBLIC_CAPS["regularization.work"].limit < 5000
    assert message and "public server caps" in message and "5,000" in message
    assert limits.cap("regularization.work", 10) == (10, None)
    with pytest.raises(KeyError):
        limits.cap("no.such.cap", 1)


def test_a_light_rerun_is_not_blocked_while_every_slot_runs_a_heavy_job():
    """Fill every slot of the process-wide scheduler with heavy jobs; a page's light reruns still finish."""
    from lab.scheduler import SCHEDULER
    from tests.conftest import run_page

    with _all_slots_taken(SCHEDULER):
        at = run_page("app_pages/convolution.py", timeout=60)
        assert not at.exception
        at.run(timeout=60)  # a plain rerun over cached results
        assert not at.exception
        assert len(SCHEDULER.running()) == SCHEDULER.slots  # nobody took a slot


def _light_run(scheduler: Scheduler, inside: threading.Event, leave: threading.Event, log: list) -> None:
    """A session's script run (light work) that lasts until ``leave`` is set."""
    with scheduler.interactive():
        inside.set()
        leave.wait(10)
        log.append("light run finished")


def test_a_running_heavy_job_gives_way_to_a_light_rerun_at_its_pause_points():
    """At ``ticket.should_stop()`` a training waits while another session reruns, and goes on when it ends."""
    scheduler = Scheduler(slots=1)
    inside, leave, log = threading.Event(), threading.Event(), []
    light = threading.Thread(target=_light_run, args=(scheduler, inside, leave, log))
    paused = threading.Event()

    def train() -> None:
        with scheduler.job("trainer", "train") as ticket:
            assert scheduler.light_runs() == 1  # the other session's run, not this job's own thread
            time.sleep(0.5)  # it trained a while: it may give way up to 3 × 0.5 s (YIELD_SHARE)
            paused.set()
            ticket._pause = lambda: scheduler.yield_to_light(max_wait_s=30)  # long bound: only the rerun ends it
            assert ticket.should_stop() is False
            log.append("training resumed")

    light.start()
    assert inside.wait(5)
    heavy = threading.Thread(target=train)
    heavy.start()
    assert paused.wait(5)
    time.sleep(0.3)
    assert log == []  # still waiting for the light run
    leave.set()
    heavy.join(5)
    light.join(5)
    assert not heavy.is_alive()
    assert log == ["light run finished", "training resumed"]
    assert scheduler.light_runs() == 0
    assert scheduler.yielded_s >= 0.3


def test_a_pause_point_returns_at_once_without_light_work_and_ignores_queued_heavy_jobs():
    """Nobody rerunning, or only sessions that are themselves waiting for a slot: the job goes on."""
    scheduler = Scheduler(slots=1)
    started, release = threading.Event(), threading.Event()
    done = threading.Event()

    def job_that_pauses() -> None:
        with scheduler.interactive(), scheduler.job("a", "a"):  # a job runs inside its page's run
            started.set()
            release.wait(10)
            scheduler.yield_to_light(max_wait_s=30)
            done.set()

    def queued() -> None:  # another session's run that waits for the slot (holds a ticket: not light)
        with scheduler.interactive(), contextlib.suppress(JobCancelled), scheduler.job("b", "b"):
            pass

    a = threading.Thread(target=job_that_pauses)
    a.start()
    assert started.wait(5)
    b = threading.Thread(target=queued)
    b.start()
    deadline = time.monotonic() + 5
    while not scheduler.waiting() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [t.owner for t in scheduler.waiting()] == ["b"]
    assert scheduler.light_runs() == 0
    release.set()
    assert done.wait(10)  # far less than the 30 s bound
    a.join(5)
    b.join(5)
    assert scheduler.running() == [] and scheduler.waiting() == []


def test_a_pause_is_bounded_so_a_busy_class_cannot_starve_a_training():
    """A light run that never ends: the job takes a step after ``max_wait_s``, and gives way for at
    most ``YIELD_SHARE`` of its running time."""
    from lab.scheduler import YIELD_SHARE

    scheduler = Scheduler(slots=1)
    inside, leave, log = threading.Event(), threading.Event(), []
    light = threading.Thread(target=_light_run, args=(scheduler, inside, leave, log))
    light.start()
    assert inside.wait(5)
    try:
        with scheduler.job("trainer", "train") as ticket:
            time.sleep(0.5)
            assert 0.2 <= scheduler.yield_to_light(max_wait_s=0.2) < 5  # one pause's bound
            ran = time.monotonic() - ticket.started
            waited = scheduler.yield_to_light(max_wait_s=30)  # the share's bound
            ran += waited
            assert waited > 0.5  # it gave way again, well beyond the first pause …
            assert ticket.yielded_s <= YIELD_SHARE * ran + 0.05  # … until 75 % of its time went to waiting
            assert scheduler.yield_to_light(max_wait_s=30) < 0.1  # then it trains on
        assert log == []  # the light run was still going
    finally:
        leave.set()
        light.join(5)


def test_nested_interactive_runs_count_once_and_end_with_the_outer_one():
    """A fragment inside a page run (ui.fragment inside app.py's run) is one light run, gone when the run ends."""
    scheduler = Scheduler(slots=1)
    seen = []

    def run() -> None:
        with scheduler.interactive():
            with scheduler.interactive():
                seen.append(scheduler.light_runs())
            seen.append(scheduler.light_runs())
        seen.append(scheduler.light_runs())

    t = threading.Thread(target=run)
    t.start()
    t.join(5)
    assert seen == [1, 1, 0]


def test_an_error_in_a_run_still_ends_its_light_work():
    scheduler = Scheduler(slots=1)
    with pytest.raises(RuntimeError), scheduler.interactive():
        raise RuntimeError("a page failed")
    assert scheduler.light_runs() == 0


def test_a_public_server_caps_feature_visualisation_and_says_so(monkeypatch):
    """Lab 6 on a public server: 600 steps asked, the cap's 128 used, and the page says why."""
    import dataclasses

    from lab import featurevis as FV
    from tests.conftest import run_page

    monkeypatch.setenv("DL101_PUBLIC", "1")
    real, asked = FV.visualise_channel, []

    def spy(model, cfg, **kw):
        asked.append(cfg.fv_steps)
        return real(model, dataclasses.replace(cfg, fv_steps=10, fv_size=64), **kw)  # keep the test quick

    monkeypatch.setattr(FV, "visualise_channel", spy)
    at = run_page("app_pages/inception.py", query={"tab": "featurevis"})
    at.slider(key="inception.fv.fv_steps").set_value(600).run()
    at.button(key="inception.fv_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert asked == [limits.PUBLIC_CAPS["inception.featurevis_steps"].limit]
    notes = " ".join(i.value for i in at.info)
    assert "public server caps feature-visualisation steps at 128" in notes and "600" in notes


def test_a_public_server_caps_lab4_training_and_says_so(monkeypatch):
    """Lab 4 on a public server: configurations × seeds × epochs above the cap train fewer epochs, said on the page."""
    from lab import regularization as reg
    from tests.conftest import run_page

    monkeypatch.setenv("DL101_PUBLIC", "1")
    real, asked = reg.compare, []

    def spy(config, split, **kw):
        asked.append((len(config.variants), config.num_seeds, config.num_epochs))
        return real(reg.CompareConfig(**{**config.__dict__, "num_epochs": 1}), split, **kw)  # keep the test quick

    monkeypatch.setattr(reg, "compare", spy)
    at = run_page(
        "app_pages/regularization.py", query={"variants": "baseline,dropout,batchnorm,both", "num_epochs": "200"}
    )
    notes = " ".join(i.value for i in at.info)  # said before the click, next to the settings it cuts
    assert "public server caps Lab 4 training" in notes
    at.button(key="regularization.train").click().run()
    assert not at.exception, [e.value for e in at.exception]
    ((variants, seeds, epochs),) = asked
    assert variants * seeds * epochs <= limits.PUBLIC_CAPS["regularization.work"].limit < variants * seeds * 200


def test_every_public_cap_is_applied_by_a_page():
    """No dead caps: each name in lab.limits is used by a page through ui.apply_cap."""
    from ui.catalog import ROOT

    pages = " ".join(p.read_text() for p in (ROOT / "app_pages").glob("*.py"))
    for name in limits.PUBLIC_CAPS:
        assert f'apply_cap("{name}"' in pages, name


def test_a_parked_run_is_not_light_work():
    """A run that waits in another queue (a run slot) holds nothing: trainings need not give way to it."""
    scheduler = Scheduler(slots=1)
    inside, leave = threading.Event(), threading.Event()

    def parked_run() -> None:
        with scheduler.interactive(), scheduler.parked():
            inside.set()
            leave.wait(10)

    t = threading.Thread(target=parked_run)
    t.start()
    assert inside.wait(5)
    assert scheduler.light_runs() == 0
    leave.set()
    t.join(5)
    assert scheduler.light_runs() == 0


@pytest.fixture
def full_run_slots():
    """Every slot of ``lab.scheduler.RUNS`` held by other sessions' heavy runs; ``release()`` frees them."""
    from lab.scheduler import RUNS

    with _all_slots_taken(RUNS) as release:
        yield release


def _wait_for_run_ticket(what: str, limit: float = 60) -> str:
    from lab.scheduler import RUNS

    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        names = [t.name for t in RUNS.waiting()]
        if names:
            return names[0]
        time.sleep(0.02)
    raise AssertionError(f"nobody waited for a run slot ({what})")


def test_opening_a_lab_waits_for_a_run_slot_and_its_light_reruns_do_not(full_run_slots):
    """A class arriving at once: a lab's first run waits in line for a run slot (RUNS); once the lab is
    open, moving a widget reruns without waiting, even while every run slot is taken."""
    from lab.scheduler import RUNS
    from tests.conftest import run_page

    box: dict = {}
    opener = threading.Thread(target=lambda: box.setdefault("at", run_page("app_pages/convolution.py", timeout=120)))
    opener.start()
    assert _wait_for_run_ticket("open").startswith("Opening 3.")  # the lab's title, e.g. "Opening 3. Convolution …"
    assert opener.is_alive()  # it really waits
    full_run_slots.set()
    opener.join(120)
    at = box["at"]
    assert not at.exception and "computing at" in " ".join(m.value for m in [*at.markdown, *at.caption])
    assert RUNS.waiting() == []
    # every slot taken again: a light rerun of the open lab goes straight through
    with _all_slots_taken(RUNS):
        at.sidebar.number_input[0].set_value(3).run()  # the seed: a rerun of the open page
        assert not at.exception
        assert RUNS.waiting() == []


def test_a_new_upload_waits_for_a_run_slot():
    """The run that takes a new 12-MP photo is heavy: it waits for a run slot, then the photo is used."""
    from lab.scheduler import RUNS
    from tests.conftest import run_page
    from tests.test_page_convolution import _jpeg

    at = run_page("app_pages/convolution.py", timeout=120)
    with _all_slots_taken(RUNS) as release:
        uploader = at.get("file_uploader")[0]
        uploader.set_value(("big.jpg", _jpeg(), "image/jpeg"))
        runner = threading.Thread(target=lambda: at.run(timeout=120))
        runner.start()
        assert _wait_for_run_ticket("upload") == "Taking your upload"
        release.set()
        runner.join(120)
        assert not at.exception
        assert "4000×3000 as uploaded" in " ".join(m.value for m in [*at.markdown, *at.caption])


def test_a_run_gives_its_run_slot_back_when_it_starts_a_heavy_job():
    """An opening run that presses into a training (Lab 4's preset) must not hold up other students'
    page openings while it queues for a core or trains: it gives the run slot back first."""
    from lab.scheduler import RUNS, SCHEDULER
    from ui.jobs import heavy_job, heavy_run, page_run

    seen = {}

    def run() -> None:
        with page_run(opening="4. Regularisation"):
            seen["opening"] = [t.name for t in RUNS.running()]
            heavy_run("Taking your upload")  # once per run: it already holds its slot
            seen["still one"] = len(RUNS.running()) + len(RUNS.waiting())
            with heavy_job("Lab 4: train & compare"):
                seen["training"] = ([t.name for t in RUNS.running()], [t.name for t in SCHEDULER.running()])
        seen["after"] = (RUNS.running(), SCHEDULER.running(), SCHEDULER.light_runs())

    t = threading.Thread(target=run)
    t.start()
    t.join(30)
    assert seen["opening"] == ["Opening 4. Regularisation"]
    assert seen["still one"] == 1
    assert seen["training"] == ([], ["Lab 4: train & compare"])
    assert seen["after"] == ([], [], 0)


def test_the_run_slot_count_comes_from_the_environment_and_a_typo_keeps_the_default(monkeypatch):
    from lab.scheduler import slots_from_env

    for raw, expected in (("3", 3), (" 2 ", 2), ("", 1), ("two", 1), ("0", 1), ("-1", 1), ("1e3", 1), ("999", 1)):
        monkeypatch.setenv("DL101_HEAVY_RUNS", raw)
        assert slots_from_env("DL101_HEAVY_RUNS", 1) == expected, raw
