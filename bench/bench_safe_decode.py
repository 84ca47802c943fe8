"""What isolating image decodes costs: in-process vs the persistent worker vs fork-per-decode.

Prints JSON. The photo is a 4032×3024 JPEG (a 12 MP phone photo, ~2 MB) and
the sample cat (451×300). For each: median seconds of

- ``in_process``: :func:`lab.images.load_image` with ``isolate=False``;
- ``worker_warm``: through :mod:`lab.safe_decode`'s persistent worker (the app's path);
- ``worker_cold``: the first decode after the pool is emptied (a worker start);
- ``fork``: ``os.fork()`` per decode of this process (which has torch imported,
  like the server), the child decoding and writing the RGB bytes to a pipe.

Ratios are against ``in_process`` measured in the same run. Run:
``.venv/bin/python bench/bench_safe_decode.py``.
"""

from __future__ import annotations

import io
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402, F401 — the server has torch loaded: forking copies its page tables too
from PIL import Image  # noqa: E402

from lab import images, safe_decode  # noqa: E402


def _photo() -> bytes:
    small = np.random.default_rng(0).integers(0, 255, (24, 32, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(small).resize((4032, 3024), Image.Resampling.BILINEAR).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def _fork_decode(data: bytes) -> images.LoadedImage:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: decode, send raw RGB, exit without running any cleanup
        try:
            loaded = images.load_image(data, "photo.jpg", isolate=False)
            payload = loaded.image.tobytes()
            header = f"{loaded.size[0]} {loaded.size[1]}\n".encode()
            os.write(write, header)
            view = memoryview(payload)
            while view:
                view = view[os.write(write, view) :]
        finally:
            os._exit(0)
    os.close(write)
    chunks = []
    while chunk := os.read(read, 1 << 20):
        chunks.append(chunk)
    os.close(read)
    os.waitpid(pid, 0)
    raw = b"".join(chunks)
    head, body = raw.split(b"\n", 1)
    w, h = map(int, head.split())
    return images.LoadedImage(Image.frombytes("RGB", (w, h), body), "photo.jpg", "JPEG", (w, h))


def _median(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    report = {}
    for label, data in (("photo_12mp", _photo()), ("cat_sample", (images.ASSETS / "cat.jpg").read_bytes())):
        in_process = _median(lambda d=data: images.load_image(d, "p.jpg", isolate=False), 7)
        safe_decode._pool.close()
        start = time.perf_counter()
        images.load_image(data, "p.jpg")
        cold = time.perf_counter() - start
        warm = _median(lambda d=data: images.load_image(d, "p.jpg"), 7)
        fork = _median(lambda d=data: _fork_decode(d), 7)
        report[label] = {
            "bytes": len(data),
            "in_process_s": round(in_process, 4),
            "worker_warm_s": round(warm, 4),
            "worker_cold_s": round(cold, 4),
            "fork_s": round(fork, 4),
            "worker_warm_ratio": round(warm / in_process, 2),
            "fork_ratio": round(fork / in_process, 2),
        }
    safe_decode._pool.close()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
