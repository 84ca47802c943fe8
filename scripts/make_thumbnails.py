"""Render the home page's card thumbnails into ``assets/thumbs/`` (run once; output is committed).

Uses numpy and Pillow only, from the bundled photos and the labs' own data
generators, so the home page can show them without importing torch.

    python scripts/make_thumbnails.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageOps

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lab.data2d import make_points  # noqa: E402
from lab.figures import colorize  # noqa: E402

OUT = ROOT / "assets" / "thumbs"
SIZE = (480, 270)


def _photo(name: str) -> Image.Image:
    return ImageOps.fit(Image.open(ROOT / "assets" / name).convert("RGB"), SIZE)


def _boundary(name: str, prob_fn) -> Image.Image:
    """A probability heatmap (diverging colours) with the dataset's points."""
    w, h = SIZE
    xs, ys = np.linspace(-1.2, 1.2, w), np.linspace(-1.2 * h / w * 1.6, 1.2 * h / w * 1.6, h)
    gx, gy = np.meshgrid(xs, ys[::-1])
    img = Image.fromarray(colorize(prob_fn(gx, gy) * 2 - 1, signed=True)[0]).convert("RGB")
    img = Image.blend(Image.new("RGB", SIZE, "white"), img, 0.6)
    draw = ImageDraw.Draw(img)
    X, y = make_points(name, 160, 0.05, seed=3)
    for (a, b), label in zip(X, y, strict=True):
        px, py = (a + 1.2) / 2.4 * w, (1 - (b - ys[0]) / (ys[-1] - ys[0])) * h
        color = "#1f77b4" if label == 0 else "#ff7f0e"
        draw.ellipse([px - 4, py - 4, px + 4, py + 4], fill=color, outline="white")
    return img


def _conv(img: Image.Image) -> Image.Image:
    """The lecture's edge kernel [[-1,-1,-1],[-1,8,-1],[-1,-1,-1]] on the cat."""
    gray = np.asarray(img.convert("L"), dtype=np.float64) / 255.0
    padded = np.pad(gray, 1, mode="edge")
    out = 9 * gray - sum(padded[i : i + gray.shape[0], j : j + gray.shape[1]] for i in range(3) for j in range(3))
    return Image.fromarray(colorize(np.clip(out, -0.5, 0.5), signed=True)[0])


def _curves() -> Image.Image:
    img = Image.new("RGB", SIZE, "white")
    draw = ImageDraw.Draw(img)
    t = np.linspace(0, 1, 100)
    w, h = SIZE
    for color, y in (
        ("#1f77b4", 0.05 + 0.9 * np.exp(-6 * t)),  # train loss: to ~0
        ("#ff7f0e", 0.45 + 0.5 * np.exp(-6 * t) + 0.3 * t),  # baseline validation: overfits
        ("#2ca02c", 0.3 + 0.65 * np.exp(-5 * t)),  # dropout + BN validation
    ):
        draw.line([(20 + x * (w - 40), h - 20 - v * (h - 40)) for x, v in zip(t, y, strict=True)], fill=color, width=5)
    return img


def _augment(img: Image.Image) -> Image.Image:
    tile = ImageOps.fit(img, (SIZE[0] // 2, SIZE[1] // 2))
    out = Image.new("RGB", SIZE, "white")
    variants = (
        tile,
        ImageOps.mirror(tile),
        tile.rotate(20, fillcolor="white"),
        ImageOps.grayscale(tile).convert("RGB"),
    )
    for i, v in enumerate(variants):
        out.paste(v, ((i % 2) * SIZE[0] // 2, (i // 2) * SIZE[1] // 2))
    return out


def _inception() -> Image.Image:
    img = Image.new("RGB", SIZE, "white")
    draw = ImageDraw.Draw(img)
    colors = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728")
    draw.rectangle([40, 20, 440, 55], fill="#888888")  # previous layer
    for i, color in enumerate(colors):
        x = 40 + i * 105
        draw.rectangle([x, 90, x + 85, 130], fill=color)
        if i:
            draw.rectangle([x, 150, x + 85, 190], fill=color)
        draw.line([(x + 42, 55), (x + 42, 90)], fill="black", width=3)
        draw.line([(x + 42, 130 if not i else 190), (x + 42, 215)], fill="black", width=3)
    draw.rectangle([40, 215, 440, 250], fill="#444444")  # concatenation
    return img


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    cat = _photo("cat.jpg")
    thumbs = {
        "logistic-regression": _boundary("overlap", lambda x, y: 1 / (1 + np.exp(6 * (x + y)))),
        "mlp": _boundary("circles", lambda x, y: 1 / (1 + np.exp(-12 * (0.55**2 - x**2 - (y / 1.1) ** 2)))),
        "convolution": _conv(cat),
        "regularization": _curves(),
        "augmentation": _augment(cat),
        "inception": _inception(),
    }
    for name, img in thumbs.items():
        img.save(OUT / f"{name}.png", optimize=True)
        print(name, img.size)


if __name__ == "__main__":
    main()
