"""Contention: every hot path under every load, for each thread policy; ratios to the best fixed count.

    python -m bench.run contention

Conditions (the machine as a student or a class finds it):
- ``quiet``; ``busy1``/``busy2``/``busy3``: 1–3 other processes each spinning on a core;
- ``callers2``/``callers4``/``callers8``: 2, 4 or 8 sessions of this process running the
  same path at once (threads, as Streamlit runs sessions).

Candidates, each in a fresh worker process (``OMP_WAIT_POLICY`` must be set before torch loads):
- ``fixed1``: one intra-op thread; ``fixedN``: torch's default (one per core);
- ``passiveN``: one per core with ``OMP_WAIT_POLICY=PASSIVE`` (threads sleep at barriers);
- ``policy``: ``lab.device.compute()`` — what the app does (load-aware, see lab/device.py).

For each path and condition: the median seconds per call, and each candidate's ratio to
the best *fixed* thread count measured in that same condition (``fixed1``/``fixedN``).
Target: ``policy`` ≤ 1.2 everywhere. The hot paths mirror the labs' work in plain torch
(so the benchmark does not move when a lab's API does): GoogLeNet capture (forward at
224²), Grad-CAM (forward + backward), feature visualisation (backward to the input), a
12-MP convolution, the augmentation preview (16 samples of rotate + blur + jitter at
256×192), the Lab 1 landscape (100×100 losses over 200 points) and small-model training
(a Playground MLP, 30 Adam steps).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONDITIONS = ["quiet", "busy1", "busy2", "busy3", "callers2", "callers4", "callers8"]
CANDIDATES = ["fixed1", "fixedN", "passiveN", "policy"]
REPEATS = 5


# --- the hot paths (run inside a worker) --------------------------------------------------


def _paths() -> dict:
    import torch
    import torch.nn.functional as F
    from torchvision.models import googlenet

    net = googlenet(weights=None, aux_logits=False, init_weights=False).eval()
    x224 = torch.rand(1, 3, 224, 224)
    x160 = torch.rand(1, 3, 160, 160)
    gray = torch.rand(1, 1, 3000, 4000)
    kernel = torch.rand(1, 1, 3, 3)
    photo = torch.rand(1, 3, 192, 256)
    pts = torch.randn(200, 2)
    labels = (pts[:, 0] * pts[:, 1] > 0).float()
    grid_w = torch.stack(torch.meshgrid(torch.linspace(-4, 4, 100), torch.linspace(-4, 4, 100), indexing="ij"), -1)

    def capture():
        with torch.inference_mode():
            net(x224)

    # Like the app (lab.gradcam, lab.featurevis): gradients w.r.t. a tensor of this call, never the shared
    # model's parameter .grad (sessions share one model; .backward() into its parameters from two threads
    # at once races, and crashed this benchmark).
    def gradcam():
        x = x224.clone().requires_grad_(True)
        torch.autograd.grad(net(x)[0, 1], x)

    def featurevis():
        x = x160.clone().requires_grad_(True)
        torch.autograd.grad(net(x)[0, 1], x)

    def conv12mp():
        with torch.inference_mode():
            F.conv2d(gray, kernel, padding=1)

    def preview():
        with torch.inference_mode():
            g = torch.Generator().manual_seed(0)
            for _ in range(16):
                angle = float(torch.rand(1, generator=g)) * 0.6 - 0.3
                theta = torch.tensor([[[torch.cos(torch.tensor(angle)), -torch.sin(torch.tensor(angle)), 0.0],
                                       [torch.sin(torch.tensor(angle)), torch.cos(torch.tensor(angle)), 0.0]]])  # fmt: skip
                out = F.grid_sample(
                    photo, F.affine_grid(theta, list(photo.shape), align_corners=False), align_corners=False
                )
                out = F.avg_pool2d(out, 3, 1, 1) * 1.1
                out.clamp_(0, 1)

    def landscape():
        with torch.inference_mode():
            logits = grid_w.reshape(-1, 2) @ pts.T  # (10000, 200)
            F.binary_cross_entropy_with_logits(logits, labels.expand_as(logits), reduction="none").mean(1)

    def small_training():
        g = torch.Generator().manual_seed(0)
        model = torch.nn.Sequential(
            torch.nn.Linear(2, 8), torch.nn.Tanh(), torch.nn.Linear(8, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)
        )
        for p in model.parameters():
            torch.nn.init.normal_(p, 0, 0.5, generator=g)
        opt = torch.optim.Adam(model.parameters(), lr=0.03)
        for _ in range(30):
            opt.zero_grad()
            F.binary_cross_entropy_with_logits(model(pts).squeeze(1), labels).backward()
            opt.step()

    return {
        "googlenet_capture": ("large", capture),
        "gradcam": ("large", gradcam),
        "featurevis_step": ("large", featurevis),
        "conv_12mp": ("large", conv12mp),
        "augment_preview": ("large", preview),
        "lab1_landscape": ("large", landscape),
        "small_training": ("small", small_training),
    }


def _worker(candidate: str, callers: int) -> dict:
    """Measure every path with ``callers`` threads at once; returns {path: median seconds per call}."""
    import threading

    import torch

    from lab import device

    cores = device.cpu_cores()
    paths = _paths()
    if candidate == "policy":
        device.LOAD.start()
        time.sleep(1.2)  # let the load monitor see the machine

    def one_call(work: str, fn) -> float:
        if candidate == "policy":
            with device.compute(work):
                t0 = time.perf_counter()
                fn()
                return time.perf_counter() - t0
        torch.set_num_threads(1 if candidate == "fixed1" else cores)
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0

    out = {}
    for name, (work, fn) in paths.items():
        one_call(work, fn)  # warm-up
        times: list[float] = []
        lock = threading.Lock()

        def session(work=work, fn=fn, times=times, lock=lock) -> None:
            for _ in range(REPEATS if callers == 1 else 3):
                t = one_call(work, fn)
                with lock:
                    times.append(t)

        threads = [threading.Thread(target=session) for _ in range(callers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        out[name] = statistics.median(times)
    return out


def _spinners(n: int) -> list[subprocess.Popen]:
    code = "import time\nt = time.time() + 900\nwhile time.time() < t: pass\n"  # stops by itself
    return [subprocess.Popen([sys.executable, "-c", code]) for _ in range(n)]


def _measure(candidate: str, condition: str) -> dict:
    env = dict(os.environ)
    if candidate == "passiveN":
        env["OMP_WAIT_POLICY"] = "PASSIVE"
    callers = int(condition.removeprefix("callers")) if condition.startswith("callers") else 1
    spin = _spinners(int(condition.removeprefix("busy"))) if condition.startswith("busy") else []
    try:
        time.sleep(0.5 if spin else 0)
        out = subprocess.run(
            [sys.executable, "-m", "bench.bench_contention", "--worker", candidate, str(callers)],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=True,
        )  # fmt: skip
    finally:
        for p in spin:
            p.kill()
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(conditions: list[str] | None = None) -> dict:
    conditions = conditions or CONDITIONS
    table: dict = {}
    for condition in conditions:
        measured = {c: _measure(c, condition) for c in CANDIDATES}
        for path in measured["policy"]:
            best_fixed = min(measured["fixed1"][path], measured["fixedN"][path])
            table.setdefault(path, {})[condition] = {
                "seconds": {c: round(measured[c][path], 4) for c in CANDIDATES},
                "ratio_to_best_fixed": {c: round(measured[c][path] / best_fixed, 2) for c in CANDIDATES},
            }
        print(f"[contention] {condition} done", file=sys.stderr)
    worst = {
        c: max(cell["ratio_to_best_fixed"][c] for per in table.values() for cell in per.values()) for c in CANDIDATES
    }
    return {
        "cores": os.cpu_count(),
        "conditions": conditions,
        "worst_ratio_to_best_fixed": worst,
        "target_policy_ratio": 1.2,
        "paths": table,
    }


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        sys.path.insert(0, str(ROOT))
        print(json.dumps(_worker(sys.argv[2], int(sys.argv[3]))))
    else:
        sys.path.insert(0, str(ROOT))
        print(json.dumps(run(sys.argv[1:] or None), indent=2))
