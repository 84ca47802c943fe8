"""lab.images: every case of the foundation issue's bad-input list, plus the samples."""

from __future__ import annotations

import io
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lab import images
from lab.images import ImageInputError, load_image
from tests import hostile_files as hostile
from tests.bad_images import REFUSED, huge_png, make_files


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return make_files(tmp_path_factory.mktemp("bad"))


@pytest.mark.parametrize(
    "case, words",
    [
        ("empty.png", "empty"),
        ("text_renamed.png", "not an image"),
        ("truncated.jpg", "damaged or cut short"),
        ("huge_20000x20000.png", "too large"),
        ("tiny_1x1.png", "at least 16×16"),
    ],
)
def test_bad_files_raise_a_clear_error(files, case, words):
    with pytest.raises(ImageInputError) as err:
        load_image(files[case].read_bytes(), case)
    message = str(err.value)
    assert words in message
    assert case in message  # says which file
    assert "Traceback" not in message and "PIL" not in message


@pytest.mark.parametrize("case", ["cmyk.jpg", "gray16.png", "rgba.png", "animated.gif", "exif_rotated.jpg",
                                  "panorama_8000x100.png", "png_named.jpg"])  # fmt: skip
def test_odd_files_load_as_sane_rgb(files, case):
    loaded = load_image(files[case].read_bytes(), case)
    assert loaded.image.mode == "RGB"
    arr = loaded.to_array()
    assert arr.dtype == np.uint8 and arr.ndim == 3 and arr.shape[2] == 3
    assert min(loaded.size) >= 16 and max(loaded.size) <= 1600
    assert loaded.notes, "every conversion is explained to the student"


def test_every_listed_case_is_covered(files):
    assert set(files) >= REFUSED
    assert len(files) == 12


def test_exif_orientation_6_is_rotated_upright(files):
    loaded = load_image(files["exif_rotated.jpg"].read_bytes(), "exif.jpg")
    assert loaded.size == (32, 64)  # stored 64×32 landscape → upright portrait
    arr = loaded.to_array().astype(int)
    assert arr[5, 16, 0] > 200 and arr[5, 16, 2] < 60  # red half on top
    assert arr[58, 16, 2] > 200 and arr[58, 16, 0] < 60  # blue half below


def test_cmyk_colours_survive(files):
    loaded = load_image(files["cmyk.jpg"].read_bytes(), "cmyk.jpg")
    reference = np.asarray(Image.open(images.ASSETS / "cat.jpg").convert("RGB"), dtype=float)
    assert np.abs(loaded.to_array().astype(float) - reference).mean() < 12


def test_16_bit_keeps_its_brightness(files):
    raw = np.asarray(Image.open(files["gray16.png"]), dtype=float)
    loaded = load_image(files["gray16.png"].read_bytes(), "g16.png").to_array()[..., 0].astype(float)
    np.testing.assert_allclose(loaded, raw / 65535 * 255, atol=1.0)


def test_rgba_is_composited_over_white():
    img = Image.new("RGBA", (20, 20), (0, 0, 0, 0))  # fully transparent black
    img.paste((255, 0, 0, 255), (0, 0, 10, 20))  # opaque red left half
    out = io.BytesIO()
    img.save(out, "PNG")
    arr = load_image(out.getvalue(), "a.png").to_array()
    assert tuple(arr[5, 2]) == (255, 0, 0)
    assert tuple(arr[5, 15]) == (255, 255, 255)


def test_animated_gif_uses_the_first_frame(files):
    loaded = load_image(files["animated.gif"].read_bytes(), "anim.gif")
    assert "first frame is used" in " ".join(loaded.notes)
    assert abs(int(loaded.to_array()[0, 0, 2]) - 200) <= 8  # first frame's blue


def test_misnamed_png_is_read_by_content(files):
    loaded = load_image(files["png_named.jpg"].read_bytes(), "png_named.jpg")
    assert loaded.format == "PNG"
    assert "really a PNG" in loaded.notes[0]


