"""Run the benchmarks and print one JSON document.

    python -m bench.run                 # every bench/bench_*.py
    python -m bench.run server logistic # only these

Each ``bench/bench_<name>.py`` defines ``run() -> dict``. A benchmark reports
absolute numbers *and* ratios against a baseline measured in the same run
(e.g. the lab's loop vs a bare PyTorch loop), because this machine is shared
and noisy: ratios travel, seconds don't. Nothing here is asserted in tests.
The document is also written to ``bench/results/latest.json``.
"""

from __future__ import annotations

import importlib
import json
import platform
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def available() -> list[str]:
    return sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))


def main(argv: list[str]) -> int:
    names = argv or available()
    unknown = sorted(set(names) - set(available()))
    if unknown:
        print(f"unknown benchmark(s) {unknown}; available: {available()}", file=sys.stderr)
        return 2
    import os

    report: dict = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "results": {},
    }
    status = 0
    for name in names:
        t0 = time.perf_counter()
        try:
            result = importlib.import_module(f"bench.bench_{name}").run()
        except Exception as err:  # a failing benchmark is reported, the others still run
            result = {"error": f"{type(err).__name__}: {err}", "traceback": traceback.format_exc()}
            status = 1
        result["bench_seconds"] = round(time.perf_counter() - t0, 2)
        report["results"][name] = result
        print(f"[bench] {name} done in {result['bench_seconds']} s", file=sys.stderr)
    text = json.dumps(report, indent=2, default=float)
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "latest.json").write_text(text)
    print(text)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
