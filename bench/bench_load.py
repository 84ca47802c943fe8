"""Classroom load test: N simulated students on a real ``streamlit run app.py``.

    python -m bench.run load                         # the sweep N = 1, 5, 10, 20, 30 + the balancer runs
    python -m bench.bench_load --n 1,5,10            # only some class sizes
    python -m bench.bench_load --replicas 1,2 --n 30 # 30 students through nginx: 1 vs 2 replicas
    python -m bench.bench_load --url http://127.0.0.1:8500 --n 10   # a server you started
    python -m bench.bench_load --quick               # 2 students, a few steps (what the test runs)
    python -m bench.bench_load --replicas 2 --n 30 --kill-after 60   # kill replica r1 60 s into the class

Each student is a real session that speaks Streamlit's own websocket protocol
(``bench/load_client.py``): the server runs exactly the reruns a browser causes, and
the student fetches every image and audio clip from ``/media`` as a browser would.
Student *i* opens the home page, then lab ``LABS[i % 6]``, and does what a student
does there: moves sliders and selects, uploads a 12-MP phone photo, presses Train or
Resample, with a think time of 1–4 s between steps (seeded). Students join over a
short ramp, as a class does after the teacher says "open the link".

Reported per N: p50/p95/max seconds from a widget change to ``script_finished``
(what ends the browser's spinner), split into *light* (a widget over cached work)
and *heavy* (open a lab, upload, Train, Resample); errors (any exception on the page,
a closed websocket, a failed upload or media fetch, a timeout) with samples; server
RSS (process tree, psutil) before, at peak, with all N connected, and after all
closed and their sessions were reaped (the leak check); memory per extra session; the slowest
light steps with when they happened (``slowest_light``, seconds since the first student came);
the load generator's own CPU and the whole machine's (``load_client_cpu_s``,
``machine_cores_busy``: the simulated students share the box, a real class does not).

``--kill-after S`` (through the balancer, 2+ replicas): replica ``r1`` (``--kill-replica``) is
SIGKILLed S seconds into the class and not restarted. A student whose replica died does what
the browser does: it notices the closed websocket at once (also while idle), reconnects with
its old session id (the survivor starts a fresh session), and carries on with its remaining
steps. Every student stays connected until the kill, then reruns once. Reported under
``kill``: the errors of the students on the other replicas (must be 0) and whether each kept
its session; for the killed replica's students, the interrupted steps, each reconnect (ok,
seconds, since the kill, replica, fresh session) and their errors after it.

Bounded: each N has a deadline (steps not started by then are counted as skipped),
each interaction a timeout, and the server is stopped at the end. Traffic goes only
to 127.0.0.1. Prints one JSON document. Timings are never asserted in tests.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import random
import re
import signal
import statistics
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.load_client import Interaction, ProtocolError, Student, Widget  # noqa: E402
from bench.load_client import run as run_async  # noqa: E402

SWEEP = (1, 5, 10, 20, 30)
LABS = ("logistic-regression", "mlp", "convolution", "regularization", "augmentation", "inception")
PHOTO_UPLOADER = "…or upload your own photo"
#: Seconds the server keeps a closed tab's session (short here, so the leak check sees them freed).
SESSION_TTL_S = 10
#: Seconds after the sessions are dropped before RSS is read "after they left": the server's
#: trimmer collects the ended sessions' cycles every 10 s and idle decode workers exit after 20 s
#: (``lab.memory``, ``lab.safe_decode.IDLE_EXIT_S``), as they would on a real server after a class.
SETTLE_S = 30
TARGETS = {
    "p95_light_s_at_10": 1.5,
    "p95_light_s_at_30": 3.0,
    "errors_at_30": 0,
    "peak_rss_mb_at_30": 1600,
    "rss_after_leave_within_mb": 150,
}


# --- what a student does -------------------------------------------------------------------
def another(w: Widget, k: int = 1) -> Any:
    """A valid value of ``w`` other than its current one (``k`` steps along its range or options)."""
    p = w.proto
    if w.kind == "slider":
        if len(p.options):  # select_slider: option labels
            current = list(p.value or p.default)
            i = (int(current[0]) + k) % len(p.options) if current else k % len(p.options)
            return p.options[i]
        current = (list(p.value) or list(p.default) or [p.min])[0]
        step = p.step or (p.max - p.min) / 10
        new = current + k * step
        if new > p.max:
            new = current - k * step
        return max(p.min, min(p.max, new))
    if w.kind in {"selectbox", "radio"}:
        default = p.default if p.HasField("default") else 0
        return p.options[(default + k) % len(p.options)]
    if w.kind == "checkbox":
        return not (p.value if p.set_value else p.default)
    raise ProtocolError(f"no 'another value' rule for a {w.kind}")


@dataclass(frozen=True)
class Step:
    verb: str  # "set" | "click" | "upload"
    label: str
    value: Any = None  # a value, or None for another(widget)
    heavy: bool = False


#: What a student does on each lab after opening it (labels as the pages show them).
SCENARIOS: dict[str, tuple[Step, ...]] = {
    "logistic-regression": (
        Step("set", "Learning rate α"),
        Step("set", "Noise"),
        Step("click", "step ▶"),
        Step("set", "Step for the table|Step (state after"),
    ),
    "mlp": (
        Step("set", "Noise"),
        Step("click", "Train", heavy=True),
        Step("set", "Show test points", False),
    ),
    "convolution": (
        Step("upload", PHOTO_UPLOADER, heavy=True),
        Step("set", "Kernel", "Sobel x"),
        Step("set", "Stride s"),
        Step("set", "Padding p"),
    ),
    "regularization": (
        Step("click", "Train & compare", heavy=True),
        Step("set", "View", "Activations"),
        Step("set", "View", "Dropout"),
        Step("set", "Drop probability p"),
    ),
    "augmentation": (
        Step("click", "Resample", heavy=True),
        Step("set", "max angle ±°"),
        Step("upload", PHOTO_UPLOADER, heavy=True),
    ),
    "inception": (
        Step("upload", PHOTO_UPLOADER, heavy=True),
        Step("set", "Layer", "3b"),
        Step("set", "Overlay opacity"),
    ),
}
#: The quick mode (tests): one page (one cold import), each kind of interaction, an upload per student.
QUICK_LABS = ("convolution",)
QUICK_SCENARIOS = {"convolution": (Step("upload", PHOTO_UPLOADER, heavy=True), Step("set", "Stride s"))}


def phone_photo(size: tuple[int, int] = (4000, 3000), seed: int = 0) -> bytes:
    """A 12-MP JPEG like a phone's: smooth gradients, edges and sensor noise (≈ 2–4 MB)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    w, h = size
    small = rng.integers(0, 255, (6, 8, 3), dtype=np.uint8)
    img = np.asarray(Image.fromarray(small).resize(size, Image.Resampling.BICUBIC), dtype=np.int16)
    img += rng.integers(-12, 13, (h, w, 1), dtype=np.int16)
    buf = io.BytesIO()
    Image.fromarray(img.clip(0, 255).astype(np.uint8)).save(buf, "JPEG", quality=90)
    return buf.getvalue()


