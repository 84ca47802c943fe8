"""lab.upload_cache: parsed uploads (and their failures) are remembered by digest, and callers get copies."""

from __future__ import annotations

import numpy as np
import pytest

from lab import audio, upload_cache


def test_results_and_errors_are_computed_once_per_digest_and_arguments():
    upload_cache.clear()
    calls = []

    def compute(value):
        calls.append(value)
        if value == "bad":
            raise ValueError("bad input")
        return [value]

    for _ in range(3):
        got = upload_cache.remember("t", b"abc", 1, lambda: compute("ok"), errors=(ValueError,), copy=list)
        got.append("changed by a caller")
        with pytest.raises(ValueError, match="bad input"):
            upload_cache.remember("t", b"xyz", 1, lambda: compute("bad"), errors=(ValueError,), copy=list)
    assert upload_cache.remember("t", b"abc", 1, lambda: compute("ok"), errors=(ValueError,), copy=list) == ["ok"]
    assert calls == ["ok", "bad"]
    upload_cache.remember("t", b"abc", 2, lambda: compute("ok"), errors=(ValueError,), copy=list)  # other args
    assert calls == ["ok", "bad", "ok"]


def test_other_errors_are_not_remembered():
    upload_cache.clear()
    calls = []

    def boom():
        calls.append(1)
        raise KeyError("a bug, not the file's fault")

    for _ in range(2):
        with pytest.raises(KeyError):
            upload_cache.remember("t", b"abc", 0, boom, errors=(ValueError,), copy=list)
    assert len(calls) == 2


def test_the_cache_is_bounded():
    upload_cache.clear()
    for i in range(upload_cache.MAX_ENTRIES + 10):
        upload_cache.remember("t", str(i).encode(), 0, lambda: [0], errors=(ValueError,), copy=list)
    assert len(upload_cache._caches["t"]) == upload_cache.MAX_ENTRIES


def test_a_wav_is_resampled_once_per_upload_not_per_rerun(monkeypatch):
    upload_cache.clear()
    calls = []
    original = audio.resample
    monkeypatch.setattr(audio, "resample", lambda *a: calls.append(1) or original(*a))
    data = audio.to_wav(np.sin(np.arange(22_050) / 7.0).astype(np.float32), sr=44_100)
    first = audio.load_wav(data, "clip.wav")
    first.x[:] = 0  # a caller's copy
    for _ in range(3):
        again = audio.load_wav(data, "clip.wav")
    assert len(calls) == 1 and np.abs(again.x).max() > 0.5 and again.notes == first.notes
    bad = data[:44] + b""  # header only: no samples
    for _ in range(3):
        with pytest.raises(audio.AudioInputError):
            audio.load_wav(bad, "empty.wav")
