"""Safe image input: uploaded bytes → a validated RGB image, or a clear error.

Every page that takes a photo goes through :func:`load_image`. It never lets a
Pillow traceback reach the student: anything wrong becomes an
:class:`ImageInputError` whose message says what happened and what to do.

What it handles (see ``tests/test_images.py`` and ``tests/test_hostile_inputs.py``):

- empty files, files that are not images, truncated or corrupt files;
- small files that decode huge (a 7 KB paletted PNG of 7745², a 4 KB TIFF of
  48×1,048,616): format, size, aspect and shortest side are checked from the
  *header*, before any pixel is decoded; only :data:`SUPPORTED_FORMATS` are
  tried (``Image.open(formats=…)``), so DDS, PSD, EPS… never reach a decoder;
- compressed TIFFs stored in huge strips (libtiff decodes a strip into a buffer
  beside the image) are refused from the header (:data:`MAX_TIFF_BLOCK_BYTES`);
- slow decoders: compressed (RLE) BMPs over :data:`RLE_MAX_PIXELS` are refused
  (Pillow decodes them in pure Python); multi-page files are asked
  ``is_animated``, never ``n_frames`` (which walks every page);
- memory: large files are reduced *before* any mode conversion (JPEG ``draft``
  decodes at 1/2, 1/4 or 1/8 scale; ``reduce()`` in the file's own mode, in
  bands for modes it does not take), and high bit depth is scaled in float32;
- untrusted uploads are decoded in a memory- and time-limited worker process
  (:mod:`lab.safe_decode`), so a decoder bug cannot take the server down;
- EXIF orientation (phone photos come out upright);
- modes L, LA, P (with transparency), RGBA, CMYK, I;16 (16-bit), I, F, 1, and
  animated images (the first frame is used);
- images too small for a lab (the message states the minimum);
- very large photos, downscaled to a working size that the result states;
- a file whose name lies about its format (the content decides, not the name).

Sample photos shipped in ``assets/`` are listed by :func:`sample_images`.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

ASSETS = Path(__file__).resolve().parent.parent / "assets"

#: Formats we decode. Anything else is refused with a list of these (and never handed to a decoder).
SUPPORTED_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP")
#: Extensions offered to ``st.file_uploader`` (it checks names only; we check content).
UPLOAD_TYPES = ["png", "jpg", "jpeg", "gif", "bmp", "tif", "tiff", "webp"]
#: Refuse images with more pixels than this, from the header, before decoding (a 40 MP camera
#: photo, e.g. 7728×5152, fits). Pillow holds at most 4 bytes a pixel before we reduce, so one
#: decode needs at most ≈ 160 MB: two at once fit a 1–2 GB demo server.
MAX_PIXELS = 40_000_000
#: JPEGs are decoded at 1/2–1/8 scale when large (``draft``), so they may have more pixels
#: (a 50 MP phone photo, 8160×6120); progressive ones keep ≈ 2 bytes a pixel of coefficients.
MAX_JPEG_PIXELS = 64_000_000
#: Compressed (RLE) BMPs are decoded in pure Python by Pillow (≈ 1 CPU-s per MP): refuse larger ones.
RLE_MAX_PIXELS = 1_000_000
#: Compressed TIFFs are decoded by libtiff one strip (or tile) at a time into a buffer of its own
#: beside the image: refuse a file whose strip would need more than this (a one-strip 40 MP float
#: TIFF would need 160 MB twice). Real writers use strips of kilobytes.
MAX_TIFF_BLOCK_BYTES = 64 * 1024 * 1024
#: Refuse files larger than this many bytes (the uploader's own limit is 20 MB).
MAX_BYTES = 50 * 1024 * 1024
#: Default working size: the longer side after downscaling.
WORKING_SIDE = 1024
#: Refuse panoramas more elongated than this (they cannot be shown or processed sensibly).
MAX_ASPECT = 100

# EXIF orientation → the transpose that makes the photo upright (as ``ImageOps.exif_transpose``).
_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# Modes that ``Image.reduce`` refuses, and what they are converted to (band by band) before reducing.
_REDUCE_VIA = {"1": "L", "P": "RGB", "PA": "RGBA", "I;16": "I", "I;16L": "I", "I;16B": "I", "I;16N": "I"}
#: Modes whose ``reduce`` makes a whole premultiplied copy first (Pillow converts RGBA → RGBa), so they go by band too.
_REDUCE_COPIES = ("RGBA", "LA")
_BAND_BYTES = 16 * 1024 * 1024


class ImageInputError(ValueError):
    """An uploaded file cannot be used as an image; ``str(err)`` is for the student."""


@dataclass
class LoadedImage:
    """A validated RGB photo plus what was done to it on the way in."""

    image: Image.Image  # mode "RGB", at the working size
    name: str  # the file name as uploaded (or the sample's name)
    format: str  # the format found in the content, e.g. "JPEG"
    original_size: tuple[int, int]  # (width, height) as stored in the file
    notes: list[str] = field(default_factory=list)  # what was changed, in plain words

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) after loading, i.e. the working size."""
        return self.image.size

    def to_array(self) -> np.ndarray:
        """The image as a ``(H, W, 3)`` uint8 array."""
        return np.asarray(self.image)