async def _wait_for_widget(student: Student, label: str, limit: float = 150.0) -> Interaction | None:
    """A widget that appears only when a queued heavy job is done (Lab 4's views after training):
    wait for it as a student does, refreshing every 2 s. Returns the wait, or None if it was there."""
    try:
        student.widget(label)
        return None
    except ProtocolError:
        pass
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < limit:
        await asyncio.sleep(2.0)
        refreshed = await student.rerun(heavy=True)
        if refreshed.error:
            return Interaction(f"wait for {label}", True, time.perf_counter() - t0, refreshed.error)
        try:
            student.widget(label)
            return Interaction(f"wait for {label}", True, time.perf_counter() - t0)
        except ProtocolError:
            continue
    return Interaction(
        f"wait for {label}", True, time.perf_counter() - t0, f"{label!r} did not appear in {limit:.0f} s"
    )


async def _do(student: Student, step: Step, k: int, photo: bytes) -> Interaction:
    t0 = time.perf_counter()
    try:
        if step.verb == "click":
            return await student.click(step.label, heavy=step.heavy)
        if step.verb == "upload":
            return await student.upload(step.label, f"phone-{k}.jpg", photo)
        w = student.widget(step.label)
        value = another(w, k) if step.value is None else step.value
        return await student.set(step.label, value, heavy=step.heavy)
    except Exception as err:  # a missing widget, a bad value: the page changed under the scenario
        return Interaction(f"{step.verb} {step.label}", step.heavy, time.perf_counter() - t0, f"{err}"[:300])


@dataclass
class KillPlan:
    """Kill one replica ``after_s`` seconds into a class, and what the class saw of it (``--kill-after``)."""

    replica: str  # the balancer's name of the replica to kill ("r1")
    after_s: float
    kill: Callable[[str], None]  # Cluster.kill: SIGKILL, no restart during the class
    pid: int  # the replica's process (its CPU time is read just before the kill)
    happened: asyncio.Event = field(default_factory=asyncio.Event)
    students: dict[int, Student] = field(default_factory=dict)  # connected so far, by index
    at_kill: dict[int, dict] = field(default_factory=dict)  # index -> {replica, session_id} at the kill
    killed_at: float = 0.0  # time.monotonic() of the kill
    cpu_s_at_kill: float = 0.0  # the killed replica's CPU seconds until then (gone from later readings)


