"""GoogLeNet lab benchmarks: capture overhead, Grad-CAM cost, page memory.

- ``inspect_vs_plain``: one forward that keeps all four branches of every block
  (plus ranking the strongest channels, the branch energies and the top-5)
  against a plain ``model(X)`` of the same input, interleaved in the same run.
  Target: ratio ≤ 1.15.
- ``grad_cam``: one Grad-CAM (forward + backward to inception5b) relative to a forward.
- ``memory``: server-side resident memory (AppTest runs the page in-process, as the
  server does) after the home page, after ``import torch`` (≈0.6 GB for the CUDA
  wheel, paid once by any torch page), then after this page with 3 different
  photos. Target: < 300 MB increase over the torch-imported baseline. Runs in a subprocess so earlier benches don't count.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench.timing import median_pair, median_seconds

ROOT = Path(__file__).resolve().parent.parent

_MEMORY_SCRIPT = r"""
import json, sys, gc
sys.path.insert(0, {root!r})
import psutil
proc = psutil.Process()
from tests.conftest import run_page
at = run_page("app_pages/home.py")
gc.collect(); base = proc.memory_info().rss
import torch, torchvision  # every torch page pays this (~0.6 GB for the CUDA build); not this lab's cost
gc.collect(); base_torch = proc.memory_info().rss
at.switch_page("app_pages/inception.py"); at.run()
assert not at.exception, [e.value for e in at.exception]
after_page = proc.memory_info().rss
for name in ("coffee", "rocket", "flower"):
    at.selectbox(key="inception.sample").set_value(name).run()
    assert not at.exception, [e.value for e in at.exception]
gc.collect(); after = proc.memory_info().rss
print(json.dumps({{"rss_home_mb": base / 2**20, "rss_torch_imported_mb": base_torch / 2**20,
                   "rss_after_page_mb": after_page / 2**20,
                   "rss_after_3_images_mb": after / 2**20}}))
"""


def run() -> dict:
    import torch

    from lab import gradcam as G
    from lab import inception as I
    from lab import inception_image as II
    from lab.images import load_sample
    from lab.weights import categories

    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = I.build_googlenet(seed=0, device=device)
    names = categories()
    X = II.preprocess(load_sample("cat").image).X.to(device)

    def sync():
        if device == "cuda":
            torch.cuda.synchronize()

    def plain():
        with torch.inference_mode():
            logits = model(X)
            torch.softmax(logits, 1).topk(5)
        sync()

    def inspect():
        II.inspect(model, X, names, layer="inception4c", branch="all", device=device)
        sync()

    def cam():
        G.grad_cam(model, X, device=device)
        sync()

    from lab import inception_overview as OV

    crop = II.preprocess(load_sample("cat").image).crop

    def overview():
        OV.overview(model, X, crop, names, device=device)
        sync()

    def weights_check():
        W.inspect_archive(weights_bytes)

    import io

    from lab import weights as W

    buf = io.BytesIO()
    torch.save(I.build_googlenet(seed=1, aux_logits=True).state_dict(), buf)
    weights_bytes = buf.getvalue()  # the size and layout of torchvision's 49.7 MiB file

    for f in (plain, inspect, cam, overview):  # warm-up
        f()
    t_plain, t_inspect = median_pair(plain, inspect, repeats=15)
    t_plain2, t_cam = median_pair(plain, cam, repeats=7)
    result: dict = {
        "device": device,
        "torch_threads": torch.get_num_threads(),
        "forward_ms": round(t_plain * 1e3, 2),
        "inspect_all_branches_ms": round(t_inspect * 1e3, 2),
        "inspect_over_forward": round(t_inspect / t_plain, 3),
        "inspect_target_met (<=1.15)": t_inspect / t_plain <= 1.15,
        "grad_cam_ms": round(t_cam * 1e3, 2),
        "grad_cam_over_forward": round(t_cam / t_plain2, 3),
        "arch_table_ms": round(median_seconds(lambda: I.layer_table(224)) * 1e3, 2),
    }
    t_plain3, t_over = median_pair(plain, overview, repeats=5)
    result["overview_ms"] = round(t_over * 1e3, 2)  # one forward keeping every stage + 60 PNG thumbnails
    result["overview_over_forward"] = round(t_over / t_plain3, 3)
    result["zip_inspection_of_50MB_weights_ms"] = round(median_seconds(weights_check) * 1e3, 3)
    result["overview_figure_json_kb"] = round(
        len(OV.overview_figure(OV.overview(model, X, crop, names, device=device)).to_json()) / 1024, 1
    )
    try:
        out = subprocess.run(
            [sys.executable, "-c", _MEMORY_SCRIPT.format(root=str(ROOT))],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=ROOT,
        )
        mem = json.loads(out.stdout.strip().splitlines()[-1])
        mem = {k: round(v, 1) for k, v in mem.items()}
        mem["increase_mb"] = round(mem["rss_after_3_images_mb"] - mem["rss_torch_imported_mb"], 1)
        mem["increase_incl_torch_import_mb"] = round(mem["rss_after_3_images_mb"] - mem["rss_home_mb"], 1)
        mem["increase_for_3_images_mb"] = round(mem["rss_after_3_images_mb"] - mem["rss_after_page_mb"], 1)
        mem["target_met (<300 MB over torch imported)"] = mem["increase_mb"] < 300
        result["memory"] = mem
    except Exception as err:  # report, don't fail the other numbers
        result["memory"] = {"error": f"{type(err).__name__}: {err}"}
    return result