def test_large_photo_is_downscaled_to_the_working_size():
    big = io.BytesIO()
    Image.new("RGB", (4000, 3000), (10, 20, 30)).save(big, "JPEG")
    loaded = load_image(big.getvalue(), "big.jpg", max_side=800)
    assert loaded.size == (800, 600)
    assert loaded.original_size == (4000, 3000)
    assert "800×600" in loaded.notes[-1]


def test_panorama_keeps_a_usable_short_side(files):
    loaded = load_image(files["panorama_8000x100.png"].read_bytes(), "pano.png", min_side=32, max_side=1024)
    assert loaded.size[1] == 32


def test_min_side_is_stated():
    small = io.BytesIO()
    Image.new("RGB", (40, 40)).save(small, "PNG")
    with pytest.raises(ImageInputError, match="at least 64×64"):
        load_image(small.getvalue(), "s.png", min_side=64)


def test_pixel_limit_is_checked_before_decoding():
    # 10000×10000 = 100 MP is below Pillow's own bomb error but above our limit.
    with pytest.raises(ImageInputError, match="megapixels"):
        load_image(huge_png(10_000, 10_000), "big.png")


def test_decompression_bomb_warning_is_an_error_not_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any leaked warning would fail the test
        with pytest.raises(ImageInputError):
            load_image(huge_png(12_000, 12_000), "bomb.png", max_pixels=10**9)


def test_samples_all_load_and_are_real_photos():
    samples = images.sample_images()
    assert len(samples) >= 5
    for name in samples:
        loaded = images.load_sample(name)
        assert loaded.image.mode == "RGB"
        assert min(loaded.size) >= 250
        assert loaded.to_array().std() > 20  # a photo, not a flat placeholder
    readme = (images.ASSETS / "README.md").read_text()
    for sample in samples.values():
        assert sample.path.name in readme


# --- small files that decode huge: refused from the header, or reduced before converting ----------------------------


def _never_decoded(monkeypatch):
    """Make any pixel decode fail loudly: what is refused must be refused from the header."""

    def boom(self, *args, **kwargs):
        raise AssertionError("load() ran on a file that the header should have refused")

    monkeypatch.setattr(Image.Image, "load", boom)
    from PIL import ImageFile

    monkeypatch.setattr(ImageFile.ImageFile, "load", boom)


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda: hostile.tiff(16, 1_048_616), "too elongated"),
        (lambda: hostile.png(7745, 7745, color_type=3, trns=True), "megapixels"),
        (lambda: hostile.rle_bmp(2000, 2000), "RLE"),
        (lambda: hostile.png(40, 10), "at least 16×16"),
    ],
)
def test_size_aspect_min_side_and_rle_are_checked_from_the_header(monkeypatch, make, words):
    data = make()
    _never_decoded(monkeypatch)
    with pytest.raises(ImageInputError, match=words):
        load_image(data, "x", isolate=False)


def test_formats_outside_the_list_never_reach_a_decoder():
    # A valid ICO (a format Pillow knows) and a DDS header are refused as "not an image we can read".
    ico = io.BytesIO()
    Image.new("RGB", (32, 32)).save(ico, "ICO")
    for data in (ico.getvalue(), hostile.broken_dds()["dds_dxt1_huge.dds"]):
        with pytest.raises(ImageInputError, match="not an image we can read"):
            load_image(data, "x.png", isolate=False)


def test_many_pages_are_not_walked(monkeypatch):
    from PIL import TiffImagePlugin

    def boom(self):
        raise AssertionError("n_frames walks every page")

    monkeypatch.setattr(TiffImagePlugin.TiffImageFile, "n_frames", property(boom))
    loaded = load_image(hostile.tiff_pages(5_000), "pages.tif", isolate=False)
    assert loaded.size == (16, 16) and "first frame" in " ".join(loaded.notes)