async def _kill_later(plan: KillPlan, t0: float) -> None:
    await asyncio.sleep(max(0.0, plan.after_s - (time.monotonic() - t0)))
    plan.cpu_s_at_kill = tree_cpu_s([plan.pid])
    plan.at_kill = {
        i: {"replica": s.http.cookies.get("dl101_replica", "") or s.replica, "session_id": s.session_id}
        for i, s in plan.students.items()
    }
    plan.killed_at = time.monotonic()
    await asyncio.to_thread(plan.kill, plan.replica)
    plan.happened.set()


async def _think(student: Student, seconds: float, watch: bool) -> None:
    """Think time; with ``watch``, cut short when the websocket closes (the frontend reconnects at once)."""
    if not watch:
        await asyncio.sleep(seconds)
        return
    end = time.monotonic() + seconds
    while not student.closed_reason and (left := end - time.monotonic()) > 0:
        await asyncio.sleep(min(0.1, left))


async def student_session(
    url: str,
    index: int,
    *,
    labs: tuple[str, ...],
    scenarios: dict[str, tuple[Step, ...]],
    photo: bytes,
    deadline: float,
    think_s: tuple[float, float],
    start_delay: float,
    done_event: asyncio.Event,
    finished: list[int],
    timeout: float,
    chaos: KillPlan | None = None,
    class_t0: float | None = None,
) -> dict:
    """One student: home page, one lab, its steps; waits for the class to finish before closing.

    With ``chaos``, a closed websocket is reconnected once, at once, as the frontend does; the
    student waits for the kill before finishing and then reruns once (see ``--kill-after``)."""
    rng = random.Random(1000 + index)
    lab = labs[index % len(labs)]
    log: list[Interaction] = []
    skipped = 0
    reconnect: dict | None = None
    await asyncio.sleep(start_delay)
    student = Student(url, timeout=timeout)
    session_id = ""

    async def recover() -> None:
        nonlocal reconnect
        noticed, old = time.monotonic(), student.session_id
        back = await student.reconnect()
        back.action = "reconnect after kill"
        log.append(back)
        reconnect = {
            "ok": not back.error,
            "error": back.error,
            "seconds": round(back.seconds, 2),  # new websocket → the fresh session's first run finished
            "noticed_after_kill_s": round(noticed - chaos.killed_at, 2) if chaos.killed_at else None,
            "since_kill_s": round(time.monotonic() - chaos.killed_at, 2) if chaos.killed_at else None,
            "replica": student.http.cookies.get("dl101_replica", "") or student.replica,
            "fresh_session": bool(student.session_id) and student.session_id != old,
        }

    try:
        try:
            await student.connect()
        except Exception as err:
            log.append(Interaction("connect", True, 0.0, f"{type(err).__name__}: {err}"[:300]))
            finished[0] += 1
            return {"lab": lab, "interactions": log, "skipped": len(scenarios[lab]) + 2, "session_id": "",
                    "index": index, "reconnect": None}  # fmt: skip
        if chaos is not None:
            chaos.students[index] = student
        plan: list[Callable[[], Any]] = [lambda: student.open(""), lambda: student.open(lab)]
        steps = list(scenarios[lab])
        plan += [lambda s=s, k=k: _do(student, s, index + k + 1, photo) for k, s in enumerate(steps)]
        for n, action in enumerate(plan):
            if time.monotonic() > deadline:
                skipped = len(plan) - n
                break
            if n:
                await _think(student, rng.uniform(*think_s), chaos is not None)
            if chaos is not None and student.closed_reason and reconnect is None:
                await recover()
            step = steps[n - 2] if n >= 2 else None
            if step is not None and step.verb == "set":
                waited = await _wait_for_widget(student, step.label)
                if waited is not None:
                    log.append(waited)
                    if waited.error:
                        continue
            result = await action()
            if class_t0 is not None:
                result.at = round(time.monotonic() - result.seconds - class_t0, 2)
            log.append(result)
            if result.error and student.closed_reason:
                if chaos is not None and reconnect is None:
                    await recover()  # the interrupted step is lost; the student carries on
                    continue
                skipped = len(plan) - n - 1
                break
        if chaos is not None:  # everyone is connected at the kill; then each checks its session once more
            with suppress(TimeoutError):
                await asyncio.wait_for(chaos.happened.wait(), max(0.0, deadline - time.monotonic()))
            mine = chaos.at_kill.get(index, {})
            if chaos.happened.is_set() and mine.get("replica") == chaos.replica and reconnect is None:
                t_wait = time.monotonic()
                while not student.closed_reason and time.monotonic() - t_wait < 15:
                    await asyncio.sleep(0.05)
                if student.closed_reason:
                    await recover()
                else:
                    log.append(
                        Interaction("notice the kill", True, 15.0, "websocket still open 15 s after its replica died")
                    )
            after = await student.rerun()
            after.action = "rerun after kill"
            log.append(after)
        session_id = student.session_id
        finished[0] += 1
        await done_event.wait()  # everyone stays connected until the class is done (RSS with N sessions)
    finally:
        await student.close()
    return {"lab": lab, "interactions": log, "skipped": skipped, "session_id": session_id, "index": index,
            "reconnect": reconnect}  # fmt: skip