@dataclass(frozen=True)
class Sample:
    """A bundled photo in ``assets/``."""

    name: str  # short label shown in the picker
    path: Path
    caption: str  # what it shows, and its licence


SAMPLES: tuple[Sample, ...] = (
    Sample("cat", ASSETS / "cat.jpg", "Chelsea the cat — CC0, Stéfan van der Walt"),
    Sample("astronaut", ASSETS / "astronaut.jpg", "Astronaut Eileen Collins — public domain, NASA"),
    Sample("coffee", ASSETS / "coffee.jpg", "A cup of coffee — CC0, Rachel Michetti"),
    Sample("rocket", ASSETS / "rocket.jpg", "Falcon 9 launch — public domain, SpaceX"),
    Sample("temple", ASSETS / "temple.jpg", "Temple in China — CC-BY 2.0, danielbuechele"),
    Sample("flower", ASSETS / "flower.jpg", "Flower — CC-BY 2.0, vultilion"),
)


def sample_images() -> dict[str, Sample]:
    """The bundled sample photos by name (see ``assets/README.md`` for provenance)."""
    return {s.name: s for s in SAMPLES}


def load_sample(name: str, *, min_side: int = 16, max_side: int = WORKING_SIDE) -> LoadedImage:
    """Load a bundled sample through the same validation as an upload (in this process: it is ours)."""
    sample = sample_images()[name]
    return load_image(sample.path.read_bytes(), sample.path.name, min_side=min_side, max_side=max_side, isolate=False)


def load_image(
    data: bytes,
    name: str = "upload",
    *,
    min_side: int = 16,
    max_side: int = WORKING_SIDE,
    max_pixels: int = MAX_PIXELS,
    isolate: bool = True,
) -> LoadedImage:
    """Decode ``data`` into an upright RGB image of at most ``max_side`` pixels a side.

    Raises :class:`ImageInputError` with a student-readable message when the
    bytes are not a usable image, are too large to decode safely, or are smaller
    than ``min_side`` pixels on a side. With ``isolate`` (the default) the
    decode runs in a memory- and time-limited worker process
    (:func:`lab.safe_decode.decode_image`); ``isolate=False`` decodes here
    (trusted files, and the worker itself).
    """
    if data is None or len(data) == 0:
        raise ImageInputError(f"“{name}” is empty (0 bytes). Please choose a photo file.")
    if len(data) > MAX_BYTES:
        raise ImageInputError(
            f"“{name}” is {len(data) / 1e6:.0f} MB; the limit is {MAX_BYTES / 1e6:.0f} MB. "
            "Please upload a smaller photo."
        )
    if isolate:
        from lab import safe_decode

        return safe_decode.decode_image(data, name, min_side=min_side, max_side=max_side, max_pixels=max_pixels)
    return decode_image(data, name, min_side=min_side, max_side=max_side, max_pixels=max_pixels)


