"""A bounded, seeded mutation fuzzer over everything a visitor can hand the server.

Loaders: images (:func:`lab.images.load_image`, in-process so a crash is seen
here), WAVs (:func:`lab.audio.load_wav`), CSVs (:func:`lab.data2d.parse_csv`),
weights files (:func:`lab.weights.read_state_dict`, in a memory-limited
subprocess: ``torch.load`` is C++, and a crash there must fail the test, not end
it) and the URL decoder (:func:`lab.params.from_query` over every spec in ``lab``).
Each starts from small valid files, mutates them (bit flips, "interesting"
bytes and integers over header fields, truncation, splices, repeats) with a
fixed seed, and feeds a few hundred to a few thousand cases. The only exception
allowed is the loader's own error type; a URL never raises at all. The whole
module runs in well under a minute; a failure prints the seed and case number,
so it reproduces exactly.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import pkgutil
import random
import struct
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import lab
from lab import audio, data2d, images, params

_INTERESTING_BYTES = (0x00, 0x01, 0x7F, 0x80, 0xFF, 0xFE)
_INTERESTING_INTS = (0, 1, 2, 3, 7, 8, 16, 255, 256, 0x7FFF, 0x8000, 0xFFFF, 0x10000, 65_500, 0x7FFFFFFF, 0xFFFFFFFF)


def mutate(data: bytes, rng: random.Random, *, header: int = 64) -> bytes:
    """One to four random mutations of ``data``; most land in the first ``header`` bytes (where sizes live)."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        if not buf:
            buf = bytearray(rng.randbytes(rng.randint(1, 16)))
        span = min(len(buf), header) if rng.random() < 0.7 else len(buf)
        at = rng.randrange(span)
        op = rng.randrange(8)
        if op == 0:  # flip a bit
            buf[at] ^= 1 << rng.randrange(8)
        elif op == 1:  # an interesting byte
            buf[at] = rng.choice(_INTERESTING_BYTES)
        elif op == 2:  # an interesting 16/32-bit integer, either byte order
            width = rng.choice((2, 4))
            value = rng.choice(_INTERESTING_INTS) & ((1 << (8 * width)) - 1)
            packed = struct.pack(("<" if rng.random() < 0.5 else ">") + ("H" if width == 2 else "I"), value)
            buf[at : at + width] = packed
        elif op == 3:  # truncate
            del buf[rng.randrange(len(buf)) :]
        elif op == 4:  # random bytes over a stretch
            n = rng.randint(1, 32)
            buf[at : at + n] = rng.randbytes(n)
        elif op == 5:  # repeat a stretch
            n = rng.randint(1, 64)
            buf[at:at] = buf[at : at + n] * rng.randint(2, 20)
        elif op == 6:  # delete a stretch
            del buf[at : at + rng.randint(1, 32)]
        else:  # splice in a stretch from elsewhere
            src = rng.randrange(len(buf))
            n = rng.randint(1, 64)
            buf[at:at] = buf[src : src + n]
    return bytes(buf)


def _run(seeds: list[bytes], cases: int, seed: int, load, allowed: type[BaseException], *, header: int = 64) -> int:
    """Feed ``cases`` mutants to ``load``; fail on any exception but ``allowed``. Returns how many loaded."""
    rng = random.Random(seed)
    loaded = 0
    for case in range(cases):
        data = mutate(rng.choice(seeds), rng, header=header)
        try:
            load(data)
            loaded += 1
        except allowed:
            pass
        except Exception as err:  # the failure names the seed and case: it reproduces exactly
            raise AssertionError(f"seed {seed}, case {case}: {type(err).__name__}: {err}") from err
    return loaded


# --- images ------------------------------------------------------------------------------------------