# --- measuring the server --------------------------------------------------------------------
def rss_split_mb(pids: list[int]) -> dict[str, float]:
    """RSS (MB) of the server processes themselves and of their children (the upload-decoding workers)."""
    server = children = 0
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            server += proc.memory_info().rss
            for c in proc.children(recursive=True):
                with suppress(psutil.NoSuchProcess):
                    children += c.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return {"server": server / 2**20, "children": children / 2**20}


def tree_rss_mb(pids: list[int]) -> float:
    """RSS (MB) of the server processes and all their children."""
    return sum(rss_split_mb(pids).values())


def tree_cpu_s(pids: list[int]) -> float:
    """CPU seconds (user + system) used so far by the process trees of ``pids``."""
    total = 0.0
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            procs = [proc, *proc.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
        for p in procs:
            with suppress(psutil.NoSuchProcess):
                t = p.cpu_times()
                total += t.user + t.system
    return total


class RssSampler:
    """Peak RSS of the server's process tree, sampled every 0.25 s in a thread."""

    def __init__(self, pids: Callable[[], list[int]]) -> None:
        self.pids = pids
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            self.peak = max(self.peak, tree_rss_mb(self.pids()))

    def __enter__(self) -> RssSampler:
        self.peak = tree_rss_mb(self.pids())
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 3)
    return round(statistics.quantiles(values, n=100, method="inclusive")[q - 1], 3)


def _summary(values: list[float]) -> dict:
    return {
        "n": len(values),
        "p50_s": _pct(values, 50),
        "p95_s": _pct(values, 95),
        "max_s": round(max(values), 3) if values else None,
    }


def cache_mb(urls: list[str], top: int = 8) -> dict[str, float]:
    """What Streamlit's caches hold (``/_stcore/metrics``, summed over ``urls``): the largest, in MB."""
    sizes: dict[str, float] = {}
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    for url in urls:
        try:
            text = opener.open(f"{url}/_stcore/metrics", timeout=10).read().decode()
        except OSError:
            continue
        for m in re.finditer(r'^cache_memory_bytes\{cache_type="([^"]*)",cache="([^"]*)"\} (\S+)$', text, re.M):
            name = f"{m.group(1)}:{m.group(2).rsplit('.', 1)[-1]}" if m.group(2) else m.group(1)
            sizes[name] = sizes.get(name, 0.0) + float(m.group(3)) / 2**20
    return {k: round(v, 1) for k, v in sorted(sizes.items(), key=lambda kv: -kv[1])[:top] if v >= 0.1}


async def _reap_sessions(url: str) -> None:
    """After the TTL, one short visit makes Streamlit drop the expired sessions (it reaps on a write)."""
    await asyncio.sleep(SESSION_TTL_S + 1)
    probe = Student(url, fetch_media=False)
    try:
        await probe.connect()
        await probe.open("")
    finally:
        await probe.close()
    await asyncio.sleep(2)


