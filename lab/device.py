"""Compute device selection and seeding.

Every compute function in ``lab`` takes ``device=`` explicitly and returns CPU
results for plotting. This module decides which device a choice means.

``cuda_hint`` answers "could CUDA be available?" *without importing torch*, so the
home page can render its sidebar in a few milliseconds; ``resolve_device``
imports torch and gives the authoritative answer.
"""

from __future__ import annotations

import contextlib
import functools
import os
import random
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from lab import memory

DeviceChoice = Literal["auto", "cpu", "cuda"]
DEVICE_CHOICES: tuple[DeviceChoice, ...] = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class DeviceInfo:
    """The device a choice resolved to, and why."""

    choice: str  # what the user asked for: auto / cpu / cuda
    device: str  # what is used: "cpu" or "cuda" (or "cuda:0")
    name: str  # human-readable, e.g. "CPU (2 cores)" or "NVIDIA H100"
    note: str  # why this device (shown when the choice could not be honoured)


def cuda_hint() -> tuple[bool, str]:
    """Cheap guess whether CUDA can work here, without importing torch.

    Returns ``(maybe_available, reason)``. Once :func:`import_heavy` has finished,
    torch's own answer is used. Never read ``sys.modules["torch"]`` here: while
    another session's thread is still importing it, that module is half
    initialised (``torch.cuda`` missing), the race behind "a class arriving at
    once crashes". Otherwise a missing NVIDIA driver means "no" for sure.
    """
    if _heavy_ready.is_set():
        import torch

        if torch.cuda.is_available():
            return True, f"{torch.cuda.device_count()} CUDA device(s) found"
        return False, "PyTorch reports no usable CUDA device on this machine"
    if Path("/proc/driver/nvidia/version").exists() or os.environ.get("CUDA_VISIBLE_DEVICES"):
        return True, "an NVIDIA driver is present"
    return False, "no NVIDIA GPU driver was found on this machine, so computation runs on the CPU"


# --- the first heavy import, once per process -------------------------------------------
#
# Every Streamlit session runs its script in its own thread. When a class opens the
# link at once, eight threads import torch at the same moment: Python's per-module
# import locks then hand some of them a half-initialised module (a deadlock is
# broken that way), and code that looks torch up in ``sys.modules`` sees one too.
# So the first import of every heavy module — and the first use of the parts that
# import more lazily (an optimiser step pulls in torch._dynamo, a plotly figure its
# validators, GoogLeNet's constructor its init code) — happens exactly once, in one
# thread, under one lock. Lab pages wait for it (``ui`` shows a "warming up" status);
# the home page never does: it only starts it in the background.

_heavy_lock = threading.Lock()
_heavy_ready = threading.Event()
_heavy_error: BaseException | None = None


def heavy_ready() -> bool:
    """Whether :func:`import_heavy` has finished in this process (so nothing heavy is half-imported)."""
    return _heavy_ready.is_set()


def import_heavy() -> float:
    """Import torch, torchvision and plotly and touch their lazy parts once, under a process-wide lock.

    Safe to call from any number of threads at once: one does the work, the others
    wait for it, and every later call returns at once. Returns the seconds this call
    spent (waiting included). Raises the import's error, if any, in every caller.
    """
    import time

    if _heavy_ready.is_set():
        return 0.0
    t0 = time.perf_counter()
    with _heavy_lock:
        if not _heavy_ready.is_set():
            global _heavy_error
            try:
                _warm_up()
            except BaseException as err:  # keep it for every waiter; a later call tries again
                _heavy_error = err
                raise
            _heavy_error = None
            # Streamlit collects garbage after every script run: with the libraries frozen, that walks
            # only what sessions made (0.2–0.3 s of GIL a rerun before; see lab.memory).
            memory.freeze_imports()
            _heavy_ready.set()
    return time.perf_counter() - t0


def _warm_up() -> None:
    import numpy  # imported by all of the below: first, on its own
    import pandas  # plotly checks figure data for pandas objects; st.dataframe needs it
    import pandas.io.formats.style
    import plotly.graph_objects as go
    import pyarrow  # noqa: F401  (st.dataframe / st.table serialise through it)
    import torch
    import torch.nn.functional as F
    import torchvision
    import torchvision.transforms.v2
    from torchvision.models import googlenet

    # Lazy parts: an optimiser step (imports torch._dynamo), autograd, a conv, a plotly figure
    # serialised (loads its validators), GoogLeNet's constructor (its init code).
    w = torch.zeros(2, requires_grad=True)
    opt = torch.optim.Adam([w], lr=0.1)
    F.softplus(w).sum().backward()
    opt.step()
    F.conv2d(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 3, 3))
    go.Figure(
        [go.Scatter(x=numpy.zeros(2), y=numpy.zeros(2)), go.Heatmap(z=[[0]]), go.Image(z=[[[0, 0, 0]]])]
    ).to_json()
    pandas.DataFrame({"a": [1.0]}).style.format("{:.1f}").to_html()
    googlenet(weights=None, aux_logits=False, init_weights=False)
    del torchvision


