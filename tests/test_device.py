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


def test_single_thread_nests_and_restores_the_setting():
    from lab.device import single_thread

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with single_thread():
            assert torch.get_num_threads() == 1
            with single_thread():
                assert torch.get_num_threads() == 1
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
        with single_thread(enabled=False):
            assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("other", ["cores_if_alone", "single_thread"])
def test_cores_if_alone_gives_one_thread_while_another_session_computes(other):
    import threading

    from lab import device
    from lab.device import cores_if_alone

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    entered, release = threading.Event(), threading.Event()
    seen: dict[str, int] = {}

    def first() -> None:
        torch.set_num_threads(2)  # each thread has its own setting
        with getattr(device, other)() as n:
            seen["first"] = n if other == "cores_if_alone" else torch.get_num_threads()
            entered.set()
            release.wait(10)

    worker = threading.Thread(target=first)
    try:
        worker.start()
        assert entered.wait(10)
        with cores_if_alone() as n:  # another block is running: one thread
            seen["second"] = n
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2  # restored
        release.set()
        worker.join(10)
        with cores_if_alone() as n:  # alone again: the default pool
            seen["alone"] = n
            assert torch.get_num_threads() == 2
        assert seen == {"first": 2 if other == "cores_if_alone" else 1, "second": 1, "alone": 2}
    finally:
        release.set()
        torch.set_num_threads(before)


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
