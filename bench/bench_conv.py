"""Convolution lab benchmarks: the lab's fast path vs bare F.conv2d on a 12-MP photo, and page reruns.

1. A 12-megapixel RGB photo (1, 3, 3000, 4000) and a 3×3 kernel: ``lab.conv.apply`` /
   ``lab.conv.convolve`` against a bare ``F.conv2d`` on the same tensor, interleaved,
   median of several runs. Target: ratio ≤ 1.2 (no Python loops, no needless copies).
2. The client-side figures (hover arithmetic, animated stepper): build + JSON time and size.
3. The page with a 12-MP JPEG upload (AppTest, through app.py): the first run (decode
   + downscale, then cached) and the rerun after a widget change, against a rerun of
   the home page in the same process. Target: rerun < 1 s.
"""

from __future__ import annotations

import io
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F

from bench.timing import median_pair


def bench_fast_path(device: str = "cpu") -> dict:
    from lab import conv

    X = torch.rand(1, 3, 3000, 4000, generator=torch.Generator().manual_seed(0)).to(device)
    out: dict = {"image": "1×3×3000×4000 float32 (12 MP)", "device": device}
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)

    def timed(f):
        def run():
            y = f()
            sync()
            return y

        return run

    cases = {
        # per-channel 3×3 Sobel: groups=3, zero padding 1
        "rgb_sobel_zeros": (
            conv.ConvConfig(kernel="sobel_x", mode="rgb", geometry=conv.Geometry(padding=1)),
            lambda w: F.conv2d(X, w, padding=1, groups=3),
        ),
        # a 3×k×k filter bank of 4 filters on RGB
        "bank4_zeros": (
            conv.ConvConfig(mode="bank", geometry=conv.Geometry(padding=1)),
            lambda w: F.conv2d(X, w, padding=1),
        ),
        # reflect padding costs one F.pad in both versions
        "rgb_edge_reflect": (
            conv.ConvConfig(kernel="edge", mode="rgb", geometry=conv.Geometry(padding=1, padding_mode="reflect")),
            lambda w: F.conv2d(F.pad(X, (1, 1, 1, 1), mode="reflect"), w, groups=3),
        ),
    }
    for name, (cfg, bare) in cases.items():
        weight = conv.build_weight(cfg)[0].to(device)
        lab_s, bare_s = median_pair(
            timed(lambda cfg=cfg: conv.apply(X, cfg, device=device)),
            timed(lambda bare=bare, weight=weight: bare(weight)),
        )
        out[name] = {"lab_s": round(lab_s, 4), "bare_conv2d_s": round(bare_s, 4), "ratio": round(lab_s / bare_s, 3)}
    # the by-hand loops, for scale (a 32×32 crop: it is the teaching version, not the fast path)
    small = X[0, :1, :32, :32].cpu().contiguous()
    K = conv.kernel_preset("edge")[None, None]
    t = time.perf_counter()
    conv.convolve_by_hand(small, K, None, conv.Geometry(padding=1))
    hand = time.perf_counter() - t
    t = time.perf_counter()
    for _ in range(100):
        F.conv2d(small[None], K, padding=1)
    fast = (time.perf_counter() - t) / 100
    out["by_hand_32x32_s"] = round(hand, 4)
    out["by_hand_vs_conv2d_32x32"] = round(hand / fast, 1)
    return out


def _jpeg_12mp() -> bytes:
    from PIL import Image

    rng = np.random.default_rng(0)
    small = rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)
    img = Image.fromarray(small).resize((4000, 3000), Image.Resampling.BICUBIC)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85)
    return buf.getvalue()


