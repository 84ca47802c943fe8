"""Every hostile file of the "Safe to host publicly" issue gets a clear message, cheaply.

The corpus (``tests/hostile_files.py``) is generated here, never shipped. Each
file goes to its loader in a fresh subprocess whose address space is limited
(``RLIMIT_AS``) to its size after start-up plus :data:`MEMORY_BUDGET`; the
subprocess reports the CPU seconds the load took, its peak RSS growth, and
whether it ended in the project's own error type (or loaded).
``bench/bench_hostile.py`` prints the same measurements as JSON. A loader that needs more memory dies
with ``MemoryError`` there, which fails the test, as a traceback would.

Images are decoded *in* the measured process (``isolate=False``): the limits
must hold without the worker; the worker (tested in ``test_images.py``) is
defence in depth.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import ROOT
from tests.hostile_files import corpus

#: Extra address space a load may use (bytes) and CPU seconds it may take (the issue's limits).
MEMORY_BUDGET = 300 * 1024 * 1024
CPU_BUDGET = 2.0

_CHILD = textwrap.dedent(
    """
    import json, resource, sys, time, warnings
    sys.path.insert(0, {root!r})
    warnings.simplefilter("error")  # a leaked warning is a failure, not noise
    from lab import data2d, images
    if "wav" in sys.argv[1:]:
        from lab import audio
    def vm():
        return int(open("/proc/self/statm").read().split()[0]) * resource.getpagesize()
    def status_kb(field):
        for line in open("/proc/self/status"):
            if line.startswith(field + ":"):
                return int(line.split()[1])
    def reset_peak():  # Linux: "5" resets VmHWM to the current RSS, so the peak is this case's alone
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            return True
        except OSError:
            return False
    args = sys.argv[1:]
    for loader, path in zip(args[::2], args[1::2]):
        data = open(path, "rb").read()
        errors = (images.ImageInputError, data2d.DataInputError) + ((audio.AudioInputError,) if loader == "wav" else ())
        resource.setrlimit(resource.RLIMIT_AS, (vm() + {budget}, resource.RLIM_INFINITY))
        rss0, fresh_peak = status_kb("VmRSS"), reset_peak()
        start = time.process_time()
        result = {{"ok": True}}
        try:
            if loader == "image":
                out = images.load_image(data, "case", isolate=False)
                result["size"] = list(out.size)
            elif loader == "wav":
                out = audio.load_wav(data, "case")
                result["size"] = [int(out.x.size)]
            else:
                X, y = data2d.parse_csv(data, "case")
                result["size"] = [int(len(X))]
        except errors as err:
            result = {{"ok": False, "message": str(err)}}
        except BaseException as err:
            result = {{"ok": False, "crash": type(err).__name__ + ": " + str(err)[:300]}}
        result["cpu"] = time.process_time() - start
        result["rss_growth_mb"] = max(0, status_kb("VmHWM") - rss0) / 1024 if fresh_peak else None
        del data
        resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        print(json.dumps({{"path": path, **result}}), flush=True)
    """
)


def measure(cases: list[tuple[str, object]], *, budget: int = MEMORY_BUDGET) -> dict[str, dict]:
    """Load each ``(loader, path)`` in one limited subprocess (limits reset per file); ``{path: report}``.

    A file that kills the process is reported as a crash, and the files after it
    are measured in a new process.
    """
    code = _CHILD.format(root=str(ROOT), budget=budget)
    reports: dict[str, dict] = {}
    todo = [(loader, str(path)) for loader, path in cases]
    while todo:
        args = [item for pair in todo for item in pair]
        proc = subprocess.run(
            [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=600, cwd=ROOT
        )
        for line in proc.stdout.splitlines():
            if line.startswith("{"):
                report = json.loads(line)
                reports[report.pop("path")] = report
        done = [pair for pair in todo if pair[1] in reports]
        if len(done) == len(todo):
            break
        dead = todo[len(done)]
        reports[dead[1]] = {"ok": False, "crash": f"process died ({proc.returncode}): {proc.stderr[-1500:]}", "cpu": 0}
        todo = todo[len(done) + 1 :]
    return reports


CASES = list(corpus())
#: What each file must give: ``LOADS`` (a usable result within the limits) or words of its message.
LOADS = "loads"
EXPECTED = {
    "png_palette_trns_7745.png": "60 megapixels",
    "png_palette_trns_6300.png": LOADS,  # just under the pixel cap: decoded within +300 MB
    "png_gray16_7745.png": "60 megapixels",
    "png_gray16_6300.png": LOADS,
    "png_rgba16_6300.png": LOADS,
    "png_1bit_6300.png": LOADS,
    "tiff_float_7745.tif": "60 megapixels",
    "tiff_float_6300.tif": "blocks of 159 MB",  # one deflated strip: libtiff would need it twice
    "tiff_float_6300_strips.tif": LOADS,  # the same pixels in ~64 KB strips, as real writers save them
    "tiff_48x1048616.tif": "50 megapixels",
    "tiff_16x1048616.tif": "too elongated",  # refused from the header, before decoding
    "bmp_rle_7745.bmp": "60 megapixels",
    "bmp_rle_2000.bmp": "RLE",
    "bmp_rle_1000.bmp": LOADS,
    "bmp_rle4_1000.bmp": LOADS,
    "bmp_rle_1000_runs.bmp": LOADS,
    "tiff_200000_pages.tif": LOADS,  # the first page, without walking 200,000
    "jpeg_7900x7900.jpg": LOADS,  # decoded at 1/4 scale (draft)
    "jpeg_progressive_7900x7900.jpg": LOADS,
    "dds_dxt1_huge.dds": "not an image we can read",
    "dds_truncated.dds": "not an image we can read",
    "dds_named.png": "not an image we can read",
    "wav_0_bit.wav": "0 bits",
    "wav_0_bit_align_1.wav": "0 bits",
    "wav_65535_channels.wav": "65535 channels",
    "csv_bom_only.csv": "empty",
    "csv_unicode_spaces.csv": "empty",
    "csv_bom_and_spaces.csv": "empty",
    "csv_field_200kb.csv": "characters long",
    "csv_quoted_field_200kb.csv": "characters long",
    "wav_2_1mhz_20mb.wav": "2,100,000 Hz",
    "csv_wide_row.csv": "characters long",
    "csv_blank_lines.csv": LOADS,
    "csv_many_rows.csv": "limited to 5 MB",
}


def measure_corpus(folder, *, each_alone: bool = False) -> dict[str, dict]:
    """Write the corpus into ``folder`` and measure every case; ``{case: report}``.

    One fresh process per image: memory an earlier case freed stays mapped in the heap and
    would lend a later case room the limit should not give it (CI once caught that). The
    small WAV and CSV cases share one, unless ``each_alone`` (the benchmark: every case's
    peak RSS its own).
    """
    pairs = []
    for case, loader, make in CASES:
        (folder / case).write_bytes(make())
        pairs.append((loader, folder / case))
    alone = [pair for pair in pairs if each_alone or pair[0] == "image"]
    groups = [[pair] for pair in alone] + [[pair for pair in pairs if pair not in alone]]
    by_path = {path: report for group in groups if group for path, report in measure(group).items()}
    return {case: by_path[str(folder / case)] for case, _, _ in CASES}


#: How often a case over :data:`CPU_BUDGET` is measured again (alone) before the test fails.
CPU_TRIES = 3


def remeasure_over_budget(folder, reports: dict[str, dict], tries: int = CPU_TRIES) -> dict[str, dict]:
    """Measure a case over the CPU budget again, alone, up to ``tries`` times in all; keep its cheapest load.

    CPU seconds are the decoder's own cost plus what a neighbour takes from it: on a 2-core
    box, a test in the other pytest worker (``-n 2``) shares the core's caches and the SMT
    sibling, and once turned 1.2 CPU-s into 2.1. The cheapest of three loads is the file's
    cost; a loader that really needs more than the budget is over it every time.
    """
    loaders = {case: loader for case, loader, _ in CASES}
    for case, report in reports.items():
        cpus = [report["cpu"]]
        while "crash" not in report and min(cpus) >= CPU_BUDGET and len(cpus) < tries:
            again = next(iter(measure([(loaders[case], folder / case)]).values()))
            cpus.append(again["cpu"])
            if again["cpu"] < min(cpus[:-1]):
                reports[case] = again
        reports[case]["cpu_tries"] = cpus
    return reports


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    return remeasure_over_budget(folder, measure_corpus(folder))


@pytest.mark.parametrize("case", [case for case, _, _ in CASES])
def test_hostile_file_gets_a_clear_message_within_the_limits(reports, case):
    report = reports[case]
    assert "crash" not in report, f"{case}: {report['crash']}"
    assert report["cpu"] < CPU_BUDGET, f"{case}: {report['cpu_tries']} CPU-s in {len(report['cpu_tries'])} loads"
    expected = EXPECTED.get(case)  # broken TIFFs: any clear message (or their first page)
    if expected == LOADS:
        assert report["ok"], f"{case} should load: {report.get('message')}"
    elif expected:
        assert not report["ok"] and expected in report["message"], f"{case}: {report}"
    if not report["ok"]:
        message = report["message"]
        assert "case" in message, "the message names the file"
        assert "Traceback" not in message and "Error" not in message.split("(")[0]
        assert 20 < len(message) < 400


def test_a_case_over_the_cpu_budget_every_time_still_fails(monkeypatch, tmp_path):
    """The re-measurement forgives a noisy load, never a slow loader: the cheapest of the tries is kept."""
    case = "png_rgba16_6300.png"
    loads = iter([{"ok": True, "cpu": 2.4}, {"ok": True, "cpu": 2.2}, {"ok": True, "cpu": 1.1}])
    monkeypatch.setattr(sys.modules[__name__], "measure", lambda pairs: {str(pairs[0][1]): next(loads)})
    slow = remeasure_over_budget(tmp_path, {case: {"ok": True, "cpu": 2.6}}, tries=3)
    assert slow[case]["cpu"] == 2.2 and slow[case]["cpu_tries"] == [2.6, 2.4, 2.2]  # over every time: fails
    noisy = remeasure_over_budget(tmp_path, {case: {"ok": True, "cpu": 2.1}}, tries=3)
    assert noisy[case]["cpu"] == 1.1 and noisy[case]["cpu_tries"] == [2.1, 1.1]  # one neighbour's noise
    cheap = remeasure_over_budget(tmp_path, {case: {"ok": True, "cpu": 0.3}}, tries=3)
    assert cheap[case]["cpu_tries"] == [0.3]  # under the budget: measured once
