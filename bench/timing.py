"""Timing helpers shared by the benchmarks: medians, and interleaved pairs for fair ratios."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def median_seconds(fn: Callable[[], object], repeats: int = 5, *, warmup: bool = True) -> float:
    """Median wall time of ``fn()`` over ``repeats`` calls (after one warm-up call)."""
    if warmup:
        fn()  # lazy imports, kernel selection, caches
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def median_pair(
    fn_a: Callable[[], object], fn_b: Callable[[], object], repeats: int = 5, *, warmup: bool = True
) -> tuple[float, float]:
    """Median times of ``fn_a`` and ``fn_b``, interleaved so both see the same machine load."""
    if warmup:
        fn_a(), fn_b()
    a, b = [], []
    for _ in range(repeats):
        for fn, out in ((fn_a, a), (fn_b, b)):
            t0 = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t0)
    return statistics.median(a), statistics.median(b)
