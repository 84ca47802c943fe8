"""Safe image input: uploaded bytes → a validated RGB image, or a clear error.

Every page that takes a photo goes through :func:`load_image`. It never lets a
Pillow traceback reach the student: anything wrong becomes an
:class:`ImageInputError` whose message says what happened and what to do.

What it handles (see ``tests/test_images.py`` for the whole list):

- empty files, files that are not images, truncated or corrupt files;
- decompression bombs: the pixel count is checked from the header *before*
  decoding, and Pillow's ``DecompressionBombWarning`` is raised as an error;
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
from PIL import Image, ImageOps, UnidentifiedImageError

ASSETS = Path(__file__).resolve().parent.parent / "assets"

#: Formats we decode. Anything else is refused with a list of these.
SUPPORTED_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP")
#: Extensions offered to ``st.file_uploader`` (it checks names only; we check content).
UPLOAD_TYPES = ["png", "jpg", "jpeg", "gif", "bmp", "tif", "tiff", "webp"]
#: Refuse images with more pixels than this before decoding them (≈ a 60 MP photo).
MAX_PIXELS = 60_000_000
#: Refuse files larger than this many bytes (the uploader's own limit is 20 MB).
MAX_BYTES = 50 * 1024 * 1024
#: Default working size: the longer side after downscaling.
WORKING_SIDE = 1024
#: Refuse panoramas more elongated than this (they cannot be shown or processed sensibly).
MAX_ASPECT = 100


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
    """Load a bundled sample through the same validation as an upload."""
    sample = sample_images()[name]
    return load_image(sample.path.read_bytes(), sample.path.name, min_side=min_side, max_side=max_side)


def load_image(
    data: bytes,
    name: str = "upload",
    *,
    min_side: int = 16,
    max_side: int = WORKING_SIDE,
    max_pixels: int = MAX_PIXELS,
) -> LoadedImage:
    """Decode ``data`` into an upright RGB image of at most ``max_side`` pixels a side.

    Raises :class:`ImageInputError` with a student-readable message when the
    bytes are not a usable image, are too large to decode safely, or are smaller
    than ``min_side`` pixels on a side.
    """
    if data is None or len(data) == 0:
        raise ImageInputError(f"“{name}” is empty (0 bytes). Please choose a photo file.")
    if len(data) > MAX_BYTES:
        raise ImageInputError(
            f"“{name}” is {len(data) / 1e6:.0f} MB; the limit is {MAX_BYTES / 1e6:.0f} MB. "
            "Please upload a smaller photo."
        )
    notes: list[str] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))  # reads the header only
            fmt = img.format or "unknown"
            width, height = img.size
            _check_header(name, fmt, width, height, max_pixels)
            _note_misnamed(name, fmt, notes)
            frames = getattr(img, "n_frames", 1)
            if frames > 1:
                img.seek(0)
                notes.append(f"It is animated ({frames} frames); the first frame is used.")
            img.load()  # the actual decode: truncation and corruption show up here
            if _exif_orientation(img) not in (None, 1):
                img = ImageOps.exif_transpose(img)
                notes.append("Rotated upright using the photo's EXIF orientation.")
            rgb = _to_rgb(img, notes)
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
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, MemoryError) as err:
        # Pillow reports truncated/corrupt data as OSError ("image file is truncated",
        # "broken data stream"), SyntaxError (bad PNG chunks) or ValueError.
        raise ImageInputError(
            f"“{name}” looks damaged or cut short, so it cannot be decoded ({_short(err)}). "
            "Try saving or exporting the photo again."
        ) from None
    return _fit(rgb, name, fmt, (width, height), notes, min_side, max_side)


def _check_header(name: str, fmt: str, width: int, height: int, max_pixels: int) -> None:
    if fmt not in SUPPORTED_FORMATS:
        raise ImageInputError(f"“{name}” is a {fmt} image; please upload one of {', '.join(SUPPORTED_FORMATS)}.")
    if width * height > max_pixels:
        raise ImageInputError(
            f"“{name}” is {width}×{height} = {width * height / 1e6:.0f} megapixels, more than the "
            f"{max_pixels / 1e6:.0f} MP we open safely. Please upload a smaller photo."
        )


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
    except Exception:
        return None


def _to_rgb(img: Image.Image, notes: list[str]) -> Image.Image:
    """Any Pillow mode → RGB; transparency is composited over white."""
    mode = img.mode
    if mode == "RGB":
        return img
    if mode == "P" and "transparency" not in img.info:
        return img.convert("RGB")
    if mode in ("P", "PA"):
        img = img.convert("RGBA")
        mode = "RGBA"
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        if mode.startswith("I;16"):
            lo, hi = 0.0, 65535.0  # keep the true brightness of 16-bit files
        scaled = np.zeros_like(arr) if hi <= lo else (arr - lo) / (hi - lo) * 255.0
        notes.append(f"Converted from {mode} (high bit depth) to 8-bit.")
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
    notes: list[str],
    min_side: int,
    max_side: int,
) -> LoadedImage:
    width, height = img.size
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
    # Shrink the long side to max_side, but never the short side below min_side
    # (a 8000×100 panorama keeps a usable height).
    scale = min(1.0, max(max_side / long, min_side / short))
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        img = img.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
        notes.append(
            f"Downscaled from {width}×{height} to {size[0]}×{size[1]} (the working size: at most {max_side} px a side)."
        )
    return LoadedImage(img, name, fmt, original_size, notes)


def _short(err: BaseException) -> str:
    text = str(err).strip() or type(err).__name__
    return text if len(text) < 80 else text[:77] + "…"
