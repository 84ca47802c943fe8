"""The bad-input list of the foundation issue, as real files (generated, not committed).

``make_files(folder)`` writes each case and returns ``{case: path}``. Unit tests
feed them to ``lab.images.load_image``; browser tests upload them.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
CAT = ROOT / "assets" / "cat.jpg"


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def huge_png(width: int = 20_000, height: int = 20_000) -> bytes:
    """A valid, all-black 1-bit PNG of width×height (~50 KB on disk, 400 MP decoded)."""
    row = b"\x00" + bytes((width + 7) // 8)  # filter byte + packed bits
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit grayscale
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", data) + _png_chunk(b"IEND", b"")


def exif_rotated_jpeg() -> bytes:
    """A 64×32 landscape JPEG, red on the left half, stored with EXIF orientation 6.

    Orientation 6 means "rotate 90° clockwise to display": the upright image is
    32×64 (portrait) with the red half on top.
    """
    img = Image.new("RGB", (64, 32), (0, 0, 255))
    img.paste((255, 0, 0), (0, 0, 32, 32))
    exif = Image.Exif()
    exif[0x0112] = 6
    out = io.BytesIO()
    img.save(out, "JPEG", quality=95, exif=exif.tobytes())
    return out.getvalue()


def _encode(img: Image.Image, fmt: str, **kw) -> bytes:
    out = io.BytesIO()
    img.save(out, fmt, **kw)
    return out.getvalue()


def make_files(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    cat = Image.open(CAT).convert("RGB")
    frames = [Image.new("RGB", (40, 30), (i * 100, 50, 200 - i * 80)) for i in range(3)]
    animated = io.BytesIO()
    frames[0].save(animated, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    gray16 = Image.frombytes("I;16", (48, 40), bytes(range(256)) * 15)  # 48*40*2 bytes
    rgba = cat.convert("RGBA")
    rgba.putalpha(128)
    cases = {
        "empty.png": b"",
        "text_renamed.png": b"This is a text file, not a picture.\n" * 20,
        "truncated.jpg": CAT.read_bytes()[: CAT.stat().st_size // 2],
        "huge_20000x20000.png": huge_png(),
        "tiny_1x1.png": _encode(Image.new("RGB", (1, 1), (200, 10, 10)), "PNG"),
        "cmyk.jpg": _encode(cat.convert("CMYK"), "JPEG", quality=90),
        "gray16.png": _encode(gray16, "PNG"),
        "rgba.png": _encode(rgba, "PNG"),
        "animated.gif": animated.getvalue(),
        "exif_rotated.jpg": exif_rotated_jpeg(),
        "panorama_8000x100.png": _encode(Image.new("RGB", (8000, 100), (30, 120, 200)), "PNG"),
        "png_named.jpg": _encode(cat, "PNG"),
    }
    paths = {}
    for name, data in cases.items():
        path = folder / name
        path.write_bytes(data)
        paths[name] = path
    return paths


#: Files that must be refused with ImageInputError (the rest must load).
REFUSED = {"empty.png", "text_renamed.png", "truncated.jpg", "huge_20000x20000.png", "tiny_1x1.png"}