async def run_class(
    url: str,
    n: int,
    pids: Callable[[], list[int]],
    *,
    labs: tuple[str, ...] = LABS,
    scenarios: dict[str, tuple[Step, ...]] = SCENARIOS,
    budget_s: float = 300.0,
    think_s: tuple[float, float] = (1.0, 4.0),
    ramp_s: float | None = None,
    timeout: float = 180.0,
    reap: bool = True,
    photo_size: tuple[int, int] = (4000, 3000),
    metrics_urls: list[str] | None = None,
    chaos: KillPlan | None = None,
) -> dict:
    """``n`` students at once against ``url``; the measurements for one class size.

    ``chaos``: kill a replica mid-class (``through_balancer(kill_after=…)``); adds ``kill``."""
    photo = phone_photo(photo_size)
    ramp = min(10.0, 0.5 * (n - 1)) if ramp_s is None else ramp_s
    split_before = rss_split_mb(pids())
    rss_before = sum(split_before.values())
    cpu_before = tree_cpu_s(pids())
    done = asyncio.Event()
    finished = [0]  # students whose steps are over (they stay connected until ``done``)
    print(f"[load] class of {n} starts", file=sys.stderr, flush=True)
    client_cpu0 = time.process_time()
    machine0 = psutil.cpu_times()
    t0 = time.monotonic()
    deadline = t0 + budget_s
    killer = asyncio.create_task(_kill_later(chaos, t0)) if chaos is not None else None
    with RssSampler(pids) as sampler:
        tasks = [
            asyncio.create_task(
                student_session(
                    url, i, labs=labs, scenarios=scenarios, photo=photo, deadline=deadline, think_s=think_s,
                    start_delay=ramp * i / max(1, n - 1), done_event=done, finished=finished, timeout=timeout,
                    chaos=chaos, class_t0=t0,
                )
            )
            for i in range(n)
        ]  # fmt: skip
        # every student finished its steps (or gave up): measure with all N still connected
        while finished[0] < n and time.monotonic() < deadline + timeout:
            await asyncio.sleep(0.25)
        wall = time.monotonic() - t0
        client_cpu = time.process_time() - client_cpu0
        machine1 = psutil.cpu_times()
        machine_busy = (
            sum(machine1) - sum(machine0) - (machine1.idle - machine0.idle) - (machine1.iowait - machine0.iowait)
        )
        cpu_used = tree_cpu_s(pids()) - cpu_before
        if chaos is not None and chaos.happened.is_set():
            cpu_used += chaos.cpu_s_at_kill  # the killed replica's CPU until the kill (it is gone from pids())
        rss_connected = tree_rss_mb(pids())
        caches_connected = cache_mb(metrics_urls or [url])
        done.set()
        results = await asyncio.gather(*tasks)
    if killer is not None and not killer.done():  # the class ended before the kill: no kill
        killer.cancel()
        with suppress(asyncio.CancelledError):
            await killer
    peak = sampler.peak
    await asyncio.sleep(1)
    rss_closed = tree_rss_mb(pids())
    if reap:
        await _reap_sessions(url)
        await asyncio.sleep(SETTLE_S)
    split_after = rss_split_mb(pids())
    rss_after = sum(split_after.values())
    caches_after = cache_mb(metrics_urls or [url])

    inter = [i for r in results for i in r["interactions"]]
    ok = [i for i in inter if not i.error]
    errors = [i for i in inter if i.error]
    light = [i.seconds for i in ok if not i.heavy]
    heavy = [i.seconds for i in ok if i.heavy]
    replicas: dict[str, int] = {}
    for r in results:
        rep = next((i.replica for i in r["interactions"] if i.replica), "")
        replicas[rep or "direct"] = replicas.get(rep or "direct", 0) + 1
    return {
        "students": n,
        "interactions": len(inter),
        "completed": len(ok),
        "errors": len(errors),
        "error_samples": sorted({f"{e.action}: {e.error}"[:240] for e in errors})[:8],
        "skipped_steps": sum(r["skipped"] for r in results),
        "light": _summary(light),
        "heavy": _summary(heavy),
        # when the slowest light ones happened (seconds since the first student arrived): the arrival
        # burst, or later
        "slowest_light": [
            {"action": i.action, "at_s": i.at, "seconds": round(i.seconds, 2)}
            for i in sorted((i for i in ok if not i.heavy), key=lambda i: -i.seconds)[:8]
        ],
        "media_fetched": sum(i.media for i in ok),
        "wall_s": round(wall, 1),
        "throughput_interactions_per_min": round(60 * len(ok) / wall, 1) if wall else None,
        # CPU time the server spent: unlike seconds of latency, it does not depend on what else runs
        "server_cpu_s": round(cpu_used, 1),
        "server_cpu_s_per_student": round(cpu_used / n, 2),
        "server_cores_busy": round(cpu_used / wall, 2) if wall else None,
        # the simulated students run on the same machine (in a classroom they are on their own laptops)
        "load_client_cpu_s": round(client_cpu, 1),
        "machine_cores_busy": round(machine_busy / wall, 2) if wall else None,  # everything on the box
        "students_per_replica": replicas,
        "rss_before_mb": round(rss_before, 1),
        "rss_peak_mb": round(peak, 1),
        "rss_all_connected_mb": round(rss_connected, 1),
        "rss_after_close_mb": round(rss_closed, 1),
        "rss_after_sessions_reaped_mb": round(rss_after, 1) if reap else None,
        "rss_split_before_mb": {k: round(v, 1) for k, v in split_before.items()},
        "rss_split_after_mb": {k: round(v, 1) for k, v in split_after.items()},
        "mb_per_session": round((rss_connected - rss_before) / n, 1),
        "leak_mb": round(rss_after - rss_before, 1) if reap else None,
        # Streamlit's own accounting of its caches (st.cache_data/resource, uploads, session state)
        "caches_mb_all_connected": caches_connected,
        "caches_mb_after": caches_after,
        "by_action": _by_action(ok),
        **({"kill": _kill_report(results, chaos, t0)} if chaos is not None else {}),
    }