def decode_image(
    data: bytes, name: str, *, min_side: int = 16, max_side: int = WORKING_SIDE, max_pixels: int = MAX_PIXELS
) -> LoadedImage:
    """The decode itself, in this process: header checks, early downscaling, RGB conversion.

    Raises :class:`ImageInputError` for everything a file can do wrong (the
    worker process turns anything else, e.g. ``MemoryError``, into one too).
    """
    notes: list[str] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=SUPPORTED_FORMATS)  # reads the header only
            fmt = img.format or "unknown"
            width, height = img.size
            _check_header(name, img, fmt, width, height, max_pixels, min_side)
            _note_misnamed(name, fmt, notes)
            if getattr(img, "is_animated", False):  # never n_frames: it walks every frame/page
                img.seek(0)
                notes.append("It is animated (or has several pages); the first frame is used.")
            orientation = _exif_orientation(img)
            target = _target_size(width, height, min_side, max_side)
            if fmt == "JPEG" and target[0] * 2 <= width:
                img.draft(None, target)  # decode at 1/2, 1/4 or 1/8 scale, never below the working size
            img.load()  # the actual decode: truncation and corruption show up here
            sixteen = img.mode.startswith("I;16")
            img = _reduce(img, target)
            rgb = _to_rgb(img, notes, sixteen=sixteen)
            upright = (width, height)
            if orientation in _ORIENTATION:
                rgb = rgb.transpose(_ORIENTATION[orientation])
                notes.append("Rotated upright using the photo's EXIF orientation.")
                if orientation >= 5:  # a quarter turn: width and height swap
                    upright = (height, width)
    except ImageInputError:
        raise
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise ImageInputError(
            f"“{name}” is too large to open safely (more than {max_pixels / 1e6:.0f} megapixels)."
        ) from None
    except UnidentifiedImageError:
        raise ImageInputError(
            f"“{name}” is not an image we can read. Please upload a photo ({', '.join(SUPPORTED_FORMATS)})."
        ) from None
    except MemoryError:
        raise ImageInputError(f"“{name}” needs too much memory to decode. Please upload a smaller photo.") from None
    except Exception as err:  # any decoder failure on hostile bytes is "damaged", never a traceback
        if isinstance(err, OSError) and str(err).endswith("error -9"):  # Pillow's IMAGING_CODEC_MEMORY
            raise ImageInputError(f"“{name}” needs too much memory to decode. Please upload a smaller photo.") from None
        # Pillow reports truncated/corrupt data as OSError ("image file is truncated",
        # "broken data stream"), SyntaxError (bad PNG chunks), ValueError, and broken
        # TIFFs also as struct.error, KeyError, TypeError, ZeroDivisionError…
        raise ImageInputError(
            f"“{name}” looks damaged or cut short, so it cannot be decoded ({_short(err)}). "
            "Try saving or exporting the photo again."
        ) from None
    return _fit(rgb, name, fmt, (width, height), upright, notes, min_side, max_side)


def _check_header(
    name: str, img: Image.Image, fmt: str, width: int, height: int, max_pixels: int, min_side: int
) -> None:
    """Everything that can be refused from the header alone, before a pixel is decoded."""
    if fmt not in SUPPORTED_FORMATS:
        raise ImageInputError(f"“{name}” is a {fmt} image; please upload one of {', '.join(SUPPORTED_FORMATS)}.")
    limit = max(max_pixels, MAX_JPEG_PIXELS) if fmt == "JPEG" and max_pixels == MAX_PIXELS else max_pixels
    if width * height > limit:
        raise ImageInputError(
            f"“{name}” is {width}×{height} = {width * height / 1e6:.0f} megapixels, more than the "
            f"{limit / 1e6:.0f} MP we open safely. Please upload a smaller photo."
        )
    short, long = min(width, height), max(width, height)
    if short < min_side:
        raise ImageInputError(
            f"“{name}” is only {width}×{height} pixels; this lab needs at least "
            f"{min_side}×{min_side}. Please upload a larger photo."
        )
    if long / short > MAX_ASPECT:
        raise ImageInputError(
            f"“{name}” is {width}×{height}, more than {MAX_ASPECT}:1 — too elongated to show. Please crop it first."
        )
    block = _tiff_block_bytes(img) if fmt == "TIFF" else 0
    if block > MAX_TIFF_BLOCK_BYTES:
        raise ImageInputError(
            f"“{name}” is a compressed TIFF stored in blocks of {block / 1e6:.0f} MB, more than "
            f"the {MAX_TIFF_BLOCK_BYTES / 1e6:.0f} MB we decode at once. Please save it as PNG or JPEG."
        )
    if fmt == "BMP" and img.info.get("compression") in (1, 2) and width * height > RLE_MAX_PIXELS:
        raise ImageInputError(
            f"“{name}” is a compressed (RLE) BMP of {width * height / 1e6:.1f} megapixels; we open those only up to "
            f"{RLE_MAX_PIXELS / 1e6:.0f} MP (they decode slowly). Please save it as PNG or JPEG."
        )


def _tiff_block_bytes(img: Image.Image) -> int:
    """Bytes of one decoded strip or tile of a compressed TIFF (0 for uncompressed: Pillow streams those)."""
    if getattr(img, "_compression", "raw") == "raw":
        return 0
    tags = img.tag_v2
    per_sample = tags.get(258, 1)
    per_sample = per_sample if isinstance(per_sample, tuple) else (per_sample,)
    samples = max(int(tags.get(277, 1)), len(per_sample))
    bits = samples * max(int(b) for b in per_sample)  # per pixel, all samples
    if 322 in tags and 323 in tags:  # TileWidth, TileLength
        return int(tags[322]) * int(tags[323]) * bits // 8
    rows = min(int(tags.get(278, img.size[1])), img.size[1])  # RowsPerStrip (default: one strip)
    return rows * img.size[0] * bits // 8