def _image_seeds() -> list[bytes]:
    rng = np.random.default_rng(0)
    rgb = Image.fromarray(rng.integers(0, 255, (24, 32, 3), dtype=np.uint8))
    out = []
    variants = [
        (rgb, "PNG", {}),
        (rgb.convert("P"), "PNG", {"transparency": 0}),
        (rgb.convert("L"), "PNG", {}),
        (rgb.convert("RGBA"), "PNG", {}),
        (Image.fromarray(rng.integers(0, 65535, (24, 32), dtype=np.uint16)), "PNG", {}),
        (rgb, "JPEG", {"quality": 80}),
        (rgb, "JPEG", {"quality": 80, "progressive": True}),
        (rgb.convert("CMYK"), "JPEG", {}),
        (rgb.convert("P"), "GIF", {}),
        (rgb, "BMP", {}),
        (rgb, "TIFF", {}),
        (rgb, "TIFF", {"compression": "tiff_deflate"}),
        (Image.fromarray(rng.random((24, 32), dtype=np.float32), "F"), "TIFF", {}),
        (rgb, "WEBP", {"quality": 80}),
    ]
    for img, fmt, kw in variants:
        buf = io.BytesIO()
        img.save(buf, fmt, **kw)
        out.append(buf.getvalue())
    frames = io.BytesIO()
    rgb.convert("P").save(frames, "GIF", save_all=True, append_images=[rgb.convert("P").rotate(90)] * 2)
    out.append(frames.getvalue())
    from tests.hostile_files import rle_bmp, tiff_pages

    out += [rle_bmp(32, 24), rle_bmp(32, 24, rle4=True), tiff_pages(3)]
    return out


def test_fuzz_image_loader():
    seeds = _image_seeds()
    assert all(images.load_image(s, "seed", isolate=False) for s in seeds)  # every seed is valid
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow warns about corrupt EXIF etc.; only exceptions matter here
        loaded = _run(
            seeds, 2500, 1, lambda d: images.load_image(d, "fuzz", isolate=False), images.ImageInputError, header=96
        )
    assert 0 < loaded < 2500  # both outcomes are exercised


# --- WAV ---------------------------------------------------------------------------------------------


def _wav_seeds() -> list[bytes]:
    from tests.hostile_files import wav

    tone = np.sin(np.arange(8000) / 5.0)
    return [
        audio.to_wav(tone.astype(np.float32)),
        wav(sr=8000, bits=8, data=((tone + 1) * 100).astype(np.uint8).tobytes()),
        wav(sr=22_050, bits=16, channels=2, data=(np.repeat(tone, 2) * 9000).astype("<i2").tobytes()),
        wav(sr=8000, bits=24, data=bytes(3) * 4000 + b"\x00\x10\x00" * 4000),
        wav(sr=8000, bits=32, tag=3, data=tone.astype("<f4").tobytes()),
        wav(sr=8000, bits=64, tag=3, data=tone.astype("<f8").tobytes()),
    ]


@pytest.mark.filterwarnings("error::RuntimeWarning")  # NaN/overflow arithmetic on hostile samples is a bug too
def test_fuzz_wav_loader():
    seeds = _wav_seeds()
    assert all(audio.load_wav(s, "seed") for s in seeds)
    loaded = _run(seeds, 1500, 2, lambda d: audio.load_wav(d, "fuzz"), audio.AudioInputError, header=48)
    assert 0 < loaded < 1500


# --- CSV ---------------------------------------------------------------------------------------------


def _csv_seeds() -> list[bytes]:
    X, y = data2d.make_points("moons", n=40, seed=0)
    return [
        data2d.to_csv(X, y),
        b"label,a,b\n1,0.5,0.25\n0,1,2\n1,3,4\n",
        b"0.5,0.25,1\n1,2,0\n3,4,1\n",
        b'"x1","x2","label"\r\n"1.5","2",0\r\n3,4e-3,1\r\n',
        "\ufeffx1,x2,class\n1,2,0\n\n3,4,1\n".encode(),
    ]


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_fuzz_csv_loader():
    seeds = _csv_seeds()
    assert all(data2d.parse_csv(s, "seed") for s in seeds)
    loaded = _run(seeds, 2500, 3, lambda d: data2d.parse_csv(d, "fuzz"), data2d.DataInputError, header=4096)
    assert 0 < loaded < 2500