def test_paletted_transparent_png_is_reduced_before_it_is_converted(monkeypatch):
    # 4000² paletted with transparency: converting first would build a 64 MB RGBA copy.
    data = hostile.png(4000, 4000, color_type=3, trns=True)
    converted = []
    original = Image.Image.convert

    def spy(self, mode=None, *args, **kwargs):
        converted.append(self.size[0] * self.size[1])
        return original(self, mode, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "convert", spy)
    loaded = load_image(data, "p.png", isolate=False)
    assert loaded.size == (1024, 1024)
    assert max(converted) <= 4000 * 4096, "converted in bands of rows, never the whole image"
    assert tuple(loaded.to_array()[0, 0]) == (255, 255, 255)  # index 0 is transparent → white


def test_large_jpeg_is_decoded_at_a_fraction_of_its_size(monkeypatch):
    data = hostile.big_jpeg(4800, 3200)
    sizes = []
    original = Image.Image.reduce

    def spy(self, factor, box=None):
        sizes.append(self.size)
        return original(self, factor, box)

    monkeypatch.setattr(Image.Image, "reduce", spy)
    loaded = load_image(data, "big.jpg", isolate=False)
    assert loaded.size == (1024, 683)
    assert all(w <= 2400 for w, _ in sizes), sizes  # JPEG draft decoded it at 1/2 scale (or less)


def test_float_tiff_becomes_8_bit_with_nan_and_inf_handled():
    arr = np.linspace(-1, 1, 64 * 64, dtype=np.float32).reshape(64, 64)
    arr[0, 0], arr[0, 1] = np.nan, np.inf
    out = io.BytesIO()
    Image.fromarray(arr, "F").save(out, "TIFF")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rgb = load_image(out.getvalue(), "f.tif", isolate=False).to_array()
    assert rgb[-1, -1, 0] == 255 and rgb[1, 0, 0] < 5  # stretched to the finite range


# --- the worker process ----------------------------------------------------------------------------------------------


def test_the_worker_gives_the_same_image_as_in_process(files):
    for case in ("cmyk.jpg", "rgba.png", "exif_rotated.jpg", "gray16.png"):
        data = files[case].read_bytes()
        here, there = load_image(data, case, isolate=False), load_image(data, case)
        assert there.size == here.size and there.notes == here.notes and there.format == here.format
        np.testing.assert_array_equal(there.to_array(), here.to_array())


def test_worker_errors_come_back_as_clear_messages(files):
    with pytest.raises(ImageInputError, match="not an image we can read"):
        load_image(files["text_renamed.png"].read_bytes(), "t.png")


def test_a_hung_decode_is_stopped_and_the_next_upload_works(monkeypatch, files):
    from lab import safe_decode

    # A "photo" that the worker never answers for: its pipe is stalled by a fake worker command.
    monkeypatch.setattr(safe_decode, "_BOOT", "import time; time.sleep(60)")
    safe_decode._pool.close()
    with pytest.raises(ImageInputError, match="took too long"):
        safe_decode.decode_image(files["rgba.png"].read_bytes(), "slow.png", timeout=1.0)
    monkeypatch.undo()
    safe_decode._pool.close()
    assert load_image(files["rgba.png"].read_bytes(), "ok.png").size == (451, 300)


def test_a_worker_that_runs_out_of_memory_does_not_take_the_server_down(monkeypatch, files):
    from lab import safe_decode

    # Give the worker almost no headroom: decoding a photo must fail inside it, with a message.
    monkeypatch.setattr(safe_decode, "_BOOT", safe_decode._BOOT.replace("serve()", "serve(budget=1 << 20)"))
    safe_decode._pool.close()
    with pytest.raises(ImageInputError, match=r"memory|limits"):
        safe_decode.decode_image(hostile.png(6000, 6000, color_type=6), "big.png")
    monkeypatch.undo()
    safe_decode._pool.close()
    assert load_image(files["rgba.png"].read_bytes(), "ok.png").size == (451, 300)


