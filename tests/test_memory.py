"""lab.memory: glibc keeps memory freed in a thread's arena; a trim gives it back to the OS."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from lab import memory
from tests.conftest import ROOT

pytestmark = pytest.mark.skipif(not memory.available(), reason="glibc only (arenas and malloc_trim)")

_CHILD = textwrap.dedent(
    """
    import sys, threading
    sys.path.insert(0, {root!r})
    import psutil
    from lab import memory
    me = psutil.Process()
    def work():  # what a session's script thread does: many mid-sized buffers, a few of them kept
        global kept
        junk, kept = [], []
        for i in range(50_000):
            (kept if i % 1000 == 0 else junk).append(bytearray(4000))
        del junk
    t = threading.Thread(target=work); t.start(); t.join()
    before = me.memory_info().rss
    released = {trim}
    print(before, me.memory_info().rss, released)
    """
)


def _rss_after(trim: bool) -> tuple[int, int, bool]:
    code = _CHILD.format(root=str(ROOT), trim="memory.trim()" if trim else "False")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    before, after, released = out.stdout.split()
    return int(before), int(after), released == "True"


def test_trim_returns_a_freed_thread_heap_to_the_os():
    before, after, released = _rss_after(trim=True)
    assert before > 150e6, "the thread's 200 MB of freed buffers are still resident before the trim"
    assert released and after < before - 150e6, (before, after)


def test_without_a_trim_the_freed_heap_stays_resident():
    _, after, released = _rss_after(trim=False)
    assert not released and after > 150e6, "the reason the trimmer exists"


def test_the_arena_cap_applies_and_the_trimmer_starts_once():
    assert memory.limit_arenas(2) is True
    code = f"import sys; sys.path.insert(0, {str(ROOT)!r}); from lab import memory; print(memory.start_trimmer(0.05), memory.start_trimmer())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["True", "False"]


_FREEZE_CHILD = textwrap.dedent(
    """
    import gc, sys, weakref
    sys.path.insert(0, {root!r})
    from lab import device
    device.import_heavy()  # what the server's warm-up runs once
    frozen, left = gc.get_freeze_count(), len(gc.get_objects())
    device.import_heavy()  # a second call changes nothing
    class Node:
        pass
    a, b = Node(), Node()
    a.other, b.other = b, a  # a reference cycle a session makes after the freeze
    alive = weakref.ref(a)
    del a, b
    gc.collect(2)  # what Streamlit runs after every script run
    print(frozen, left, gc.get_freeze_count() == frozen, alive() is None)
    """
)


def test_the_heavy_imports_are_frozen_so_a_full_collection_walks_only_what_sessions_make():
    code = _FREEZE_CHILD.format(root=str(ROOT))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT)
    frozen, left, once, collected = out.stdout.split()
    assert int(frozen) > 200_000, "torch, torchvision, plotly and pandas make ~400,000 tracked objects"
    assert int(left) < int(frozen) / 20, "after the freeze a collection walks a small remainder"
    assert once == "True" and collected == "True", "frozen once; a cycle made later is still collected"


_CYCLE = textwrap.dedent(
    """
    import gc, sys, time, weakref
    sys.path.insert(0, {root!r})
    import numpy as np
    import psutil
    from lab import memory
    gc.disable()  # only the trimmer's collection may free the cycle (no allocation-driven one)
    memory.start_trimmer(0.05, collect_every={every})
    class State:  # what an ended session leaves: state that refers back to itself
        pass
    state = State()
    state.me, state.maps = state, np.ones((50, 1024, 1024), np.float32)  # 200 MB of feature maps
    alive, me = weakref.ref(state), psutil.Process()
    before = me.memory_info().rss
    del state
    time.sleep(0.5)
    print(alive() is None, before - me.memory_info().rss)
    """
)


@pytest.mark.parametrize("every, freed", [(1, True), (10**6, False)])
def test_the_trimmer_frees_an_ended_sessions_cycles_without_a_script_run(every, freed):
    code = _CYCLE.format(root=str(ROOT), every=every)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    gone, drop = out.stdout.split()
    assert (gone == "True") is freed, out.stderr
    assert (int(drop) > 150e6) is freed, f"RSS fell by {int(drop) / 1e6:.0f} MB"
