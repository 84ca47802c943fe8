"""Compute device selection and seeding.

Every compute function in ``lab`` takes ``device=`` explicitly and returns CPU
results for plotting. This module decides which device a choice means.

``cuda_hint`` answers "could CUDA be available?" *without importing torch*, so the
home page can render its sidebar in a few milliseconds; ``resolve_device``
imports torch and gives the authoritative answer.
"""

from __future__ import annotations

import contextlib
import os
import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

DeviceChoice = Literal["auto", "cpu", "cuda"]
DEVICE_CHOICES: tuple[DeviceChoice, ...] = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class DeviceInfo:
    """The device a choice resolved to, and why."""

    choice: str  # what the user asked for: auto / cpu / cuda
    device: str  # what is used: "cpu" or "cuda" (or "cuda:0")
    name: str  # human-readable, e.g. "CPU (2 threads)" or "NVIDIA H100"
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
            _heavy_ready.set()
    return time.perf_counter() - t0


def _warm_up() -> None:
    import numpy  # noqa: F401  (imported by all of the below; first, on its own)
    import plotly.graph_objects as go
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
    go.Figure([go.Scatter(x=[0], y=[0]), go.Heatmap(z=[[0]])]).to_json()
    googlenet(weights=None, aux_logits=False, init_weights=False)
    del torchvision


_warm_thread: threading.Thread | None = None


def start_warm_up() -> None:
    """Start :func:`import_heavy` in a background thread (once), so the first lab page finds torch ready."""
    global _warm_thread
    with _busy_lock:
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
    cpu = DeviceInfo(choice, "cpu", f"CPU ({torch.get_num_threads()} threads)", "")
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


# --- CPU threads ------------------------------------------------------------------------
#
# Policy: big tensors (GoogLeNet, a 12-MP convolution) use torch's default thread
# pool; small models run inside ``single_thread()``. Their ops are microseconds
# long, so splitting them over threads costs more in hand-offs than it gains — on
# an idle 2-core CPU 2 threads are ~10 % slower for a Playground MLP, and on a
# busy one (several sessions) 5–20× slower. In between, image previews (~10⁵
# values per op) run inside ``cores_if_alone()``: on an idle 2-core CPU two
# threads make them ~1.2× faster, but two sessions each splitting their ops over
# both cores would wait on each other at every op, so only a session that is the
# only one computing in the process (no other preview, no small model training) gets them.


_busy_lock = threading.Lock()
_busy = 0  # single_thread() and cores_if_alone() blocks running right now, in this process


@contextlib.contextmanager
def _computing() -> Iterator[bool]:
    """Count this block as computing; yields whether no other block was computing when it started."""
    global _busy
    with _busy_lock:
        alone = _busy == 0
        _busy += 1
    try:
        yield alone
    finally:
        with _busy_lock:
            _busy -= 1


@contextlib.contextmanager
def single_thread(enabled: bool = True) -> Iterator[None]:
    """Run torch CPU ops on one intra-op thread inside this block, then restore the setting.

    Set and restored in the calling thread (each Streamlit session runs its
    script in its own thread); nested blocks restore correctly. While it runs,
    :func:`cores_if_alone` elsewhere in the process gives one thread too.
    ``enabled=False`` makes it a no-op (e.g. for a large model or a GPU run).
    """
    if not enabled:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with _computing():
            yield
    finally:
        torch.set_num_threads(before)


@contextlib.contextmanager
def cores_if_alone() -> Iterator[int]:
    """Torch's default intra-op threads if nothing else in this process is computing, else one.

    "Computing" means inside another :func:`cores_if_alone` or :func:`single_thread`
    block (a preview or a small model training in another session). Yields the
    thread count used. Decided on entry (a session that starts later gets one
    thread); set and restored in the calling thread like :func:`single_thread`.
    """
    with _computing() as alone:
        if alone:
            import torch

            yield torch.get_num_threads()
        else:
            with single_thread():
                yield 1