def _kill_report(results: list[dict], plan: KillPlan, t0: float) -> dict:
    """What a replica's death did: to the students elsewhere (nothing, we hope) and to its own (a reconnect)."""
    out: dict[str, Any] = {"replica": plan.replica, "after_s": plan.after_s, "happened": plan.happened.is_set()}
    if not plan.happened.is_set():
        out["note"] = "the class ended before the kill"
        return out
    on_killed = {i for i, at in plan.at_kill.items() if at["replica"] == plan.replica}
    victims = [r for r in results if r["index"] in on_killed]
    others = [r for r in results if r["index"] not in on_killed]  # on another replica at the kill, or joined after
    out["note"] = "rss_* and leak_mb of this run lose the killed replica's memory at the kill"
    survivor_errors = [i for r in others for i in r["interactions"] if i.error]
    kept = [
        r for r in others if r["index"] in plan.at_kill and r["session_id"] == plan.at_kill[r["index"]]["session_id"]
    ]
    before, after = [], []
    for r in victims:
        actions = [i.action for i in r["interactions"]]
        split = actions.index("reconnect after kill") if "reconnect after kill" in actions else len(actions)
        before += [i for i in r["interactions"][:split] if i.error]
        after += [i for i in r["interactions"][split + 1 :] if i.error]
    recs = [r["reconnect"] for r in victims]
    done = [x for x in recs if x and x["ok"]]
    out.update({
        "at_s": round(plan.killed_at - t0, 1),
        "students_on_killed_replica": len(victims),
        "students_elsewhere": len(others),
        "joined_after_kill": sum(1 for r in others if r["index"] not in plan.at_kill),
        # the other replicas' students: untouched means zero errors and the same session throughout
        "survivor_errors": len(survivor_errors),
        "survivor_error_samples": sorted({f"{e.action}: {e.error}"[:200] for e in survivor_errors})[:5],
        "survivors_kept_their_session": len(kept),
        "survivors_untouched": not survivor_errors and len(kept) == sum(1 for r in others if r["index"] in plan.at_kill),
        "killed_sessions": {
            "interrupted_steps": len(before),  # the step under way when the replica died (if any)
            "interrupted_samples": sorted({f"{e.action}: {e.error}"[:200] for e in before})[:5],
            "reconnected": len(done),
            "reconnect_failed_or_hung": len(victims) - len(done),
            "reconnect_s": _summary([x["seconds"] for x in done]),
            "since_kill_s_max": max((x["since_kill_s"] for x in done), default=None),
            "fresh_sessions": sum(1 for x in done if x["fresh_session"]),
            "now_on": sorted({x["replica"] for x in done}),
            "errors_after_reconnect": len(after),
            "error_samples_after_reconnect": sorted({f"{e.action}: {e.error}"[:200] for e in after})[:5],
            "each": recs,
        },
    })  # fmt: skip
    return out


def _by_action(ok: list[Interaction]) -> dict:
    groups: dict[str, list[float]] = {}
    for i in ok:
        name = i.action.split(" phone-")[0]
        groups.setdefault(name, []).append(i.seconds)
    return {k: {"n": len(v), "p50_s": _pct(v, 50), "max_s": round(max(v), 3)} for k, v in sorted(groups.items())}


# --- servers ------------------------------------------------------------------------------------
@contextmanager
def single_server(*, public: bool = True) -> Iterator[tuple[str, list[int]]]:
    """One ``streamlit run app.py`` on a free loopback port with the hosting settings; yields (url, [pid])."""
    from deploy.replicas import hosting_flags
    from tests.browser import streamlit_process

    env = dict(os.environ, DL101_PUBLIC="1") if public else dict(os.environ)
    args = (*hosting_flags(), "--server.disconnectedSessionTTL", str(SESSION_TTL_S))
    with streamlit_process(args=args, env=env, timeout=120, log_dir=ROOT / "bench" / "results") as (url, proc):
        yield url, [proc.pid]