_warm_thread: threading.Thread | None = None
_heavy_lock_guard = threading.Lock()


def start_warm_up() -> None:
    """Start :func:`import_heavy` in a background thread (once), so the first lab page finds torch ready.

    ``DL101_WARMUP=0`` turns it off (lab pages then import on their first run, under the same
    lock): only for ``bench.bench_server``, which measures a lab page's first paint both ways.
    """
    global _warm_thread
    if os.environ.get("DL101_WARMUP", "1") == "0":
        return
    with _heavy_lock_guard:
        if _warm_thread is not None or _heavy_ready.is_set():
            return
        _warm_thread = threading.Thread(target=_warm_quietly, name="dl101-warm-up", daemon=True)
        _warm_thread.start()


def _warm_quietly() -> None:
    with contextlib.suppress(Exception):  # a page that needs torch calls import_heavy and reports it
        import_heavy()


def resolve_device(choice: str = "auto") -> DeviceInfo:
    """Turn a user's choice (auto / cpu / cuda) into a usable device.

    Asking for CUDA where it is unavailable falls back to the CPU with a note,
    never an error: a hosted demo has no GPU and must keep working.
    """
    import torch

    choice = choice if choice in DEVICE_CHOICES else "auto"
    n = cpu_cores()
    cpu = DeviceInfo(choice, "cpu", f"CPU ({n} core{'s' if n != 1 else ''})", "")
    if choice == "cpu":
        return cpu
    if torch.cuda.is_available():
        return DeviceInfo(choice, "cuda", torch.cuda.get_device_name(0), "")
    if choice == "cuda":
        note = "CUDA was requested but PyTorch sees no GPU here; using the CPU instead."
        return DeviceInfo(choice, "cpu", cpu.name, note)
    return cpu


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch (CPU and every GPU) for reproducible runs."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device


def generator(seed: int, device: str = "cpu"):
    """A private ``torch.Generator`` so a lab's randomness does not depend on call order."""
    import torch

    return torch.Generator(device=device).manual_seed(seed)


# --- CPU threads: the compute policy ---------------------------------------------------
#
# Measured on a 2-core box (bench/bench_contention.py): torch's default of one OpenMP
# thread per core is fastest only while *nothing else runs*. As soon as another process
# (the browser drawing the page, another student's session, another replica) takes a
# core, every parallel op waits at its barriers for a descheduled thread and slows down
# 2–18×, while one thread per op barely notices. Tiny models (the labs' MLPs and small
# CNNs) are faster on one thread even when the machine is idle.
#
# So:
# - everything runs on ``BASE_THREADS`` = 1 thread unless a hot path asks for more;
# - ``compute("small")`` (== ``single_thread()``): 1 thread, always;
# - ``compute("large")`` (== ``cores_if_alone()``): as many threads as there are cores
#   that are really free right now: the cores, minus the load of *other processes*
#   (read from the OS every 0.25 s by :class:`LoadMonitor`), minus the threads already
#   granted to other blocks of this process; at least 1;
# - every block sets its count on entry and restores ``BASE_THREADS`` on exit. Never
#   "the value before": torch copies the last value set by *any* thread into each new
#   thread, and each Streamlit rerun is a new thread, so restoring "before" while two
#   sessions overlap leaked 1 thread to every later session.

BASE_THREADS = 1
#: Other processes using less than this many cores count as "quiet" (a browser idling, a shell).
QUIET_LOAD = 0.35

_busy_lock = threading.Lock()
_granted = 0  # threads granted to compute() blocks running right now, in this process


