"""lab.device: device resolution falls back cleanly; seeding is reproducible."""

from __future__ import annotations

import pytest
import torch

from lab.device import cuda_hint, generator, import_heavy, resolve_device, seed_everything


def test_cpu_is_always_available():
    info = resolve_device("cpu")
    assert info.device == "cpu" and "CPU" in info.name and info.note == ""


def test_auto_and_cuda_agree_with_torch():
    if torch.cuda.is_available():
        assert resolve_device("auto").device == "cuda"
        assert resolve_device("cuda").device == "cuda"
    else:
        assert resolve_device("auto").device == "cpu"
        info = resolve_device("cuda")
        assert info.device == "cpu" and "CUDA was requested" in info.note
    assert resolve_device("nonsense").choice == "auto"


def test_hint_uses_torch_once_imported():
    import_heavy()
    available, reason = cuda_hint()
    assert available == torch.cuda.is_available() and reason


def test_seed_everything_reproduces_torch_and_numpy():
    import numpy as np

    seed_everything(11)
    a = (torch.rand(3), np.random.rand(3))
    seed_everything(11)
    b = (torch.rand(3), np.random.rand(3))
    assert torch.equal(a[0], b[0]) and (a[1] == b[1]).all()
    assert torch.equal(torch.rand(4, generator=generator(5)), torch.rand(4, generator=generator(5)))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_generator_on_gpu():
    g = generator(1, "cuda")
    assert torch.rand(2, generator=g, device="cuda").device.type == "cuda"


def test_lab_package_import_is_light():
    import subprocess
    import sys

    code = "import sys, lab, lab.device, lab.params, lab.images, ui.catalog; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"  # the home page path imports no torch


@pytest.fixture
def quiet_machine():
    """Pin the load monitor's reading of other processes (tests run on a busy CI box)."""
    from lab import device

    device.LOAD.override = 0.0
    try:
        yield device
    finally:
        device.LOAD.override = None
        torch.set_num_threads(device.BASE_THREADS)


def test_single_thread_nests_and_restores_the_constant_base(quiet_machine):
    device = quiet_machine
    torch.set_num_threads(2)  # whatever a thread had before …
    with device.single_thread() as n:
        assert n == 1 and torch.get_num_threads() == 1
        with device.single_thread():
            assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == device.BASE_THREADS  # … a block always ends on the constant base
    torch.set_num_threads(2)
    with device.single_thread(enabled=False) as n:
        assert n == 2 and torch.get_num_threads() == 2


@pytest.mark.parametrize("other_load, expected", [(0.0, None), (0.2, None), (1.0, 1), (3.0, 1)])
def test_large_work_takes_the_cores_other_processes_leave_free(quiet_machine, other_load, expected):
    device = quiet_machine
    device.LOAD.override = other_load
    cores = device.cpu_cores()
    want = expected if expected is not None else cores
    if other_load == 1.0 and cores > 2:
        want = cores - 1
    with device.compute("large") as n:
        assert n == want == torch.get_num_threads()


def test_blocks_in_other_sessions_share_the_cores_and_never_leak_a_setting(quiet_machine):
    """Two sessions overlapping: the second gets what the first left; afterwards both threads, and a new
    thread, are on the constant base (the old restore-"before" leaked 1 thread to every later session)."""
    import threading

    device = quiet_machine
    cores = device.cpu_cores()
    entered, release = threading.Event(), threading.Event()
    seen: dict[str, int] = {}

    def first() -> None:
        with device.compute("large") as n:
            seen["first"] = n
            entered.set()
            release.wait(10)
        seen["first_after"] = torch.get_num_threads()

    worker = threading.Thread(target=first)
    try:
        worker.start()
        assert entered.wait(10)
        with device.compute("large") as n:
            seen["second"] = n
        seen["second_after"] = torch.get_num_threads()
    finally:
        release.set()
        worker.join(10)
    fresh: dict[str, int] = {}
    t = threading.Thread(target=lambda: fresh.setdefault("n", torch.get_num_threads()))
    t.start()
    t.join()
    assert seen == {"first": cores, "second": 1, "first_after": 1, "second_after": 1}
    assert fresh["n"] == device.BASE_THREADS
    with device.compute("large") as n:  # alone again: every core
        assert n == cores


def test_load_monitor_sees_a_busy_process():
    """A real spinning process shows up as about one core of other load (the policy's input)."""
    import subprocess
    import sys
    import time

    from lab.device import LoadMonitor

    monitor = LoadMonitor(interval=0.1, window=8)
    base = (monitor.start(), time.sleep(1.0), monitor.other_load())[-1]
    spinner = subprocess.Popen([sys.executable, "-c", "import time\nt=time.time()+6\nwhile time.time()<t: pass"])
    try:
        time.sleep(1.5)
        busy = monitor.other_load()
    finally:
        spinner.kill()
    assert busy > base + 0.5 or busy > 0.8, (base, busy)


def test_first_heavy_import_is_safe_from_many_threads_at_once():
    """A fresh interpreter (nothing imported): 8 threads import torch at once through ``import_heavy``
    while others keep asking ``cuda_hint`` (the sidebar). No thread may see a half-imported torch."""
    import subprocess
    import sys
    import textwrap

    from ui.catalog import ROOT

    code = textwrap.dedent(
        """
        import sys, threading
        from lab import device
        assert "torch" not in sys.modules
        errors, go = [], threading.Event()
        def page():
            go.wait()
            try:
                device.import_heavy()
                import torch
                torch.cuda.is_available(); torch.optim.SGD; torch.zeros(1).sum()
            except BaseException as err:
                errors.append(repr(err))
        def sidebar():
            go.wait()
            for _ in range(2000):
                try:
                    device.cuda_hint()
                except BaseException as err:
                    errors.append(repr(err)); return
        threads = [threading.Thread(target=page) for _ in range(8)] + [threading.Thread(target=sidebar) for _ in range(4)]
        [t.start() for t in threads]; go.set(); [t.join() for t in threads]
        assert device.heavy_ready()
        print("ERRORS", errors)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "ERRORS []" in out.stdout, out.stdout[-2000:]


def test_a_hot_path_inside_another_keeps_the_outer_setting(quiet_machine):
    """``large_work`` functions call each other (Grad-CAM runs the capture): the inner block changes nothing."""
    device = quiet_machine
    seen = []

    @device.large_work
    def inner() -> None:
        seen.append(torch.get_num_threads())

    with device.compute("large") as n:
        inner()
        seen.append(torch.get_num_threads())
    assert seen == [n, n] and n == device.cpu_cores()
    assert torch.get_num_threads() == device.BASE_THREADS


@pytest.mark.parametrize("text, expected", [("200000 100000\n", 2), ("150000 100000\n", 2), ("max 100000\n", None)])
def test_a_cgroup_cpu_quota_limits_the_cores(monkeypatch, tmp_path, text, expected):
    """A pod with limits.cpu: 2 on a big node: the policy counts 2 cores, not the node's."""
    from pathlib import Path

    from lab import device

    real_read = Path.read_text
    quota = tmp_path / "cpu.max"
    quota.write_text(text)
    monkeypatch.setattr(
        Path,
        "read_text",
        lambda self, *a, **k: real_read(quota if str(self) == "/sys/fs/cgroup/cpu.max" else self, *a, **k),
    )
    monkeypatch.setattr(device.os, "sched_getaffinity", lambda pid: set(range(32)))
    assert device._cgroup_quota() == expected
    assert device.cpu_cores() == (expected or 32)