async def _warm_up(url: str, labs: tuple[str, ...], scenarios: dict[str, tuple[Step, ...]], pids) -> dict:
    """One student visits every lab once (imports, models, caches), then leaves; the baseline RSS."""
    rss_fresh = tree_rss_mb(pids())
    result = await run_class(url, 1, pids, labs=labs, scenarios=scenarios, think_s=(0.0, 0.0), reap=False)
    student = Student(url, fetch_media=False)
    await student.connect()
    errors = []
    for lab in labs:
        it = await student.open(lab)
        if it.error:
            errors.append(f"{lab}: {it.error}"[:200])
    await student.close()
    return {"rss_fresh_server_mb": round(rss_fresh, 1), "rss_after_warm_up_mb": round(tree_rss_mb(pids()), 1),
            "warm_up_errors": errors + result["error_samples"]}  # fmt: skip


def sweep(ns: tuple[int, ...], *, quick: bool = False, url: str | None = None, pids: list[int] | None = None,
          public: bool = True, budget_s: float = 300.0) -> dict:  # fmt: skip
    """The class sizes ``ns`` one after another on one server (started here unless ``url`` is given)."""
    labs = QUICK_LABS if quick else LABS
    scenarios = QUICK_SCENARIOS if quick else SCENARIOS
    think = (0.2, 0.5) if quick else (1.0, 4.0)

    async def go(url: str, get_pids, url_is_ours: bool) -> dict:
        out: dict[str, Any] = {}
        if not quick:
            out["warm_up"] = await _warm_up(url, labs, scenarios, get_pids)
        out["runs"] = {}
        for n in ns:
            out["runs"][str(n)] = await run_class(
                url, n, get_pids, labs=labs, scenarios=scenarios, think_s=think, budget_s=budget_s,
                reap=not quick and url_is_ours, photo_size=(1600, 1200) if quick else (4000, 3000),
            )  # fmt: skip
            print(f"[load] {n} students: {json.dumps(_headline(out['runs'][str(n)]))}", file=sys.stderr)
        return out

    if url:
        return {"server": url, **run_async(go(url, lambda: pids or [], False))}
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    with single_server(public=public) as (server_url, server_pids):
        return {
            "server": "one streamlit process (started here)",
            **run_async(go(server_url, lambda: server_pids, True)),
        }


def through_balancer(
    replica_counts: tuple[int, ...],
    n: int,
    *,
    budget_s: float = 300.0,
    kill_after: float | None = None,
    kill_replica: str = "r1",
    quick: bool = False,
) -> dict:
    """``n`` students through nginx in front of 1, 2, … replicas (``deploy.replicas``).

    ``kill_after``: with 2+ replicas, SIGKILL ``kill_replica`` that many seconds into the class
    (the run gets a ``kill`` report). ``quick``: the quick scenario, no warm-up (a smoke run)."""
    from deploy.replicas import LaunchError, cluster

    labs, scenarios = (QUICK_LABS, QUICK_SCENARIOS) if quick else (LABS, SCENARIOS)
    think, photo = ((0.2, 0.5), (1600, 1200)) if quick else ((1.0, 4.0), (4000, 3000))
    out: dict[str, Any] = {}
    for k in replica_counts:
        try:
            with cluster(k, port=None, extra_flags=["--server.disconnectedSessionTTL", str(SESSION_TTL_S)]) as c:

                async def go(c=c, k=k) -> dict:
                    if not quick:
                        for r in c.replicas:  # every replica warm (imports, models), each on its own port
                            await _warm_up(r.url, labs, scenarios, c.replica_pids)
                    urls = [r.url for r in c.replicas]
                    chaos = None
                    if kill_after is not None and k >= 2:
                        victim = next((r for r in c.replicas if r.name == kill_replica), None)
                        if victim is None:
                            raise LaunchError(
                                f"no replica named {kill_replica!r} (have {[r.name for r in c.replicas]})"
                            )
                        chaos = KillPlan(kill_replica, kill_after, c.kill, victim.proc.pid)
                    return await run_class(
                        c.url, n, c.replica_pids, labs=labs, scenarios=scenarios, think_s=think, budget_s=budget_s,
                        metrics_urls=urls, chaos=chaos, reap=not quick, photo_size=photo,
                    )  # fmt: skip

                out[f"{k}_replicas"] = run_async(go())
        except LaunchError as err:
            return {"skipped": str(err)}
        print(f"[load] balancer, {k} replicas: {json.dumps(_headline(out[f'{k}_replicas']))}", file=sys.stderr)
    if "1_replicas" in out and "2_replicas" in out:
        a, b = out["1_replicas"], out["2_replicas"]
        out["throughput_ratio_2_vs_1"] = round(
            b["throughput_interactions_per_min"] / a["throughput_interactions_per_min"], 2
        )
        if a["light"]["p95_s"] and b["light"]["p95_s"]:
            out["p95_light_ratio_2_vs_1"] = round(b["light"]["p95_s"] / a["light"]["p95_s"], 2)
    return out


