"""Lab 5 bench: a 16-sample preview of a 1024×768 photo through a 6-transform pipeline.

Ours (torchvision transforms v2, crop/resize to the preview size first, one
thread) against the same pipeline in albumentations (OpenCV) in the same run,
plus the page's redraw time (AppTest rerun after a "Resample" click).

Pipeline: random resized crop (scale 0.5–1, to 256×192) → rotation ±15° →
horizontal flip p=0.5 → colour jitter (0.3, 0.3, 0.3, hue 0.05) → Gaussian
blur σ∈[0.1, 2] (ours: 9×9 kernel, ±2σ; albumentations: its random 3–13
separable kernel) → Gaussian noise σ=0.05. Ours converts to float32 once
after the crop (as its generated code does).

Variants timed (median of REPEATS, after a warm-up):
- ``ours_preview``: :func:`lab.augment.preview` as the page calls it (the
  :mod:`lab.augment_fast` runner: same draws, leaner hue/blur/rotation kernels);
- ``ours_exact_compose``: the same preview through ``v2.Compose`` itself
  (``fast=False``: bit-identical to the generated code), paired with albumentations too;
- ``albumentations_preview``: the same order — crop the full photo to 256×192
  first, then the rest — what a fair albumentations preview would do;
- ``albumentations_full``: the whole pipeline at 1024×768 then shown small
  (what albumentations-demo does: the transforms run on the full image);
- ``torchvision_full``: our pipeline without the crop-first trick (resize last).
Needs ``albumentations`` (requirements-bench.txt); without it those numbers are absent.
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import torch
from PIL import Image

from bench.timing import median_pair, median_seconds
from lab.device import single_thread

N = 16
REPEATS = 5
SIZE = (768, 1024)  # (H, W) of the photo
PREVIEW = (192, 256)  # (H, W) of each sample

VALUES = {
    "crop": True,
    "crop_scale": 0.5,
    "rotate": True,
    "rotate_deg": 15,
    "hflip": True,
    "jitter": True,
    "jitter_hue": 0.05,
    "blur": True,
    "blur_sigma": 2.0,
    "noise": True,
    "noise_sigma": 0.05,
}


def _photo() -> np.ndarray:
    from lab.images import load_sample

    return np.asarray(load_sample("temple").image.resize((SIZE[1], SIZE[0]), Image.Resampling.BICUBIC))


def _albumentations(crop_first: bool):
    import albumentations as alb

    rest = [
        alb.Rotate(limit=15, p=1.0, border_mode=0),
        alb.HorizontalFlip(p=0.5),
        alb.ColorJitter(brightness=0.3, contrast=0.3, saturation=0.3, hue=0.05, p=1.0),
        alb.GaussianBlur(sigma_limit=(0.1, 2.0), blur_limit=(3, 13), p=1.0),
        alb.GaussNoise(std_range=(0.05, 0.05), p=1.0),
    ]
    if crop_first:
        return alb.Compose([alb.RandomResizedCrop(size=PREVIEW, scale=(0.5, 1.0), p=1.0), *rest])
    return alb.Compose([alb.RandomResizedCrop(size=SIZE, scale=(0.5, 1.0), p=1.0), *rest, alb.Resize(*PREVIEW)])


def _page_redraw_seconds() -> float | None:
    try:
        from tests.conftest import run_page
    except Exception:
        return None
    at = run_page("app_pages/augmentation.py", query={"num_samples": str(N)})
    button = next(b for b in at.button if b.label == "Resample")
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        button.click().run()
        times.append(time.perf_counter() - t0)
        button = next(b for b in at.button if b.label == "Resample")
    return statistics.median(times)


def run() -> dict:
    from torchvision.transforms import v2

    from lab import augment as A

    photo = _photo()
    image = A.to_tensor(photo)
    config = A.PipelineConfig.from_values(VALUES)
    assert len(config.enabled) == 6, config.enabled
    draws = iter(range(10_000))
    ours = median_seconds(lambda: A.preview(image, config, num_samples=N, side=max(PREVIEW), draw=next(draws) % 1000))
    result = A.preview(image, config, num_samples=N, side=max(PREVIEW))
    assert result.size == PREVIEW, result.size

    # Our pipeline at full resolution, resized at the end (what "crop first" saves).
    full = A.build_pipeline(config, SIZE)
    full_then_small = v2.Compose([full, v2.Resize(list(PREVIEW), antialias=True)])

    def torchvision_full() -> None:
        with single_thread():
            for i in range(N):
                torch.manual_seed(i)
                full_then_small(image)

    report: dict = {
        "photo": f"{SIZE[1]}x{SIZE[0]}",
        "samples": N,
        "preview": f"{PREVIEW[1]}x{PREVIEW[0]}",
        "pipeline": list(config.enabled),
        "torch_threads": torch.get_num_threads(),
        "ours_preview_s": round(ours, 4),
        "ours_per_sample_ms": round(ours / N * 1000, 2),
        "torchvision_full_s": round(median_seconds(torchvision_full, 3), 4),
    }
    report["crop_first_speedup"] = round(report["torchvision_full_s"] / ours, 2)
    try:
        import albumentations as alb
        import cv2
    except ImportError as err:
        report["albumentations"] = f"not installed ({err}); pip install -r requirements-bench.txt"
    else:
        # The headline pair is interleaved (median_pair): both see the same load on a shared machine.
        same_order = _albumentations(True)
        ours_paired, alb_s = median_pair(
            lambda: A.preview(image, config, num_samples=N, side=max(PREVIEW), draw=next(draws) % 1000),
            lambda: [same_order(image=photo)["image"] for _ in range(N)],
            7,
        )
        report["ours_preview_paired_s"] = round(ours_paired, 4)
        report["albumentations_preview_s"] = round(alb_s, 4)
        # Before lab.augment_fast: the same draws through v2.Compose itself (bit-identical to the generated code).
        exact_paired, alb_s2 = median_pair(
            lambda: A.preview(image, config, num_samples=N, side=max(PREVIEW), draw=next(draws) % 1000, fast=False),
            lambda: [same_order(image=photo)["image"] for _ in range(N)],
            7,
        )
        report["ours_exact_compose_paired_s"] = round(exact_paired, 4)
        report["ratio_exact_compose_vs_albumentations"] = round(exact_paired / alb_s2, 2)
        report["fast_speedup_vs_exact_compose"] = round(exact_paired / ours_paired, 2)
        full = _albumentations(False)
        report["albumentations_full_s"] = round(
            median_seconds(lambda: [full(image=photo)["image"] for _ in range(N)]), 4
        )
        report["albumentations_version"] = alb.__version__
        report["opencv_threads"] = cv2.getNumThreads()
        # The target: ≤ 1.0 (ours equal or faster).
        report["ratio_vs_albumentations_same_order"] = round(ours_paired / alb_s, 2)
        report["ratio_vs_albumentations_full_res"] = round(ours / report["albumentations_full_s"], 2)
    # Per transform, ours at the preview size (where the time goes).
    per = {}
    start = A.prepare(image, A.PipelineConfig.from_values(VALUES, enabled=[]), PREVIEW)
    for key in config.enabled:
        one = A.PipelineConfig.from_values(VALUES, enabled=[key])
        src = image if key == "crop" else start
        per[key] = round(median_seconds(lambda c=one, s=src: A.preview(s, c, num_samples=N, side=256), 3) * 1000, 1)
    report["ours_per_transform_ms_16_samples"] = per
    redraw = _page_redraw_seconds()
    if redraw is not None:
        report["page_redraw_s"] = round(redraw, 3)  # target < 1 s
    return report


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