def test_a_decode_that_burns_cpu_is_killed_by_the_cpu_limit_and_the_next_upload_works(monkeypatch, files):
    """RLIMIT_CPU, not the wall-clock timeout: the worker's decoder spins; the kernel stops it (SIGXCPU)."""
    import signal

    from lab import safe_decode

    spin = (
        "import lab.images, lab.safe_decode; lab.safe_decode.CPU_SECONDS = 1; "
        "lab.images.decode_image = lambda *a, **k: any(iter(int, 1)); serve()"
    )  # a decoder that never returns, and a budget of 1-2 CPU-s (the limit is whole seconds)
    monkeypatch.setattr(safe_decode, "_BOOT", safe_decode._BOOT.replace("serve()", spin))
    started: list[safe_decode._Worker] = []
    boot = safe_decode._Worker.__init__
    monkeypatch.setattr(safe_decode._Worker, "__init__", lambda self: (boot(self), started.append(self))[0])
    safe_decode._pool.close()
    with pytest.raises(ImageInputError, match="memory and time limits"):  # long before the 120 s timeout
        safe_decode.decode_image(files["rgba.png"].read_bytes(), "spin.png", timeout=120.0)
    assert [w.proc.returncode for w in started] == [-signal.SIGXCPU]  # the kernel's CPU limit ended it
    monkeypatch.undo()
    safe_decode._pool.close()
    assert load_image(files["rgba.png"].read_bytes(), "ok.png").size == (451, 300)
    (worker,) = safe_decode._pool._idle
    limits = Path(f"/proc/{worker.proc.pid}/limits").read_text()
    assert re.search(r"Max core file size\s+0\s+0\s", limits)  # SIGXCPU never leaves a core dump


def test_concurrent_uploads_share_a_bounded_pool_of_workers(files):
    from concurrent.futures import ThreadPoolExecutor

    from lab import safe_decode

    safe_decode._pool.close()
    data = [files[c].read_bytes() for c in ("cmyk.jpg", "rgba.png", "gray16.png", "png_named.jpg")] * 2
    with ThreadPoolExecutor(6) as pool:
        sizes = list(pool.map(lambda d: load_image(d, "c").size, data))
    assert len(sizes) == 8 and all(min(s) >= 16 for s in sizes)
    assert len(safe_decode._pool._idle) <= safe_decode.MAX_WORKERS  # never more workers than slots


def test_a_panorama_note_does_not_contradict_its_size():
    """A 4000×40 strip keeps a 32-px short side, so its long side is over the usual maximum: the note says why."""
    import io

    from PIL import Image

    from lab import images

    buf = io.BytesIO()
    Image.new("RGB", (4000, 40), (10, 200, 30)).save(buf, "PNG")
    loaded = images.load_image(buf.getvalue(), "pano.png", min_side=32, max_side=1024)
    assert loaded.image.size == (3200, 32)
    (note,) = loaded.notes
    assert "short side is kept at 32 px" in note and "at most 1024" not in note


def test_idle_decode_workers_exit_and_the_next_upload_starts_a_fresh_one(files):
    """Issue 12 §4: after a class the decode workers (~32 MB each) go away instead of idling forever."""
    from lab import safe_decode

    safe_decode._pool.close()
    data = files["rgba.png"].read_bytes()
    assert load_image(data, "a.png").size == (451, 300)
    (worker,) = safe_decode._pool._idle
    assert safe_decode._pool.stop_idle(older_than_s=safe_decode.IDLE_EXIT_S) == 0  # just used: kept
    assert worker.alive()
    assert safe_decode._pool.stop_idle(older_than_s=0.0) == 1
    assert not worker.alive() and safe_decode._pool._idle == []
    assert load_image(data, "b.png").size == (451, 300)  # a fresh worker
    assert safe_decode._pool._idle[0] is not worker and safe_decode._pool._reaper.is_alive()