def _headline(r: dict) -> dict:
    return {k: r[k] for k in ("errors", "light", "heavy", "rss_peak_mb", "wall_s", "throughput_interactions_per_min")}


def _targets(runs: dict) -> dict:
    r10, r30 = runs.get("10"), runs.get("30")
    out = {"targets": TARGETS}
    if r10:
        out["p95_light_at_10_met"] = (r10["light"]["p95_s"] or 0) < TARGETS["p95_light_s_at_10"]
    if r30:
        out["p95_light_at_30_met"] = (r30["light"]["p95_s"] or 0) < TARGETS["p95_light_s_at_30"]
        out["zero_errors_at_30_met"] = r30["errors"] == 0
        out["peak_rss_at_30_met"] = r30["rss_peak_mb"] < TARGETS["peak_rss_mb_at_30"]
        if r30["leak_mb"] is not None:
            out["rss_back_after_leave_met"] = r30["leak_mb"] < TARGETS["rss_after_leave_within_mb"]
    return out


def run() -> dict:
    """``python -m bench.run load``: the sweep on one server, then 30 students through nginx, 1 vs 2 replicas."""
    result = sweep(SWEEP)
    result.update(_targets(result["runs"]))
    result["balancer_30_students"] = through_balancer((1, 2), 30)
    result["machine"] = _machine()
    return result


def _machine() -> dict:
    """Cores and load: on a shared box the other processes' load is part of the result."""
    return {"cpus": os.cpu_count(), "loadavg_1_5_15": [round(x, 1) for x in os.getloadavg()]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.bench_load", description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", default=",".join(map(str, SWEEP)), help="class sizes, e.g. 1,5,10")
    ap.add_argument("--quick", action="store_true",
                    help="a few cheap steps, no warm-up; 2 students unless --n is given (the test's mode)")  # fmt: skip
    ap.add_argument("--url", help="target a running server or balancer on 127.0.0.1 instead of starting one")
    ap.add_argument("--replicas", help="run through nginx with these replica counts, e.g. 1,2 (uses --n's last)")
    ap.add_argument("--budget-s", type=float, default=300.0, help="deadline per class size (s)")
    ap.add_argument("--no-public", action="store_true", help="without DL101_PUBLIC=1 (the hosting caps)")
    ap.add_argument("--kill-after", type=float, metavar="S",
                    help="with --replicas (2+): SIGKILL one replica S seconds into the class; reports survivors' "
                    "errors and the killed sessions' reconnects")  # fmt: skip
    ap.add_argument("--kill-replica", default="r1", help="which replica --kill-after kills (default r1)")
    args = ap.parse_args(argv)
    if args.kill_after is not None and not args.replicas:
        ap.error("--kill-after needs --replicas (2 or more)")
    # SIGTERM (a CI timeout, `kill`) unwinds like Ctrl-C, so the servers started here are stopped
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    default_n = args.n == ap.get_default("n")
    ns = (2,) if args.quick and default_n else tuple(int(x) for x in args.n.split(","))
    if args.replicas:
        result = through_balancer(
            tuple(int(x) for x in args.replicas.split(",")), ns[-1], budget_s=args.budget_s,
            kill_after=args.kill_after, kill_replica=args.kill_replica, quick=args.quick,
        )  # fmt: skip
        kills = [r["kill"] for r in result.values() if isinstance(r, dict) and "kill" in r]
        failed = [
            k for k in kills
            if not k["happened"] or not k["survivors_untouched"] or k["killed_sessions"]["reconnect_failed_or_hung"]
        ]  # fmt: skip
        result["machine"] = _machine()
        print(
            json.dumps(result, indent=2, default=lambda o: asdict(o) if hasattr(o, "__dataclass_fields__") else str(o))
        )
        return 1 if failed else 0
    result = sweep(ns, quick=args.quick, url=args.url, public=not args.no_public, budget_s=args.budget_s)
    result.update(_targets(result["runs"]))
    result["machine"] = _machine()
    print(json.dumps(result, indent=2, default=lambda o: asdict(o) if hasattr(o, "__dataclass_fields__") else str(o)))
    errors = sum(r.get("errors", 0) for r in result.get("runs", {}).values())
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