def _note_misnamed(name: str, fmt: str, notes: list[str]) -> None:
    ext = Path(name).suffix.lower().lstrip(".")
    expected = {
        "jpg": "JPEG",
        "jpeg": "JPEG",
        "png": "PNG",
        "gif": "GIF",
        "bmp": "BMP",
        "tif": "TIFF",
        "tiff": "TIFF",
        "webp": "WEBP",
    }.get(ext)
    if expected and expected != fmt:
        notes.append(f"The file is named .{ext} but is really a {fmt}; it was read as {fmt}.")


def _exif_orientation(img: Image.Image) -> int | None:
    try:
        return img.getexif().get(0x0112)
    except Exception:  # a broken EXIF block only loses the orientation
        return None


def _target_size(width: int, height: int, min_side: int, max_side: int) -> tuple[int, int]:
    """The working size: the long side shrunk to ``max_side``, the short side never below ``min_side``."""
    short, long = min(width, height), max(width, height)
    scale = min(1.0, max(max_side / long, min_side / short))
    if scale >= 1.0:
        return width, height
    return max(1, round(width * scale)), max(1, round(height * scale))


def _reduce(img: Image.Image, target: tuple[int, int]) -> Image.Image:
    """Shrink by a whole factor in the file's own mode while at least 2× the target remains.

    ``reduce`` box-averages without converting first, so a 7745² paletted PNG
    never exists as a 7745² RGBA copy. Modes ``reduce`` refuses are converted
    band by band (bands of ~16 MB), so the copy is never whole either; so are
    RGBA and LA, whose ``reduce`` would first make a whole premultiplied copy.
    """
    factor = min(img.size[0] // (2 * target[0]), img.size[1] // (2 * target[1]))
    if factor < 2:
        return img
    via = _REDUCE_VIA.get(img.mode)
    if via == "RGB" and img.mode == "P" and "transparency" in img.info:
        via = "RGBA"
    if via is None and img.mode not in _REDUCE_COPIES:
        return img.reduce(factor)
    via = via or img.mode
    width, height = img.size
    out = Image.new(via, (-(-width // factor), -(-height // factor)))
    rows = max(1, _BAND_BYTES // (4 * width))  # a band of at most ~16 MB in 32-bit pixels
    band = factor * max(1, rows // factor)  # a multiple of the factor
    for top in range(0, height, band):
        part = img.crop((0, top, width, min(height, top + band)))
        out.paste(part.convert(via).reduce(factor), (0, top // factor))
    return out


def _to_rgb(img: Image.Image, notes: list[str], *, sixteen: bool = False) -> Image.Image:
    """Any Pillow mode → RGB; transparency is composited over white; high bit depth in float32."""
    mode = img.mode
    if mode == "RGB":
        return img
    if mode == "P" and "transparency" not in img.info:
        return img.convert("RGB")
    if mode in ("P", "PA"):
        img = img.convert("RGBA")
        mode = "RGBA"
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(img, dtype=np.float32)
        finite = arr[np.isfinite(arr)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
        if sixteen or mode.startswith("I;16"):
            lo, hi = 0.0, 65535.0  # keep the true brightness of 16-bit files
        arr = np.nan_to_num(arr, nan=lo, posinf=hi, neginf=lo)
        scaled = np.zeros_like(arr) if hi <= lo else (arr - lo) * np.float32(255.0 / (hi - lo))
        notes.append(f"Converted from {'I;16' if sixteen else mode} (high bit depth) to 8-bit.")
        return Image.fromarray(np.clip(scaled + 0.5, 0, 255).astype(np.uint8)).convert("RGB")
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        notes.append("Transparent areas were filled with white.")
        return Image.alpha_composite(background, rgba).convert("RGB")
    if mode == "CMYK":
        notes.append("Converted from CMYK (print colours) to RGB.")
    return img.convert("RGB")


def _fit(
    img: Image.Image,
    name: str,
    fmt: str,
    original_size: tuple[int, int],
    upright: tuple[int, int],
    notes: list[str],
    min_side: int,
    max_side: int,
) -> LoadedImage:
    """Resize (LANCZOS) to the working size of the ``upright`` original; say so when it shrank."""
    target = _target_size(*upright, min_side, max_side)
    if img.size != target:
        img = img.resize(target, Image.Resampling.LANCZOS, reducing_gap=3.0)
    if target != upright:
        why = (
            f"the short side is kept at {min(target)} px, so the long side exceeds the usual {max_side} px"
            if max(target) > max_side
            else f"the working size: at most {max_side} px a side"
        )
        notes.append(f"Downscaled from {upright[0]}×{upright[1]} to {target[0]}×{target[1]} ({why}).")
    return LoadedImage(img, name, fmt, original_size, notes)


def _short(err: BaseException) -> str:
    text = str(err).strip() or type(err).__name__
    return text if len(text) < 80 else text[:77] + "…"