class LoadMonitor:
    """The CPU load of *other* processes, in cores, averaged over the last second.

    A daemon thread samples the machine's busy CPU time and this process's own CPU
    time every ``interval`` seconds (psutil: /proc on Linux, the OS's counters
    elsewhere); other = machine − this process. Starts on first use.
    """

    def __init__(self, interval: float = 0.25, window: int = 4) -> None:
        self.interval, self.window = interval, window
        self._samples: list[tuple[float, float, float]] = []  # (wall, machine busy s, own cpu s)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.override: float | None = None  # tests and benchmarks may pin the reading

    @staticmethod
    def _sample() -> tuple[float, float, float]:
        import time

        import psutil

        t = psutil.cpu_times()
        busy = sum(t) - t.idle - getattr(t, "iowait", 0.0)
        own = psutil.Process().cpu_times()
        return time.monotonic(), busy, own.user + own.system

    def _run(self) -> None:
        import time

        while True:
            sample = self._sample()
            with self._lock:
                self._samples = [*self._samples[-self.window :], sample]
            time.sleep(self.interval)

    def start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._samples = [self._sample()]
                self._thread = threading.Thread(target=self._run, name="dl101-load-monitor", daemon=True)
                self._thread.start()

    def other_load(self) -> float:
        """Cores kept busy by other processes (0 = idle machine); 0 until two samples exist."""
        if self.override is not None:
            return self.override
        self.start()
        with self._lock:
            first, last = self._samples[0], self._samples[-1]
        wall = last[0] - first[0]
        if wall <= 0:
            return 0.0
        return max(0.0, ((last[1] - first[1]) - (last[2] - first[2])) / wall)


LOAD = LoadMonitor()


def cpu_cores() -> int:
    """Cores this process may really use: the affinity mask (a cpuset), and a cgroup CPU quota if lower.

    In a Kubernetes pod with ``limits.cpu: 2`` on a 32-core node, the affinity mask says 32 but
    the quota (``/sys/fs/cgroup/cpu.max``, cgroup v2) allows 2: threads beyond it get throttled.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, min(cores, _cgroup_quota() or cores))


def _cgroup_quota() -> int | None:
    """The cgroup v2 CPU quota in whole cores (rounded up), or None when there is none."""
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
    except (OSError, ValueError):
        return None
    if quota == "max":
        return None
    return max(1, -(-int(quota) // int(period)))


def _threads(work: str, granted: int) -> int:
    if work == "small":
        return 1
    free = cpu_cores() - LOAD.other_load() - granted
    return max(1, min(cpu_cores(), int(free + QUIET_LOAD)))


def threads_for(work: Literal["small", "large"] = "large") -> int:
    """The intra-op thread count the policy would give a new block of ``work`` right now."""
    with _busy_lock:
        return _threads(work, _granted)


_local = threading.local()  # .depth: compute() blocks open in this thread


@contextlib.contextmanager
def compute(work: Literal["small", "large"] = "large", enabled: bool = True) -> Iterator[int]:
    """Run the block's torch CPU ops on the policy's thread count; yields it; restores ``BASE_THREADS``.

    ``work="small"``: tiny models, one thread. ``work="large"``: GoogLeNet, a 12-MP
    convolution, an image preview — all free cores (see the section comment).
    ``enabled=False`` (a GPU run), or a block inside another block of the same thread
    (a hot path calling another), changes nothing and yields the current count.
    """
    import torch

    global _granted
    depth = getattr(_local, "depth", 0)
    if not enabled or depth:
        _local.depth = depth + 1
        try:
            yield torch.get_num_threads()
        finally:
            _local.depth = depth
        return
    with _busy_lock:  # decide and book atomically, so two blocks starting together don't both take every core
        n = _threads(work, _granted)
        _granted += n
    torch.set_num_threads(n)
    _local.depth = 1
    try:
        yield n
    finally:
        _local.depth = 0
        with _busy_lock:
            _granted -= n
        torch.set_num_threads(BASE_THREADS)


F = TypeVar("F", bound=Callable[..., Any])


def large_work(fn: F) -> F:
    """Decorator: run ``fn`` inside ``compute("large")`` (a hot path: GoogLeNet, 12-MP convolutions…)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with compute("large"):
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def single_thread(enabled: bool = True) -> contextlib.AbstractContextManager[int]:
    """One intra-op thread inside this block (a tiny model training): ``compute("small")``."""
    return compute("small", enabled)


def cores_if_alone() -> contextlib.AbstractContextManager[int]:
    """As many threads as are free right now (an image preview, GoogLeNet): ``compute("large")``."""
    return compute("large")


def set_base_threads() -> None:
    """Put the calling thread (a new Streamlit script run) on ``BASE_THREADS``."""
    import torch

    if torch.get_num_threads() != BASE_THREADS:
        torch.set_num_threads(BASE_THREADS)
