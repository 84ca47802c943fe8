"""Hostile inputs from the "Safe to host publicly" issue, generated (never shipped).

Each function returns the bytes of one attack file, built by hand (struct +
zlib) so that no huge buffer exists in the generating process either.
:func:`corpus` maps ``{case: (loader, bytes)}`` for every case of the issue's
items 2, 8 and 9; ``tests/test_hostile_inputs.py`` feeds each one to its
loader in a memory-limited subprocess and ``tests/test_fuzz.py`` mutates them.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable, Iterator

import numpy as np
from PIL import Image

# --- PNG ------------------------------------------------------------------------------------------


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _zeros_stream(row: bytes, rows: int) -> bytes:
    """zlib of ``row`` repeated ``rows`` times, compressed a few MB at a time (no big buffer)."""
    comp = zlib.compressobj(1)  # fast; zeros still shrink ~200×
    per_chunk = max(1, (4 << 20) // max(1, len(row)))
    chunk, parts = row * per_chunk, []
    for start in range(0, rows, per_chunk):
        parts.append(comp.compress(chunk if start + per_chunk <= rows else row * (rows - start)))
    return b"".join(parts) + comp.flush()


def png(width: int, height: int, *, bit_depth: int = 8, color_type: int = 0, trns: bool = False) -> bytes:
    """A valid all-zero PNG; ``color_type`` 0 gray, 2 RGB, 3 palette, 4 gray+alpha, 6 RGBA."""
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[color_type]
    row = bytes(1 + (width * channels * bit_depth + 7) // 8)
    parts = [_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0))]
    if color_type == 3:
        parts.append(_chunk(b"PLTE", bytes(range(256)) * 3))
        if trns:
            parts.append(_chunk(b"tRNS", bytes([0, 255])))
    parts += [_chunk(b"IDAT", _zeros_stream(row, height)), _chunk(b"IEND", b"")]
    return b"\x89PNG\r\n\x1a\n" + b"".join(parts)


# --- TIFF -----------------------------------------------------------------------------------------

_SHORT, _LONG = 3, 4


def _ifd(entries: list[tuple[int, int, int]], next_ifd: int) -> bytes:
    """An IFD of ``(tag, type, value)`` entries, each with count 1 (values fit the 4-byte field)."""
    out = [struct.pack("<H", len(entries))]
    for tag, kind, value in sorted(entries):
        packed = struct.pack("<HI", value, 0)[:4] if kind == _SHORT else struct.pack("<I", value)
        out.append(struct.pack("<HHI", tag, kind, 1) + packed)
    out.append(struct.pack("<I", next_ifd))
    return b"".join(out)


def tiff(
    width: int,
    height: int,
    *,
    bits: int = 8,
    sample_format: int = 1,
    compressed: bool = True,
    strip: bytes | None = None,
) -> bytes:
    """A one-strip grayscale TIFF; ``sample_format`` 3 = float. Deflate-compressed zeros by default."""
    row = bytes(width * bits // 8)
    data = strip if strip is not None else (_zeros_stream(row, height) if compressed else row * height)
    offset = 8
    ifd_at = offset + len(data) + (len(data) & 1)
    entries = [
        (256, _LONG, width),
        (257, _LONG, height),
        (258, _SHORT, bits),
        (259, _SHORT, 8 if compressed else 1),  # 8: Adobe deflate
        (262, _SHORT, 1),  # BlackIsZero
        (273, _LONG, offset),
        (277, _SHORT, 1),
        (278, _LONG, height),  # one strip
        (279, _LONG, len(data)),
        (339, _SHORT, sample_format),
    ]
    return b"II*\x00" + struct.pack("<I", ifd_at) + data + b"\x00" * (len(data) & 1) + _ifd(entries, 0)


def pillow_tiff(width: int, height: int, *, mode: str = "F") -> bytes:
    """A deflated all-zero TIFF as Pillow (libtiff) writes it: strips of ~64 KB, as real writers use."""
    out = io.BytesIO()
    Image.new(mode, (width, height)).save(out, "TIFF", compression="tiff_adobe_deflate")
    return out.getvalue()


def tiff_pages(pages: int, side: int = 16) -> bytes:
    """A TIFF of ``pages`` small pages sharing one strip (Pillow's ``n_frames`` walks all of them)."""
    strip = bytes(side * side)
    first_ifd = 8 + len(strip)
    size = 2 + 10 * 12 + 4
    entries = [(256, _LONG, side), (257, _LONG, side), (258, _SHORT, 8), (259, _SHORT, 1),
               (262, _SHORT, 1), (273, _LONG, 8), (277, _SHORT, 1), (278, _LONG, side),
               (279, _LONG, len(strip)), (284, _SHORT, 1)]  # fmt: skip
    ifd = _ifd(entries, 0)[:-4]  # every page is the same but for its "next page" pointer
    nexts = [struct.pack("<I", first_ifd + (i + 1) * size if i + 1 < pages else 0) for i in range(pages)]
    return b"".join([b"II*\x00", struct.pack("<I", first_ifd), strip, *(ifd + n for n in nexts)])


def broken_tiffs() -> dict[str, bytes]:
    """TIFFs whose header lies: strips past the end, odd bit depths, unknown compression, loops."""
    good = tiff(64, 64, compressed=False)
    cases = {
        "tiff_truncated.tif": good[: len(good) // 3],
        "tiff_strip_past_end.tif": good[:8] + good[8 : 8 + 64 * 64][:100] + good[8 + 64 * 64 :],
        "tiff_bits_3.tif": tiff(64, 64, bits=3, compressed=False, strip=bytes(64 * 24)),
        "tiff_bits_64_int.tif": tiff(64, 64, bits=64, compressed=False, strip=bytes(64 * 64 * 8)),
        "tiff_float_16.tif": tiff(64, 64, bits=16, sample_format=3, compressed=False, strip=bytes(64 * 64 * 2)),
        "tiff_bad_deflate.tif": tiff(64, 64, strip=b"\x78\x9c" + bytes(range(200))),
    }
    # Unknown compression scheme and an IFD that points to itself.
    unknown = bytearray(tiff(64, 64, compressed=False))
    at = struct.unpack_from("<I", unknown, 4)[0]
    for i in range(struct.unpack_from("<H", unknown, at)[0]):
        if struct.unpack_from("<H", unknown, at + 2 + 12 * i)[0] == 259:
            struct.pack_into("<H", unknown, at + 2 + 12 * i + 8, 50_000)
    cases["tiff_unknown_compression.tif"] = bytes(unknown)
    loop = bytearray(tiff_pages(2))
    first = struct.unpack_from("<I", loop, 4)[0]
    struct.pack_into("<I", loop, first + 2 + 10 * 12, first)  # page 1's "next" is page 1
    cases["tiff_ifd_loop.tif"] = bytes(loop)
    return cases


# --- BMP, DDS, JPEG -------------------------------------------------------------------------------


def rle_bmp(width: int, height: int, *, rows: str = "eol", rle4: bool = False) -> bytes:
    """An RLE BMP (8-bit, or 4-bit with ``rle4``). ``rows``: ``eol`` (one pixel, then end-of-line,
    which Pillow's pure-Python decoder pads one pixel at a time: 4 bytes a row) or ``runs`` (runs of 255)."""
    if rows == "eol":
        body = b"\x01\x07\x00\x00" * height
    else:
        run = b"\xff\x07" * (width // 255) + (bytes([width % 255, 7]) if width % 255 else b"")
        body = (run + b"\x00\x00") * height
    body += b"\x00\x01"  # end of bitmap
    colours = 16 if rle4 else 256
    palette = b"".join(struct.pack("<BBBB", i, i, i, 0) for i in range(colours))
    offset = 14 + 40 + len(palette)
    info = struct.pack(
        "<IiiHHIIiiII", 40, width, height, 1, 4 if rle4 else 8, 2 if rle4 else 1, len(body), 2835, 2835, colours, 0
    )
    return b"BM" + struct.pack("<IHHI", offset + len(body), 0, 0, offset) + info + palette + body


def broken_dds() -> dict[str, bytes]:
    """DDS headers (a format we never decode) with nonsense sizes and pixel formats."""
    header = struct.pack("<7I", 124, 0x1007, 100_000, 100_000, 0, 0, 1) + bytes(44)
    pixel_format = struct.pack("<II4sIIIII", 32, 4, b"DXT1", 0, 0, 0, 0, 0)
    dxt = b"DDS " + header + pixel_format + bytes(20) + bytes(64)
    return {"dds_dxt1_huge.dds": dxt, "dds_truncated.dds": dxt[:60], "dds_named.png": dxt}


def big_jpeg(width: int, height: int, *, progressive: bool = False) -> bytes:
    """A flat gray JPEG of ``width``×``height`` (small on disk), encoded in horizontal strips."""
    out = io.BytesIO()
    Image.new("L", (width, height), 128).save(out, "JPEG", quality=50, progressive=progressive)
    return out.getvalue()


# --- WAV ------------------------------------------------------------------------------------------


def wav(*, sr: int = 16_000, bits: int = 16, channels: int = 1, tag: int = 1, data: bytes = b"", align=None) -> bytes:
    """A RIFF WAV with a hand-made ``fmt `` chunk (any field may lie)."""
    width = (bits + 7) // 8
    align = channels * width if align is None else align
    fmt = struct.pack("<HHIIHH", tag, channels, sr, sr * align, align, bits)
    body = b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WAVE" + body


def wav_fast(seconds: float = 9.5, sr: int = 2_100_000) -> bytes:
    """8-bit noise at 2.1 MHz: ≈ 20 MB, short enough in seconds, huge to resample."""
    n = int(seconds * sr)
    samples = np.random.default_rng(0).integers(0, 256, n, dtype=np.uint8).tobytes()
    return wav(sr=sr, bits=8, data=samples)


# --- CSV ------------------------------------------------------------------------------------------


def csv_wide_row(columns: int = 2_000_000) -> bytes:
    """A valid header and then one row with millions of fields (rows used to be built first)."""
    return b"x1,x2,label\n1,2,0\n" + b"," * columns + b"\n3,4,1\n"


def csv_blank_lines(lines: int = 5_000_000) -> bytes:
    return b"x1,x2,label\n" + b"\n" * lines + b"1,2,0\n3,4,1\n"


# --- the corpus -----------------------------------------------------------------------------------

Loader = str  # "image" | "wav" | "csv"


def corpus() -> Iterator[tuple[str, Loader, Callable[[], bytes]]]:
    """``(case, loader, make_bytes)`` for every hostile file of the issue (items 2, 8 and 9)."""
    # Item 2: small files that decode huge (at the sizes, and just under our pixel cap).
    yield "png_palette_trns_7745.png", "image", lambda: png(7745, 7745, color_type=3, trns=True)
    yield "png_palette_trns_6300.png", "image", lambda: png(6300, 6300, color_type=3, trns=True)
    yield "png_gray16_7745.png", "image", lambda: png(7745, 7745, bit_depth=16)
    yield "png_gray16_6300.png", "image", lambda: png(6300, 6300, bit_depth=16)
    yield "png_rgba16_6300.png", "image", lambda: png(6300, 6300, bit_depth=16, color_type=6)
    yield "png_1bit_6300.png", "image", lambda: png(6300, 6300, bit_depth=1)
    yield "tiff_float_7745.tif", "image", lambda: tiff(7745, 7745, bits=32, sample_format=3)
    yield "tiff_float_6300.tif", "image", lambda: tiff(6300, 6300, bits=32, sample_format=3)
    yield "tiff_float_6300_strips.tif", "image", lambda: pillow_tiff(6300, 6300, mode="F")
    yield "tiff_48x1048616.tif", "image", lambda: tiff(48, 1_048_616)
    yield "tiff_16x1048616.tif", "image", lambda: tiff(16, 1_048_616)
    yield "bmp_rle_7745.bmp", "image", lambda: rle_bmp(7745, 7745)
    yield "bmp_rle_2000.bmp", "image", lambda: rle_bmp(2000, 2000)
    yield "bmp_rle_1000.bmp", "image", lambda: rle_bmp(1000, 1000)
    yield "bmp_rle4_1000.bmp", "image", lambda: rle_bmp(1000, 1000, rle4=True)
    yield "bmp_rle_1000_runs.bmp", "image", lambda: rle_bmp(1000, 1000, rows="runs")
    yield "tiff_200000_pages.tif", "image", lambda: tiff_pages(200_000)
    yield "jpeg_7900x7900.jpg", "image", lambda: big_jpeg(7900, 7900)
    yield "jpeg_progressive_7900x7900.jpg", "image", lambda: big_jpeg(7900, 7900, progressive=True)
    # Item 8: broken TIFF and DDS files.
    for case, data in {**broken_tiffs(), **broken_dds()}.items():
        yield case, "image", (lambda d=data: d)
    # Item 8: a WAV with 0-bit samples; CSVs that are only a BOM, only Unicode spaces, a huge field.
    yield "wav_0_bit.wav", "wav", lambda: wav(bits=0, data=bytes(1000))
    yield "wav_0_bit_align_1.wav", "wav", lambda: wav(bits=0, align=1, data=bytes(8000))
    yield "wav_65535_channels.wav", "wav", lambda: wav(bits=8, channels=65535, data=bytes(65535 * 300))
    yield "csv_bom_only.csv", "csv", lambda: b"\xef\xbb\xbf"
    yield "csv_unicode_spaces.csv", "csv", lambda: "\u3000\u00a0\u2003\n\u2028\u00a0\n".encode()
    yield "csv_bom_and_spaces.csv", "csv", lambda: b"\xef\xbb\xbf" + "\u00a0\u00a0".encode()
    yield "csv_field_200kb.csv", "csv", lambda: b"x1,x2,label\n" + b"1" * 200_000 + b",2,0\n3,4,1\n"
    yield "csv_quoted_field_200kb.csv", "csv", lambda: b'x1,x2,label\n"' + b"1" * 200_000 + b'",2,0\n3,4,1\n'
    # Item 9: uploads that cost a lot per click.
    yield "wav_2_1mhz_20mb.wav", "wav", wav_fast
    yield "csv_wide_row.csv", "csv", csv_wide_row
    yield "csv_blank_lines.csv", "csv", csv_blank_lines
    yield "csv_many_rows.csv", "csv", lambda: b"x1,x2,label\n" + b"1,2,0\n" * 3_000_000