def bench_page(repeats: int = 5) -> dict:
    import streamlit as st

    from tests.conftest import run_page

    data = _jpeg_12mp()
    home = run_page("app_pages/home.py")
    home_runs = []
    for _ in range(repeats):
        t = time.perf_counter()
        home.run()
        home_runs.append(time.perf_counter() - t)

    at = run_page("app_pages/convolution.py")
    t = time.perf_counter()
    at.get("file_uploader")[0].set_value(("photo_12mp.jpg", data, "image/jpeg")).run()
    first = time.perf_counter() - t
    assert not at.exception, [e.value for e in at.exception]
    caption = next(c.value for c in at.caption if "computing at" in c.value)
    reruns = []
    for i in range(repeats):
        slider = at.slider(key="convolution.geo1.stride")
        t = time.perf_counter()
        slider.set_value(2 if i % 2 == 0 else 1).run()
        reruns.append(time.perf_counter() - t)
        assert not at.exception
    kernel_changes = []
    for name in ("sobel_x", "gaussian_blur", "edge"):
        t = time.perf_counter()
        at.selectbox(key="convolution.kernel.kernel").set_value(name).run()
        kernel_changes.append(time.perf_counter() - t)
    st.cache_data.clear()
    rerun = statistics.median(reruns + kernel_changes)
    home_s = statistics.median(home_runs)
    return {
        "upload": f"{len(data) / 1e6:.1f} MB JPEG, 4000×3000",
        "page_states": caption.split("**computing at ")[1].split("**")[0],
        "first_run_with_upload_s": round(first, 3),
        "widget_change_rerun_median_s": round(rerun, 3),
        "widget_change_rerun_max_s": round(max(reruns + kernel_changes), 3),
        "home_rerun_median_s": round(home_s, 3),
        "rerun_vs_home_ratio": round(rerun / home_s, 1),
        "target_rerun_s": 1.0,
    }


def bench_figures(repeats: int = 3) -> dict:
    """Build + JSON time and size of the client-side figures (hover arithmetic window, animated stepper).

    Worst cases the page allows: a 7×7 kernel's hover (99 numbers a cell), a 3×3×3 bank filter's,
    and the photo stepper with padding 2 (81 frames). The time is reported against building and
    serialising a plain one-trace heatmap of the same window in the same run.
    """
    import plotly.graph_objects as go
    import plotly.io as pio

    from lab import conv, conv_figures

    X = torch.rand(1, 3, 384, 512, generator=torch.Generator().manual_seed(0))

    def measure(build) -> tuple[float, int]:
        times, size = [], 0
        for _ in range(repeats):
            t = time.perf_counter()
            size = len(pio.to_json(build().to_dict(), validate=False))
            times.append(time.perf_counter() - t)
        return statistics.median(times), size

    out: dict = {}
    for name, cfg in (
        ("hover_gray_7x7", conv.ConvConfig(kernel="gaussian_blur", size=7, geometry=conv.Geometry(padding=3))),
        ("hover_bank_3x3x3", conv.ConvConfig(mode="bank")),
    ):
        result = conv.apply(X, cfg)
        region = conv.zoom_region(result.maps.shape[-2], result.maps.shape[-1], 0.5, 0.5)
        r0, r1, c0, c1 = region
        window = result.maps[0, r0:r1, c0:c1].numpy()
        arith = conv.hover_arithmetic(result.X_in, result.weight, cfg.geometry, 0, result.groups, region)
        s, size = measure(lambda arith=arith, window=window: conv_figures.hover_figure(arith, window, "t"))
        base, _ = measure(lambda window=window: go.Figure(go.Heatmap(z=window)))
        out[name] = {"build_json_s": round(s, 3), "json_kb": round(size / 1024), "vs_plain_heatmap": round(s / base, 1)}
    steps = conv.conv_steps(conv.crop_gray(X, 0.5, 0.5, 7), conv.LECTURE_KERNEL, conv.Geometry(padding=2))
    s, size = measure(lambda: conv_figures.stepper_figure(steps, 0))
    out["stepper_81_frames"] = {"build_json_s": round(s, 3), "json_kb": round(size / 1024)}
    return out


def run() -> dict:
    result = {"threads": torch.get_num_threads(), "fast_path_cpu": bench_fast_path("cpu")}
    if torch.cuda.is_available():
        result["fast_path_cuda"] = bench_fast_path("cuda")
    result["figures"] = bench_figures()
    result["page"] = bench_page()
    return result


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