# --- weights (torch.save zips) ---------------------------------------------------------------------------


def _weights_seeds() -> list[bytes]:
    """Small ``torch.save`` files in the shapes a state_dict comes in (no GoogLeNet: 50 MB per case is too slow)."""
    import torch
    from torch import nn

    g = torch.Generator().manual_seed(0)
    small = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Linear(4, 2))  # OrderedDict + _metadata, int64
    shared = torch.randn(6, 4, generator=g)
    dicts = [
        {"fc.weight": torch.randn(3, 4, generator=g), "fc.bias": torch.zeros(3)},
        small.state_dict(),
        {"state_dict": {"module.conv.weight": torch.randn(2, 1, 3, 3, generator=g)}},  # wrapped, DataParallel prefix
        {"w": shared, "w_t": shared.t(), "row": shared[2]},  # views sharing one storage, one non-contiguous
        {"h": torch.randn(5, generator=g).half(), "n": torch.tensor(7), "e": torch.empty(0)},
    ]
    out = []
    for sd in dicts:
        buf = io.BytesIO()
        torch.save(sd, buf)
        out.append(buf.getvalue())
    return out


def mutate_zip(data: bytes, rng: random.Random) -> bytes:
    """:func:`mutate` aimed at a zip's parts: the local headers and pickle at the front, a random stretch in the
    middle, or the central directory and end record at the back (a zip is read from its end)."""
    where = rng.random()
    if where < 0.35:  # the back: central directory (46 bytes + name per member) and end-of-directory record
        start = max(0, len(data) - rng.choice((22, 64, 256, 1024, 4096)))
    elif where < 0.7:  # the front: first local header and data.pkl
        start = 0
    else:  # anywhere (other local headers, tensor records, padding)
        start = rng.randrange(len(data))
    end = min(len(data), start + rng.choice((64, 256, 4096, len(data))))
    return data[:start] + mutate(data[start:end], rng, header=end - start) + data[end:]


def fuzz_weights(cases: int, seed: int) -> dict:
    """Feed ``cases`` mutated ``torch.save`` files to ``read_state_dict``; anything but ``WeightsError`` is reported.

    Runs in the subprocess of :func:`test_fuzz_weights_loader`; the case number goes to stderr before each case,
    so a crash inside ``torch.load`` names the case that caused it.
    """
    from lab import weights

    seeds = _weights_seeds()
    assert all(weights.read_state_dict(s, "seed") for s in seeds)  # every seed is valid
    rng = random.Random(seed)
    loaded = refused = 0
    bad: list[str] = []
    for case in range(cases):
        data = mutate_zip(rng.choice(seeds), rng)
        print(f"case {case}", file=sys.stderr, flush=True)
        try:
            state = weights.read_state_dict(data, "The file")
            assert isinstance(state, dict) and all(isinstance(v, weights.torch.Tensor) for v in state.values())
            loaded += 1
        except weights.WeightsError as err:
            assert str(err).startswith("The file"), str(err)  # a user-facing sentence about the file
            refused += 1
        except Exception as err:
            bad.append(f"seed {seed}, case {case}: {type(err).__name__}: {str(err)[:300]}")
    return {"loaded": loaded, "refused": refused, "bad": bad}


_WEIGHTS_CHILD = """
import json, resource, sys
def vm():
    return int(open("/proc/self/statm").read().split()[0]) * resource.getpagesize()
from tests.test_fuzz import fuzz_weights
import lab.weights, torch  # noqa: F401  (mapped before the limit)
resource.setrlimit(resource.RLIMIT_AS, (vm() + 1024 * 2**20, resource.RLIM_INFINITY))
print(json.dumps(fuzz_weights(int(sys.argv[1]), int(sys.argv[2]))))
"""


