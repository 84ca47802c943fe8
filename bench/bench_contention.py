"""Contention: every hot path under every load, for each thread policy; ratios to the best fixed count.

    python -m bench.run contention

Conditions (the machine as a student or a class finds it):
- ``quiet``; ``busy1``/``busy2``/``busy3``: 1–3 other processes each spinning on a core;
- ``callers2``/``callers4``/``callers8``: 2, 4 or 8 sessions of this process running the
  same path at once (threads, as Streamlit runs sessions).

Candidates:
- ``fixed1``: one intra-op thread; ``fixedN``: torch's default (one per core);
- ``policy``: ``lab.device.compute()`` — what the app does (load-aware, see lab/device.py);
- ``passiveN``: one per core with ``OMP_WAIT_POLICY=PASSIVE`` (threads sleep at barriers).

The first three differ only in what a call sets at run time, so one worker process per
condition measures them *interleaved*: round after round, each candidate takes its turn
(in a rotating order) on the same warm model, and a drift in the machine's load lands on
all of them alike. (Measured in separate processes one after another, the same candidate
varied by ±30% from run to run on this box: more than the differences being measured.)
``passiveN`` needs ``OMP_WAIT_POLICY`` set before torch loads: a worker of its own, so its
ratios carry that noise.

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


#: Candidates that differ only in what a call sets at run time: measured interleaved in one worker.
INTERLEAVED = ["fixed1", "fixedN", "policy"]
#: Seconds of calls per timing sample at least (tiny paths are repeated inside one sample).
MIN_SAMPLE_S = 0.03


def _worker(candidates: list[str], callers: int) -> dict:
    """Every path under every candidate, interleaved round by round; {candidate: {path: median s per call}}.

    In each round the candidates take turns in a rotating order, and ``callers``
    threads run the same candidate at once (released together by a barrier), so a
    drift in the machine's load lands on every candidate alike instead of on
    whichever one happened to run during it. Each turn starts with one untimed call,
    so no candidate inherits another's thread count.
    """
    import threading

    import torch

    from lab import device

    cores = device.cpu_cores()
    paths = _paths()
    if "policy" in candidates:
        device.LOAD.start()
        time.sleep(1.2)  # let the load monitor see the machine

    def one_call(candidate: str, work: str, fn, inner: int) -> float:
        if candidate == "policy":
            with device.compute(work):
                t0 = time.perf_counter()
                for _ in range(inner):
                    fn()
                return (time.perf_counter() - t0) / inner
        torch.set_num_threads(1 if candidate == "fixed1" else cores)
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        return (time.perf_counter() - t0) / inner

    out: dict[str, dict[str, float]] = {c: {} for c in candidates}
    rounds = REPEATS if callers == 1 else 3
    for name, (work, fn) in paths.items():
        for c in candidates:
            one_call(c, work, fn, 1)  # warm-up
        once = min(one_call(c, work, fn, 1) for c in candidates)
        inner = max(1, min(20, round(MIN_SAMPLE_S / max(once, 1e-4))))
        times: dict[str, list[float]] = {c: [] for c in candidates}
        lock = threading.Lock()
        for r in range(rounds):
            order = candidates[r % len(candidates) :] + candidates[: r % len(candidates)]
            for c in order:
                # One untimed call first, so every timed sample starts from its own candidate's state:
                # without it the one after ``fixedN`` inherited two threads (and paid the switch back,
                # ~15 ms on a 25 ms path) while ``fixed1`` after ``fixed1`` paid nothing.
                one_call(c, work, fn, 1)
                barrier = threading.Barrier(callers)

                def session(c=c, work=work, fn=fn, barrier=barrier, inner=inner, times=times, lock=lock) -> None:
                    barrier.wait()
                    t = one_call(c, work, fn, inner)
                    with lock:
                        times[c].append(t)

                threads = [threading.Thread(target=session) for _ in range(callers)]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
        for c in candidates:
            out[c][name] = statistics.median(times[c])
    return out


def _spinners(n: int) -> list[subprocess.Popen]:
    code = "import time\nt = time.time() + 900\nwhile time.time() < t: pass\n"  # stops by itself
    return [subprocess.Popen([sys.executable, "-c", code]) for _ in range(n)]


def _measure(candidates: list[str], condition: str) -> dict:
    """Run one worker process for ``candidates`` under ``condition``; {candidate: {path: seconds}}."""
    env = dict(os.environ)
    passive = candidates == ["passiveN"]
    if passive:
        env["OMP_WAIT_POLICY"] = "PASSIVE"  # read once, when torch loads: a process of its own
        candidates = ["fixedN"]
    callers = int(condition.removeprefix("callers")) if condition.startswith("callers") else 1
    spin = _spinners(int(condition.removeprefix("busy"))) if condition.startswith("busy") else []
    try:
        time.sleep(0.5 if spin else 0)
        out = subprocess.run(
            [sys.executable, "-m", "bench.bench_contention", "--worker", ",".join(candidates), str(callers)],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=True,
        )  # fmt: skip
    finally:
        for p in spin:
            p.kill()
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return {"passiveN": result["fixedN"]} if passive else result


def run(conditions: list[str] | None = None) -> dict:
    conditions = conditions or CONDITIONS
    table: dict = {}
    for condition in conditions:
        measured = {**_measure(INTERLEAVED, condition), **_measure(["passiveN"], condition)}
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
        print(json.dumps(_worker(sys.argv[2].split(","), int(sys.argv[3]))))
    else:
        sys.path.insert(0, str(ROOT))
        print(json.dumps(run(sys.argv[1:] or None), indent=2))
