"""What each file of the hostile corpus costs its loader: CPU seconds and peak RSS growth.

Prints JSON. The corpus (``tests/hostile_files.py``: the "Safe to host publicly"
issue's paletted and 16-bit PNGs, float TIFFs, a 4 KB TIFF of 48×1,048,616, RLE
BMPs, a TIFF of 200,000 pages, 7900² JPEGs, broken TIFFs and DDS files, 0-bit and
2.1 MHz WAVs, hostile CSVs) is generated in a temporary folder and measured with
``tests/test_hostile_inputs.py``'s own code: each file is loaded in a fresh
subprocess under ``RLIMIT_AS`` (+300 MB over its size after start-up), which
reports the CPU seconds of the load and its peak RSS growth (``VmHWM`` reset
just before the load). Images are decoded in that process (``isolate=False``),
as the test does: the limits must hold without the worker.

Run: ``.venv/bin/python -m bench.run hostile`` (or ``bench/bench_hostile.py``).
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def run() -> dict:
    from tests import test_hostile_inputs as H

    with tempfile.TemporaryDirectory(prefix="dl101-hostile-") as folder:
        reports = H.measure_corpus(Path(folder), each_alone=True)
    cases = {
        case: {
            "outcome": "crash" if "crash" in r else ("loaded" if r["ok"] else "refused"),
            "cpu_s": round(r["cpu"], 3),
            "rss_growth_mb": None if r.get("rss_growth_mb") is None else round(r["rss_growth_mb"], 1),
        }
        for case, r in reports.items()
    }
    cpu = [c["cpu_s"] for c in cases.values()]
    rss = [c["rss_growth_mb"] for c in cases.values() if c["rss_growth_mb"] is not None]
    worst_cpu = max(cases, key=lambda k: cases[k]["cpu_s"])
    worst_rss = max(cases, key=lambda k: cases[k]["rss_growth_mb"] or 0.0)
    return {
        "cases": len(cases),
        "crashes": sorted(k for k, c in cases.items() if c["outcome"] == "crash"),
        "limits": {"cpu_s": H.CPU_BUDGET, "memory_mb": H.MEMORY_BUDGET // 2**20},
        "cpu_s": {"max": max(cpu), "median": round(statistics.median(cpu), 3), "max_case": worst_cpu},
        "rss_growth_mb": {
            "max": max(rss) if rss else None,
            "median": round(statistics.median(rss), 1) if rss else None,
            "max_case": worst_rss,
        },
        "per_case": cases,
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
