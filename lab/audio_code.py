"""Lab 5 (sound): the "show me the code" snippet that reproduces the page's augmented sound.

The snippet is plain numpy (+ torch for the pitch shift's STFT): it reads the
"before" clip from a 16-bit WAV file with the standard library's ``wave``
module and applies the same steps as :func:`lab.audio.augment`, in the same
order, with the functions of :mod:`lab.audio` copied in verbatim (their source,
taken with ``inspect``), only those the chosen settings need. It imports
nothing from this repository, so it runs in any notebook.

The page augments exactly what the WAV file holds (:func:`read_wav16` of
:func:`lab.audio.to_wav`), so the snippet's result equals the page's "after"
sound sample for sample (tested).
"""

from __future__ import annotations

import inspect
import io
import wave

import numpy as np

from lab import audio as au
from lab.codegen import code, render_snippet


def read_wav16(data: bytes) -> tuple[int, np.ndarray]:
    """``(sample rate, x)`` of a mono 16-bit WAV made by :func:`lab.audio.to_wav`, exactly as the snippet reads it."""
    with wave.open(io.BytesIO(data), "rb") as f:
        sr = f.getframerate()
        x = np.frombuffer(f.readframes(f.getnframes()), "<i2").astype(np.float32) / np.float32(32768.0)
    return sr, x


def _functions(config: au.AudioConfig) -> list:
    """The :mod:`lab.audio` functions the snippet needs for ``config``, callees first."""
    needed = [au.power]
    if config.snd_speed != 1.0:
        needed += [au.resample, au.change_speed]
    if config.snd_pitch != 0.0:
        needed += [au.resample, au.time_stretch, au.pitch_shift]
    if config.snd_shift != 0.0:
        needed += [au.time_shift]
    if config.snd_noise != "none":
        if config.snd_noise == "babble":
            needed += [au._resonate, au._speech_like, au.make_signal]
        needed += [au.make_noise, au.add_noise]
    if config.snd_gain != 0.0:
        needed += [au.gain]
    return list(dict.fromkeys(needed))  # once each, order kept


CODE_TEMPLATE = """
import math
import wave

import numpy as np
import torch

SAMPLE_RATE = {sr}
{constants}

{functions}


# The "before" clip exactly as the page used it (the WAV download next to this code).
with wave.open({path}, "rb") as f:
    sr = f.getframerate()
    x = np.frombuffer(f.readframes(f.getnframes()), "<i2").astype(np.float32) / np.float32(32768.0)

y = x
{steps}
after = np.clip(y, -1, 1).astype(np.float32)  # what the page plays as "after"
"""


def augment_code(config: au.AudioConfig, *, seed: int, path: str = "before.wav") -> str:
    """Runnable code that turns the WAV at ``path`` into the page's "after" sound (noise drawn with ``seed``)."""
    functions = _functions(config)
    constants = ""
    if au.make_signal in functions:
        constants = f"NOISES = {au.NOISES!r}\nVOWELS = {au.VOWELS!r}  # formants F1–F3 (Hz) of a few vowels"
    elif au.make_noise in functions:
        constants = f"NOISES = {au.NOISES!r}"
    steps = []
    if config.snd_speed != 1.0:
        steps.append(f"y = change_speed(y, {config.snd_speed!r})  # faster and higher, like a tape")
    if config.snd_pitch != 0.0:
        steps.append(f"y = pitch_shift(y, {config.snd_pitch!r})  # semitones, duration kept")
    steps.append("level = power(y)  # the clip's power before the shift: the noise's reference if nothing is left")
    if config.snd_shift != 0.0:
        steps.append(f"y = time_shift(y, {config.snd_shift!r}, sr)  # seconds, silence fills the gap")
    if config.snd_noise != "none":
        steps.append(
            "if level > 0:  # a silent clip gets no noise (no level to set the SNR against)\n"
            f"    y = add_noise(y, {config.snd_snr!r}, {config.snd_noise!r}, seed={int(seed)},"
            " reference=level if power(y) == 0 else None)"
        )
    if config.snd_gain != 0.0:
        steps.append(f"y = gain(y, {config.snd_gain!r})  # dB")
    return render_snippet(
        CODE_TEMPLATE,
        sr=au.SAMPLE_RATE,
        constants=code(constants),
        functions=code("\n\n".join(inspect.getsource(f).rstrip() for f in functions)),
        path=path,
        steps=code("\n".join(steps)),
    )
