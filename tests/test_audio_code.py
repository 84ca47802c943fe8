"""Lab 5 (sound): the code box's snippet reproduces the page's "after" sound sample for sample."""

from __future__ import annotations

import numpy as np
import pytest

from lab import audio as au
from lab.audio_code import augment_code, read_wav16
from lab.codegen import run_snippet


@pytest.mark.parametrize(
    "settings",
    [
        {},  # the defaults: babble noise at 10 dB, shifted 0.2 s
        {"snd_noise": "pink", "snd_speed": 1.25, "snd_pitch": -3.0, "snd_gain": 6.0, "snd_shift": -0.3},
        {"snd_noise": "none", "snd_shift": 0.0},
        {"snd_noise": "white", "snd_speed": 2.0, "snd_shift": 1.0},  # the shift leaves only noise
    ],
    ids=["defaults", "everything", "nothing", "only-noise-left"],
)
def test_snippet_reproduces_the_after_sound(settings, tmp_path):
    config = au.AudioConfig(**settings)
    wav = au.to_wav(au.make_signal("speech", 1.0, seed=3))
    path = tmp_path / "before.wav"
    path.write_bytes(wav)
    sr, x = read_wav16(wav)  # what the page augments: the WAV's own samples
    page = au.augment(x, config, seed=1234)
    source = augment_code(config, seed=1234, path=str(path))
    assert "import lab" not in source and "from lab" not in source  # plain numpy/torch: runs outside the repo
    namespace = run_snippet(source)
    assert namespace["sr"] == sr == au.SAMPLE_RATE
    np.testing.assert_array_equal(namespace["after"], page.after)


def test_snippet_only_carries_the_functions_it_needs():
    plain = augment_code(au.AudioConfig(snd_noise="none", snd_shift=0.0), seed=0)
    assert "def pitch_shift" not in plain and "def make_noise" not in plain and "def power" in plain
    pitched = augment_code(au.AudioConfig(snd_pitch=2.0), seed=0)
    assert "def time_stretch" in pitched and "def _speech_like" in pitched  # babble is made of speech
