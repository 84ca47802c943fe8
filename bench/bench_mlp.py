"""Lab 2 (MLP) numbers: loop overhead, time to learn the spiral, progress cadence.

- ``throughput``: the lab's training loop (``Trainer.train``: evaluation, symmetry
  snapshots and replay copies every epoch, NaN checks) against a bare PyTorch
  loop on the same model, optimiser and minibatches, in the same run. Target
  ratio ≥ 0.8.
- ``spiral``: seconds (and epochs) until the spiral (two tanh layers of 8) reaches
  ≥ 95 % test accuracy, for 5 seeds; median reported. Target < 5 s.
- ``play``: what the page's Play loop does (``lab.mlp_live.play_slice`` then
  ``lab.mlp_live.frame``, the pictures encoded as data URIs) for a few seconds:
  frames per second (target ≥ 4) and epochs per second against the bare loop on
  the same network in the same run (target ratio ≥ 0.8). Streamlit's own cost
  (protobuf, websocket, the browser) is not in it.
- ``progress``: the largest gap between progress callbacks while training, with
  the page's live redraw (output map at 40×40 as a PNG every 0.5 s) inside the callback.
  Target ≤ 0.5 s.
"""

from __future__ import annotations

import io
import statistics
import time

import torch
from PIL import Image

from lab import mlp
from lab import mlp_figures as mf
from lab import mlp_live as live

CIRCLES = mlp.DataConfig("circles", n=300, noise=0.05, seed=0)
SPIRAL = mlp.DataConfig("spiral", n=600, noise=0.02, train_fraction=0.5, seed=0)
SPIRAL_NET = mlp.NetConfig(hidden=(8, 8), activations=("tanh", "tanh"))
SPIRAL_TRAIN = mlp.TrainConfig(optimizer="adam", lr=0.02, batch_size=16)


def _bare_loop(trainer: mlp.Trainer, num_epochs: int) -> float:
    """The same epochs as ``Trainer.train_epoch`` without anything around them; returns seconds."""
    model, opt = trainer.model, trainer.optimizer
    X, y = trainer.X_train, trainer.y_train
    bs = trainer.cfg.batch_size
    with mlp.small_model_threads(model, trainer.device):
        t0 = time.perf_counter()
        for _ in range(num_epochs):
            order = torch.randperm(len(X), generator=trainer.shuffle).to(trainer.device)
            for start in range(0, len(X), bs):
                idx = order[start : start + bs]
                loss = mlp.data_loss(model(X[idx]), y[idx], trainer.loss_name)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        if trainer.device != "cpu":
            torch.cuda.synchronize()
        return time.perf_counter() - t0