def test_fuzz_weights_loader():
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(root), "OMP_NUM_THREADS": "1"}
    cases = 2000
    proc = subprocess.run(
        [sys.executable, "-c", _WEIGHTS_CHILD, str(cases), "5"],
        capture_output=True, text=True, timeout=120, cwd=root, env=env,
    )  # fmt: skip
    last_case = proc.stderr.strip().splitlines()[-1:] if proc.stderr else []
    assert proc.returncode == 0, f"the loader crashed the process at {last_case}: {proc.stderr[-2000:]}"
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["bad"] == [], report["bad"][:10]
    assert report["loaded"] + report["refused"] == cases
    assert 0 < report["loaded"] < cases and report["refused"] > cases // 4  # both outcomes, many refusals


def test_mutate_zip_reaches_the_central_directory():
    """The zip directory sits at the end of the file: enough mutants change it (mutate alone aims at the front)."""
    data = _weights_seeds()[1]
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        directory = zf.start_dir  # where the central directory begins
    tail = len(data) - directory
    assert 0 < tail < len(data) // 2
    rng = random.Random(0)
    touched = sum(mutate_zip(data, rng)[-tail:] != data[-tail:] for _ in range(200))
    assert touched > 50


# --- URL decoder ---------------------------------------------------------------------------------------


def _all_specs() -> list[params.Param]:
    """Every ``Param`` declared at module level anywhere in ``lab`` (one per name)."""
    found: dict[str, params.Param] = {}
    for info in pkgutil.walk_packages(lab.__path__, "lab."):
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            items = value if isinstance(value, (tuple, list)) else (value,)
            for item in items:
                if isinstance(item, params.Param):
                    found.setdefault(f"{info.name}.{item.name}", item)
    return list(found.values())


_HOSTILE_PARTS = ["EVIL", "[EVIL](https://evil.example)", "![EVIL](https://e.example/p.png)", "<img src=EVIL>",
                  "%", "\x00", "\n", ",", ",,", " ", "1e309", "-1e309", "nan", "-0", "0x10", "1_000", "１２",
                  "9" * 400, "\u202e", "true", "1", "0"]  # fmt: skip


def test_fuzz_url_decoder():
    specs = _all_specs()
    assert len(specs) >= 40, "the spec walk found the labs' settings"
    rng = random.Random(4)
    for case in range(3000):
        query, chosen = {}, []
        for p in rng.sample(specs, rng.randint(1, 6)):
            if p.name in query:  # two labs may use one name for different settings: one per link
                continue
            chosen.append(p)
            valid = p.encode(p.default)
            if p.kind in ("choice", "multi"):
                valid = ",".join(str(rng.choice(p.options)) for _ in range(rng.randint(1, 6)))
            raw = mutate(valid.encode(), rng, header=16).decode("utf-8", "replace")
            if rng.random() < 0.5:
                raw = raw + rng.choice(_HOSTILE_PARTS) * rng.randint(1, 3)
            query[p.name] = [raw, raw] if rng.random() < 0.1 else raw
        try:
            values, problems = params.from_query(chosen, query)
        except Exception as err:
            raise AssertionError(f"case {case}: {query!r} raised {type(err).__name__}: {err}") from err
        for p in chosen:
            assert p.validate(values[p.name]) == values[p.name], (case, p.name)
            if p.kind == "multi":
                assert len(set(values[p.name])) == len(values[p.name]) <= p.limit
        for problem in problems:
            assert "EVIL" not in problem and "evil.example" not in problem, (case, problem)


@pytest.mark.parametrize("seed", range(3))
def test_mutate_is_deterministic(seed):
    a = [mutate(b"0123456789" * 10, random.Random(seed)) for _ in range(5)]
    b = [mutate(b"0123456789" * 10, random.Random(seed)) for _ in range(5)]
    assert a == b