def throughput(data_cfg, net, cfg, num_epochs: int = 150, repeats: int = 3, device: str = "cpu") -> dict:
    data = mlp.make_data(data_cfg)
    lab_s, bare_s = [], []
    for r in range(repeats):  # interleaved, best of each: the machine is shared
        t = mlp.Trainer.create(data, net, cfg, seed=r, device=device)
        t0 = time.perf_counter()
        t.train(num_epochs)
        lab_s.append(time.perf_counter() - t0)
        bare_s.append(_bare_loop(mlp.Trainer.create(data, net, cfg, seed=r, device=device), num_epochs))
    steps_per_epoch = -(-len(data.X_train) // cfg.batch_size)
    lab, bare = min(lab_s), min(bare_s)
    return {
        "device": device,
        "epochs": num_epochs,
        "steps_per_epoch": steps_per_epoch,
        "lab_epochs_per_s": round(num_epochs / lab, 1),
        "bare_epochs_per_s": round(num_epochs / bare, 1),
        "lab_steps_per_s": round(num_epochs * steps_per_epoch / lab),
        "ratio_lab_over_bare": round(bare / lab, 3),
        "target_ratio": 0.8,
    }


def time_to_spiral(seeds=(0, 1, 2, 3, 4), max_epochs: int = 1500, device: str = "cpu") -> dict:
    per_seed = []
    for seed in seeds:
        data = mlp.make_data(mlp.DataConfig(**{**SPIRAL.__dict__, "seed": seed}))
        t = mlp.Trainer.create(data, SPIRAL_NET, SPIRAL_TRAIN, seed=seed, device=device)

        def reached(t=t) -> bool:
            return t.history.last("test_accuracy", 0.0) >= 0.95

        t0 = time.perf_counter()
        t.train(max_epochs, should_stop=reached)
        seconds = time.perf_counter() - t0
        per_seed.append(
            {
                "seed": seed,
                "seconds": round(seconds, 3),
                "epochs": t.epoch,
                "test_accuracy": round(t.history.last("test_accuracy"), 4),
            }
        )
    ok = [p["seconds"] for p in per_seed if p["test_accuracy"] >= 0.95]
    return {
        "device": device,
        "setup": "spiral n=600 noise 0.02, 50 % train; tanh 8-8; Adam lr 0.02, batch 16",
        "per_seed": per_seed,
        "reached": f"{len(ok)}/{len(per_seed)}",
        "median_seconds": round(statistics.median(p["seconds"] for p in per_seed), 3),
        "target_seconds": 5.0,
    }


def progress_cadence(num_epochs: int = 400) -> dict:
    data = mlp.make_data(SPIRAL)
    t = mlp.Trainer.create(data, SPIRAL_NET, SPIRAL_TRAIN, seed=0)
    stamps: list[float] = []
    last_draw = [0.0]
    draws = [0]

    def on_progress(p) -> None:  # what the page does: numbers every call, the live map every 0.5 s
        now = time.perf_counter()
        stamps.append(now)
        if now - last_draw[0] >= 0.5:
            g = t.grid_outputs(40)
            png_ready = mf.output_preview(g.output, data.bounds(), data.X_train, data.y_train)
            Image.fromarray(png_ready).save(io.BytesIO(), format="PNG")  # what st.image sends
            last_draw[0] = time.perf_counter()
            draws[0] += 1

    t0 = time.perf_counter()
    t.train(num_epochs, on_progress=on_progress, progress_seconds=0.2)
    total = time.perf_counter() - t0
    gaps = [b - a for a, b in zip([t0, *stamps], stamps, strict=False)]
    return {
        "epochs": num_epochs,
        "seconds": round(total, 2),
        "callbacks": len(stamps),
        "live_redraws": draws[0],
        "max_gap_s": round(max(gaps), 3),
        "median_gap_s": round(statistics.median(gaps), 3),
        "target_max_gap_s": 0.5,
    }


def play(data_cfg, net, cfg, seconds: float = 5.0, device: str = "cpu") -> dict:
    """Play for ``seconds`` as the page does; compare its epochs/s with the bare loop's.

    Wall-clock rates depend on what else runs on the machine, so the ratio is
    also given in this thread's CPU time (``time.thread_time``), which a loaded
    machine does not distort.
    """
    data = mlp.make_data(data_cfg)
    t = mlp.Trainer.create(data, net, cfg, seed=0, device=device)
    live.frame(t)  # warm-up (imports, first allocation)
    draw_s, draw_cpu, frames = [0.0], [0.0], 0
    t0, c0 = time.perf_counter(), time.thread_time()
    while time.perf_counter() - t0 < seconds:
        live.play_slice(t, live.slice_seconds(draw_s[-1]), last_draw_cpu=draw_cpu[-1])
        d0, dc0 = time.perf_counter(), time.thread_time()
        live.frame(t)
        draw_s.append(time.perf_counter() - d0)
        draw_cpu.append(time.thread_time() - dc0)
        frames += 1
    elapsed, cpu = time.perf_counter() - t0, time.thread_time() - c0
    bare_wall, bare_cpu = [], []
    for r in (1, 2):
        b0 = time.thread_time()
        bare_wall.append(_bare_loop(mlp.Trainer.create(data, net, cfg, seed=r, device=device), t.epoch))
        bare_cpu.append(time.thread_time() - b0)
    return {
        "device": device,
        "seconds": round(elapsed, 2),
        "frames": frames,
        "frames_per_s": round(frames / elapsed, 2),
        "median_draw_ms": round(1000 * statistics.median(draw_s[1:]), 1),
        "median_draw_cpu_ms": round(1000 * statistics.median(draw_cpu[1:]), 1),
        "play_epochs_per_s": round(t.epoch / elapsed, 1),
        "bare_epochs_per_s": round(t.epoch / min(bare_wall), 1),
        "ratio_play_over_bare_wall": round(min(bare_wall) / elapsed, 3),
        "ratio_play_over_bare_cpu": round(min(bare_cpu) / cpu, 3),
        "target_frames_per_s": 4.0,
        "target_ratio": 0.8,
    }


_COUNT_FRAMES = """
async (seconds) => {
  // Count redraws as the student sees them: each new value of the Epoch metric is one frame.
  const value = () => {
    const m = [...document.querySelectorAll('[data-testid="stMetric"]')].find(e => e.innerText.includes('Epoch'));
    const v = m && m.querySelector('[data-testid="stMetricValue"]');
    return v ? v.innerText.trim() : null;
  };
  let last = value(), frames = 0, gaps = [], t = performance.now();
  const end = t + seconds * 1000;
  while (performance.now() < end) {
    await new Promise(r => requestAnimationFrame(() => r()));
    const v = value();
    if (v !== null && v !== last) {
      const now = performance.now();
      frames += 1; gaps.push(now - t); t = now; last = v;
    }
  }
  gaps.sort((a, b) => a - b);
  return {frames, epoch: last, p50_gap_ms: gaps.length ? gaps[Math.floor(gaps.length / 2)] : null,
          max_gap_ms: gaps.length ? gaps[gaps.length - 1] : null};
}
"""


def play_browser(seconds: float = 8.0, query: str = "mlp?dataset=xor&w1=6&w2=6") -> dict:
    """Play in headless Chromium on a fresh server: redraws per second as they reach the page.

    Unlike :func:`play` this includes Streamlit (protobuf, websocket) and the browser
    drawing every frame. Target ≥ 4 frames a second on a quiet 2-core machine.
    """
    from playwright.sync_api import sync_playwright

    from tests.browser import CHROMIUM, CHROMIUM_ARGS, RUNNING, fresh_server, open_page

    with sync_playwright() as pw, fresh_server() as url:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(120_000)
            open_page(page, url, query)
            page.get_by_role("button", name="Play").click()
            page.wait_for_selector(RUNNING, timeout=60_000)
            page.wait_for_timeout(1500)  # past the first frame's one-off costs
            counted = page.evaluate(_COUNT_FRAMES, seconds)
            page.get_by_role("button", name="Pause").click()
        finally:
            browser.close()
    return {
        "what": f"Chromium 1400 px, {query}, Play for {seconds:g} s after the first 1.5 s",
        "frames": counted["frames"],
        "frames_per_s": round(counted["frames"] / seconds, 2),
        "p50_gap_ms": counted["p50_gap_ms"] and round(counted["p50_gap_ms"]),
        "max_gap_ms": counted["max_gap_ms"] and round(counted["max_gap_ms"]),
        "target_frames_per_s": 4.0,
    }


def run() -> dict:
    result = {
        "play_browser": play_browser(),
        "throughput_circles_4_2_sgd_bs10": throughput(CIRCLES, mlp.NetConfig(), mlp.TrainConfig()),
        "throughput_spiral_8_8_adam_bs16": throughput(SPIRAL, SPIRAL_NET, SPIRAL_TRAIN),
        "spiral_to_95": time_to_spiral(),
        "progress": progress_cadence(),
        "play_circles_4_2_sgd": play(CIRCLES, mlp.NetConfig(), mlp.TrainConfig()),
        "play_spiral_8_8_adam": play(SPIRAL, SPIRAL_NET, SPIRAL_TRAIN),
        "torch_threads": torch.get_num_threads(),
    }
    if torch.cuda.is_available():
        result["cuda_throughput_spiral"] = throughput(SPIRAL, SPIRAL_NET, SPIRAL_TRAIN, device="cuda")
        result["cuda_spiral_to_95"] = time_to_spiral(device="cuda")
    return result


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
