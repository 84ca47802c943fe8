"""Sound augmentation: the same word with background noise, shifted, faster, louder.

The lecture: *"Sound data: add background noise."* A waveform here is a 1-D
float32 numpy array in [-1, 1] at :data:`SAMPLE_RATE` Hz (mono). This module
makes short test signals (a tone, a chirp, a speech-like vowel sequence),
reads uploaded WAV files safely, applies the classic audio augmentations and
computes spectrograms for the page's figures.

Each augmentation is written out by hand (it is a line or two of maths) and the
tests check it against a measurement: the noise lands at the requested SNR, a
speed change moves a tone's frequency by the factor, a pitch shift moves it by
2^(semitones/12) while keeping the duration.
"""

from __future__ import annotations

import io
import math
import struct
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from lab.params import Param

SAMPLE_RATE = 16_000  # Hz: enough for speech, light enough for the browser
MAX_SECONDS = 10.0  # longer uploads are refused (the page must stay fast)
MIN_SECONDS = 0.25  # shorter uploads are refused: too little sound to shift, stretch or hear the change
MAX_BYTES = 20 * 1024 * 1024
MAX_SAMPLE_RATE = 192_000  # Hz: the highest rate audio interfaces record; 10 s of it resamples in ~0.1 s
MAX_CHANNELS = 32  # more is not a recording a student has (and each one is converted before mixing)


class AudioInputError(ValueError):
    """An uploaded file cannot be used as sound; ``str(err)`` is for the student."""


# --- signals ------------------------------------------------------------------------------------------


def make_signal(kind: str = "speech", seconds: float = 2.0, sr: int = SAMPLE_RATE, seed: int = 0) -> np.ndarray:
    """A generated test signal ``(sr * seconds,)`` float32, peak 0.8.

    ``tone``: 440 Hz sine. ``chirp``: a sweep from 200 Hz to 4 kHz (its
    spectrogram is a rising line — easy to see a pitch shift or speed change).
    ``speech``: a speech-like signal — syllables of a glottal pulse train
    (pitch ~120 Hz with intonation) through vowel formant resonances.
    """
    n = round(seconds * sr)
    t = np.arange(n) / sr
    if kind == "tone":
        x = np.sin(2 * np.pi * 440.0 * t)
    elif kind == "chirp":
        f0, f1 = 200.0, 4000.0
        k = math.log(f1 / f0) / seconds  # exponential sweep: equal time per octave
        x = np.sin(2 * np.pi * f0 * (np.exp(k * t) - 1) / k)
    elif kind == "speech":
        x = _speech_like(t, sr, np.random.default_rng(seed))
    else:
        raise ValueError(f"unknown signal kind {kind!r}; use tone, chirp or speech")
    fade = np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.01)  # 10 ms fades: no clicks
    x = x * fade
    return (0.8 * x / max(np.abs(x).max(), 1e-9)).astype(np.float32)


#: (F1, F2, F3) formant frequencies in Hz of a few vowels (Peterson & Barney, male voices).
VOWELS = {
    "a": (730, 1090, 2440),
    "i": (270, 2290, 3010),
    "u": (300, 870, 2240),
    "e": (530, 1840, 2480),
    "o": (570, 840, 2410),
}


def _resonate(x: np.ndarray, f: float, bw: float, sr: int) -> np.ndarray:
    """A two-pole resonator at ``f`` Hz with bandwidth ``bw`` applied to ``x`` (same length).

    The filter ``y[n] = (1 − r) x[n] + 2 r cos ω · y[n−1] − r² y[n−2]`` (poles
    r·e^{±iω}) has the impulse response ``h[n] = (1 − r) rⁿ sin((n+1)ω) / sin ω``;
    the first ``len(x)`` outputs of the recursion equal ``x`` convolved with the
    first ``len(x)`` taps of ``h`` exactly, done here with one FFT.
    """
    n = x.size
    r = math.exp(-math.pi * bw / sr)
    w = 2 * math.pi * f / sr
    k = np.arange(n)
    if abs(math.sin(w)) > 1e-9:
        h = (1 - r) * r**k * np.sin((k + 1) * w) / math.sin(w)
    else:  # ω = 0 or π: the limit of sin((n+1)ω)/sin ω
        h = (1 - r) * r**k * (k + 1) * np.cos(k * w)
    size = 1 << max(1, (2 * n - 1).bit_length())
    return np.fft.irfft(np.fft.rfft(x, size) * np.fft.rfft(h, size), size)[:n]


def _speech_like(t: np.ndarray, sr: int, rng: np.random.Generator) -> np.ndarray:
    n = t.size
    # Pitch: ~120 Hz with a falling intonation and a little wobble.
    f0 = 120.0 * (1.15 - 0.3 * t / max(t[-1], 1e-9)) * (1 + 0.03 * np.sin(2 * np.pi * 3.0 * t))
    phase = np.cumsum(f0) / sr
    source = (np.diff(np.floor(phase), prepend=0.0) > 0).astype(np.float64)  # one pulse per period
    source += 0.02 * rng.standard_normal(n)  # breath
    syllable = 0.25  # seconds per syllable
    names = list(VOWELS)
    out = np.zeros(n)
    for k, start in enumerate(np.arange(0.0, t[-1], syllable)):
        sl = (t >= start) & (t < start + syllable)
        seg = source[sl]
        vowel = VOWELS[names[rng.integers(len(names))]]
        y = np.zeros_like(seg)
        for f, bw in zip(vowel, (80.0, 100.0, 140.0), strict=True):  # one resonator per formant
            y += _resonate(seg, f, bw, sr)
        env = np.sin(np.pi * np.linspace(0, 1, seg.size)) ** 0.7  # syllable envelope
        out[sl] = y * env * (0.6 if k % 3 == 2 else 1.0)
    return out


# --- input ------------------------------------------------------------------------------------------


@dataclass
class LoadedAudio:
    """A validated mono waveform at :data:`SAMPLE_RATE`."""

    x: np.ndarray  # (N,) float32 in [-1, 1]
    sr: int  # always SAMPLE_RATE after loading
    name: str
    notes: list[str]  # what was changed on the way in

    @property
    def seconds(self) -> float:
        return self.x.size / self.sr


def load_wav(data: bytes, name: str = "upload.wav", *, max_seconds: float = MAX_SECONDS) -> LoadedAudio:
    """Decode WAV bytes into mono float32 at :data:`SAMPLE_RATE`, or raise :class:`AudioInputError`.

    Accepts 8/16/24/32-bit PCM and 32/64-bit float WAV (read by
    :func:`read_wav`), up to :data:`MAX_CHANNELS` channels (mixed down) and
    sample rates up to :data:`MAX_SAMPLE_RATE` (resampled). Refuses empty files, files
    that are not WAV (the content decides, not the name), silent or zero-length
    audio, audio shorter than :data:`MIN_SECONDS` and audio longer than ``max_seconds``
    — all checked from the header, before any sample is converted or resampled.
    Results and errors are remembered by the bytes' digest (:mod:`lab.upload_cache`),
    so a rerun with the same upload costs a hash, not a resample.
    """
    from lab import upload_cache

    return upload_cache.remember(
        "wav",
        data or b"",
        (name, float(max_seconds)),
        lambda: _load_wav(data, name, max_seconds),
        errors=(AudioInputError,),
        copy=lambda a: LoadedAudio(a.x.copy(), a.sr, a.name, list(a.notes)),
    )


def _load_wav(data: bytes, name: str, max_seconds: float) -> LoadedAudio:
    if not data:
        raise AudioInputError(f"“{name}” is empty (0 bytes). Please choose a WAV file.")
    if len(data) > MAX_BYTES:
        raise AudioInputError(
            f"“{name}” is {len(data) / 1e6:.0f} MB; please upload a WAV under {MAX_BYTES / 1e6:.0f} MB."
        )
    if len(data) < 12 or data[:4] not in (b"RIFF", b"RIFX", b"RF64") or data[8:12] != b"WAVE":
        kind = _sniff(data)
        raise AudioInputError(
            f"“{name}” is not a WAV file{f' (it looks like {kind})' if kind else ''}. "
            "Please upload a .wav file (convert MP3/OGG/M4A first, e.g. with Audacity)."
        )
    if data[:4] != b"RIFF":
        raise AudioInputError(
            f"“{name}” is a {data[:4].decode()} WAV (big-endian or over 4 GB), which this lab does not read. "
            "Please export it as a standard WAV (PCM 16-bit)."
        )
    try:
        sr, raw = read_wav(data)
    except WavFormatError as err:
        raise AudioInputError(f"“{name}”: {err} Please export it as PCM 16-bit WAV.") from None
    except (ValueError, EOFError, IndexError, struct.error, ZeroDivisionError) as err:
        raise AudioInputError(
            f"“{name}” looks like a WAV but cannot be decoded ({err}). Try exporting it again."
        ) from None
    notes: list[str] = []
    if raw.size == 0 or sr <= 0:
        raise AudioInputError(f"“{name}” contains no audio samples.")
    if sr > MAX_SAMPLE_RATE:  # also bounds sample rate × duration, the cost of resampling
        raise AudioInputError(
            f"“{name}” is recorded at {sr:,} Hz; this lab reads up to {MAX_SAMPLE_RATE:,} Hz. "
            "Please export it at 44.1 or 48 kHz."
        )
    seconds = raw.shape[0] / sr
    # In whole frames (0.25 s at 22 050 Hz is 5512 frames); the length shown is rounded down, never up to 0.25.
    if raw.shape[0] < math.floor(MIN_SECONDS * sr):
        raise AudioInputError(
            f"“{name}” is only {raw.shape[0] * 100 // sr / 100:.2f} s long; this lab needs at least "
            f"{MIN_SECONDS:g} s of sound to shift, stretch and noise up. Please upload a longer clip."
        )
    if seconds > max_seconds:
        raise AudioInputError(
            f"“{name}” is {seconds:.1f} s long; this lab takes at most {max_seconds:.0f} s. Please trim it."
        )
    if raw.dtype.kind == "f" and not np.isfinite(raw).all():  # before any arithmetic on them
        raise AudioInputError(f"“{name}” contains invalid (NaN or infinite) samples.")
    x = _to_float(raw)
    if x.ndim == 2:
        notes.append(f"Mixed {x.shape[1]} channels down to mono.")
        x = x.mean(axis=1)
    if sr != SAMPLE_RATE:
        x = resample(x, sr, SAMPLE_RATE)
        notes.append(f"Resampled from {sr} Hz to {SAMPLE_RATE} Hz.")
    if not np.isfinite(x).all():
        raise AudioInputError(f"“{name}” contains invalid (NaN or infinite) samples.")
    if np.abs(x).max() == 0:
        raise AudioInputError(f"“{name}” is completely silent; there is nothing to augment.")
    return LoadedAudio(np.clip(x, -1.0, 1.0).astype(np.float32), SAMPLE_RATE, name, notes)


class WavFormatError(ValueError):
    """A well-formed WAV whose sample encoding is not supported (e.g. A-law, ADPCM)."""


_PCM, _FLOAT, _EXTENSIBLE = 1, 3, 0xFFFE
_ENCODINGS = {2: "Microsoft ADPCM", 6: "A-law", 7: "µ-law", 17: "IMA ADPCM", 85: "MP3"}


def read_wav(data: bytes) -> tuple[int, np.ndarray]:
    """Parse little-endian RIFF WAV bytes → ``(sample_rate, samples)``.

    ``samples`` is ``(frames,)`` for mono or ``(frames, channels)``, in the
    file's own type: uint8 (8-bit PCM is unsigned), int16, int32 (24-bit PCM is
    widened: its 3 bytes become the top 3 bytes of an int32), float32/float64.
    Chunks are walked by hand (``fmt `` and ``data``; others such as ``LIST``
    are skipped); WAVE_FORMAT_EXTENSIBLE is read through its sub-format.
    Raises :class:`WavFormatError` for other encodings and ``ValueError`` for a
    damaged file.
    """
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError("no RIFF/WAVE header")
    fmt = None
    pos = 12
    while pos + 8 <= len(data):
        chunk, size = data[pos : pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        body = data[pos + 8 : pos + 8 + size]
        if chunk == b"fmt ":
            if len(body) < 16:
                raise ValueError("the format chunk is truncated")
            tag, channels, sr, _, align, bits = struct.unpack_from("<HHIIHH", body)
            if tag == _EXTENSIBLE:
                if len(body) < 26:
                    raise ValueError("the extensible format chunk is truncated")
                tag = struct.unpack_from("<H", body, 24)[0]  # first 2 bytes of the sub-format GUID
            fmt = (tag, channels, sr, align, bits)
        elif chunk == b"data":
            if fmt is None:
                raise ValueError("the data chunk comes before the format chunk")
            return fmt[2], _decode(body, *fmt)
        pos += 8 + size + (size & 1)  # chunks are padded to an even size
    raise ValueError("no format or data chunk" if fmt is None else "no data chunk")


def _decode(body: bytes, tag: int, channels: int, sr: int, align: int, bits: int) -> np.ndarray:
    if tag not in (_PCM, _FLOAT):
        raise WavFormatError(f"its samples are {_ENCODINGS.get(tag, f'encoded (format {tag})')}, not PCM or float.")
    if channels < 1 or sr < 1:
        raise ValueError(f"{channels} channels at {sr} Hz")
    if channels > MAX_CHANNELS:
        raise WavFormatError(f"it has {channels} channels; this lab mixes down at most {MAX_CHANNELS}.")
    if bits < 1:
        raise WavFormatError(f"its header says each sample has {bits} bits, which is not a sound.")
    width = (bits + 7) // 8
    if align != channels * width:
        raise ValueError(f"block size {align} does not match {channels} × {bits}-bit samples")
    frames = len(body) // align
    body = body[: frames * align]
    if tag == _FLOAT:
        if bits not in (32, 64):
            raise WavFormatError(f"{bits}-bit float samples are not supported (32 or 64).")
        raw = np.frombuffer(body, "<f4" if bits == 32 else "<f8")
    elif width == 1:
        raw = np.frombuffer(body, np.uint8)
    elif width == 2:
        raw = np.frombuffer(body, "<i2")
    elif width == 3:  # 24-bit: little-endian bytes b0 b1 b2 → the int32 with bytes 0 b0 b1 b2
        triples = np.frombuffer(body, np.uint8).reshape(-1, 3)
        wide = np.zeros((triples.shape[0], 4), np.uint8)
        wide[:, 1:] = triples
        raw = wide.view("<i4").ravel()
    elif width == 4:
        raw = np.frombuffer(body, "<i4")
    else:
        raise WavFormatError(f"{bits}-bit PCM samples are not supported (8, 16, 24 or 32).")
    raw = raw.astype(raw.dtype.newbyteorder("="))
    return raw.reshape(frames, channels) if channels > 1 else raw


def _sniff(data: bytes) -> str:
    for magic, kind in (
        (b"ID3", "an MP3"),
        (b"\xff\xfb", "an MP3"),
        (b"OggS", "an Ogg/Opus file"),
        (b"fLaC", "a FLAC file"),
        (b"\x89PNG", "a PNG image"),
        (b"\xff\xd8", "a JPEG image"),
        (b"%PDF", "a PDF"),
    ):
        if data.startswith(magic):
            return kind
    if data[4:8] == b"ftyp":
        return "an MP4/M4A file"
    return ""


def _to_float(raw: np.ndarray) -> np.ndarray:
    """Samples → float32 in [-1, 1] (float32: a 20 MB 8-bit upload becomes 80 MB, not 160 MB)."""
    if raw.dtype == np.uint8:  # 8-bit WAV is unsigned
        return (raw.astype(np.float32) - np.float32(128.0)) / np.float32(128.0)
    if np.issubdtype(raw.dtype, np.integer):
        return raw.astype(np.float32) / np.float32(-np.iinfo(raw.dtype).min)
    return np.clip(raw, -1e3, 1e3).astype(np.float32)  # finite (checked); far beyond ±1 is clipped later anyway


def to_wav(x: np.ndarray, sr: int = SAMPLE_RATE) -> bytes:
    """A waveform as 16-bit PCM WAV bytes (stdlib ``wave``)."""
    import wave

    pcm = (np.clip(x, -1.0, 1.0) * 32767.0).round().astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


# --- augmentations ------------------------------------------------------------------------------------


def power(x: np.ndarray) -> float:
    """Mean power ``mean(x²)``; 0 for an empty array."""
    x = np.asarray(x, np.float64)
    return float(np.mean(x**2)) if x.size else 0.0


def snr_db(clean: np.ndarray, noisy: np.ndarray) -> float:
    """Measured SNR in dB: ``10 log10(P(clean) / P(noisy − clean))``.

    A silent ``clean`` (power 0, e.g. a clip shifted out of its window) has no
    signal at all, so the SNR is ``-math.inf``; a noise power of 0 is floored at
    1e-30 (a finite, very large SNR).
    """
    p_clean = power(clean)
    if p_clean == 0.0:
        return -math.inf
    return 10.0 * math.log10(p_clean / max(power(np.asarray(noisy, np.float64) - clean), 1e-30))


NOISES = ("white", "pink", "brown", "hum", "babble")


def make_noise(kind: str, n: int, sr: int = SAMPLE_RATE, seed: int = 0) -> np.ndarray:
    """Background noise ``(n,)`` (unit power): white, pink (1/f), brown (1/f²), mains hum or babble.

    The mean is removed, so a single sample (or a babble of two, all fade) is silence: power 0, not NaN.
    """
    if kind not in NOISES:
        raise ValueError(f"unknown noise {kind!r}; use one of {NOISES}")
    if n == 0:
        return np.zeros(0)
    rng = np.random.default_rng(seed)
    if kind in ("white", "pink", "brown"):
        spectrum = np.fft.rfft(rng.standard_normal(n))
        f = np.fft.rfftfreq(n, 1 / sr)
        f[0] = f[1] if n > 1 else 1.0
        spectrum *= {"white": 1.0, "pink": f**-0.5, "brown": f**-1.0}[kind]
        noise = np.fft.irfft(spectrum, n)
    elif kind == "hum":
        t = np.arange(n) / sr
        noise = sum(np.sin(2 * np.pi * 50.0 * k * t + rng.uniform(0, 2 * np.pi)) / k for k in (1, 2, 3, 5))
        noise = noise + 0.05 * rng.standard_normal(n)
    elif kind == "babble":  # several speech-like "voices" at once
        seconds = n / sr
        noise = sum(make_signal("speech", seconds, sr, seed=seed + 1 + k)[:n] for k in range(4))
        noise = np.pad(noise, (0, n - noise.size))
    noise = noise - noise.mean()
    return (noise / math.sqrt(max(power(noise), 1e-30))).astype(np.float64)


def add_noise(
    x: np.ndarray, snr: float, kind: str = "white", seed: int = 0, *, reference: float | None = None
) -> np.ndarray:
    """``x`` plus background noise scaled so that P(x) / P(noise) = 10^(snr/10).

    The scale uses the noise actually drawn: ``noise · sqrt(P(x) / (10^(snr/10) · P(noise)))``.
    ``reference`` replaces P(x) as the signal power the noise is set against (e.g. the clip's power
    before a shift moved it out, so a silent ``x`` still gets noise at a sensible level). With a
    reference power of 0, or a clip too short to hold any noise (one sample), ``x`` comes back unchanged.
    Not clipped (clipping would change the SNR); :func:`augment` reports clipping.
    """
    x = np.asarray(x)
    noise = make_noise(kind, x.size, seed=seed)
    p_signal, p_noise = power(x) if reference is None else reference, power(noise)
    scale = math.sqrt(p_signal / (10.0 ** (snr / 10.0) * p_noise)) if p_signal > 0 and p_noise > 0 else 0.0
    return (x.astype(np.float64) + scale * noise).astype(np.float32)


def time_shift(x: np.ndarray, seconds: float, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Shift later (positive) or earlier (negative) by ``seconds``, padding with silence; length kept.

    A shift of the clip's length or more moves all of it out: the result is silence.
    """
    k = round(seconds * sr)
    out = np.zeros_like(x)
    if 0 <= k < x.size:
        out[k:] = x[: x.size - k]
    elif -x.size < k < 0:
        out[: x.size + k] = x[-k:]
    return out


def resample(x: np.ndarray, sr_in: float, sr_out: float) -> np.ndarray:
    """Band-limited resampling from ``sr_in`` to ``sr_out`` Hz (FFT: an ideal low-pass), float64.

    The ratio is taken as a fraction p/q (denominator ≤ 1000, like a polyphase
    resampler). The clip is zero-padded to a multiple of q (plus a margin, so
    the end does not wrap onto the start), its spectrum is cut (downsampling:
    everything above the new Nyquist frequency goes) or zero-extended
    (upsampling), and the inverse FFT at p/q × the length gives the new samples.
    Output length ``ceil(len(x) · p / q)``, as ``scipy.signal.resample_poly``.
    """
    from fractions import Fraction

    ratio = Fraction(sr_out / sr_in).limit_denominator(1000)
    up, down = ratio.numerator, ratio.denominator
    x = np.asarray(x, np.float64)
    n = x.size
    n_out = -(-n * up // down)
    if n == 0 or up == down:
        return x.copy()
    margin = max(64, n // 20)
    n_in = -(-(n + margin) // down) * down  # padded length, a multiple of q
    m = n_in // down * up  # its exact length after resampling
    spectrum = np.fft.rfft(x, n_in)
    keep = min(spectrum.size, m // 2 + 1)
    out_spec = np.zeros(m // 2 + 1, complex)
    out_spec[:keep] = spectrum[:keep]
    if m < n_in and m % 2 == 0:
        out_spec[-1] = out_spec[-1].real  # the new Nyquist bin of a real signal is real
    return np.fft.irfft(out_spec, m)[:n_out] * (m / n_in)


def change_speed(x: np.ndarray, factor: float) -> np.ndarray:
    """Play ``factor`` times faster: shorter by ``factor`` and every frequency × ``factor`` (a tape machine)."""
    if factor == 1.0:
        return x.copy()
    return resample(x, factor, 1.0).astype(np.float32)


def time_stretch(x: np.ndarray, rate: float, n_fft: int = 1024, hop: int = 256) -> np.ndarray:
    """Phase-vocoder time stretch: ``rate`` > 1 is faster, the pitch stays.

    STFT (torch), then frames are read at ``rate`` × the hop with their phase
    advanced by the measured instantaneous frequency, then inverse STFT.
    Output length ``round(len(x) / rate)`` (at least 1). A clip no longer than ``n_fft``
    (too short for the STFT's reflect padding) is padded with silence to
    ``2 · n_fft`` first and the stretched result cut back to that length.
    """
    if rate <= 0:
        raise ValueError(f"rate must be positive, not {rate}")
    x = np.asarray(x, np.float64)
    if x.size == 0:
        return np.zeros(0, np.float32)
    n = max(1, round(x.size / rate))
    if x.size <= n_fft:
        x = np.pad(x, (0, 2 * n_fft - x.size))
    window = torch.hann_window(n_fft, dtype=torch.float64)
    spec = torch.stft(torch.from_numpy(x), n_fft, hop, window=window, return_complex=True)
    mag, phase = spec.abs(), spec.angle()  # (F, T)
    steps = torch.arange(0, spec.shape[1] - 1, rate, dtype=torch.float64)
    expected = torch.linspace(0, math.pi * hop, spec.shape[0], dtype=torch.float64)  # phase advance per hop per bin
    i0 = steps.floor().long()
    frac = (steps - i0).unsqueeze(0)
    mags = (1 - frac) * mag[:, i0] + frac * mag[:, i0 + 1]
    dphi = phase[:, i0 + 1] - phase[:, i0] - expected[:, None]
    dphi = dphi - 2 * math.pi * torch.round(dphi / (2 * math.pi))  # wrap to [-π, π]
    acc = torch.cumsum(expected[:, None] + dphi, dim=1) - (expected[:, None] + dphi[:, :1]) + phase[:, :1]
    # The stretched frames cover hop × (frames − 1) samples; asking istft for more would divide the
    # uncovered tail by a near-zero window sum (spikes of 10⁴), so pad that tail with silence instead.
    out = torch.istft(torch.polar(mags, acc), n_fft, hop, window=window).numpy()
    return np.pad(out, (0, max(0, n - out.size)))[:n].astype(np.float32)


def pitch_shift(x: np.ndarray, semitones: float) -> np.ndarray:
    """Raise the pitch by ``semitones`` (×2^(s/12)) keeping the duration: stretch, then resample."""
    if semitones == 0:
        return x.copy()
    factor = 2.0 ** (semitones / 12.0)
    stretched = time_stretch(x, 1.0 / factor)  # longer by `factor`, same pitch
    y = resample(stretched, factor, 1.0)  # faster by `factor`: original length, pitch × factor
    y = np.pad(y, (0, max(0, x.size - y.size)))[: x.size]
    return y.astype(np.float32)


def gain(x: np.ndarray, db: float) -> np.ndarray:
    """Multiply by 10^(dB/20)."""
    return (x * 10.0 ** (db / 20.0)).astype(np.float32)


# --- one pipeline, as data ------------------------------------------------------------------------


AUDIO_SPECS: tuple[Param, ...] = (
    Param(
        "snd_signal",
        "signal",
        "speech",
        kind="choice",
        options=("speech", "chirp", "tone"),
        labels={"speech": "speech-like", "chirp": "chirp 200 Hz → 4 kHz", "tone": "tone 440 Hz"},
    ),
    Param("snd_noise", "background noise", "babble", kind="choice", options=("none", *NOISES)),
    Param(
        "snd_snr",
        "SNR (dB)",
        10.0,
        lo=-10.0,
        hi=40.0,
        step=1.0,
        help="Signal-to-noise ratio: 0 dB = as loud as the signal.",
    ),
    Param("snd_shift", "time shift (s)", 0.2, lo=-1.0, hi=1.0, step=0.05),
    Param("snd_speed", "speed ×", 1.0, lo=0.5, hi=2.0, step=0.05, help="Tape-style: faster is also higher."),
    Param("snd_pitch", "pitch shift (semitones)", 0.0, lo=-12.0, hi=12.0, step=1.0, help="Keeps the duration."),
    Param("snd_gain", "gain (dB)", 0.0, lo=-20.0, hi=20.0, step=1.0),
)


@dataclass(frozen=True)
class AudioConfig:
    """Audio augmentation settings, applied in this order: speed, pitch, shift, noise, gain."""

    snd_noise: str = "babble"  # background noise kind, or "none"
    snd_snr: float = 10.0  # dB
    snd_shift: float = 0.2  # seconds, positive = later
    snd_speed: float = 1.0  # playback speed factor
    snd_pitch: float = 0.0  # semitones
    snd_gain: float = 0.0  # dB


@dataclass
class AudioResult:
    before: np.ndarray  # (N,) float32
    after: np.ndarray  # (M,) float32 (M = N / speed)
    sr: int
    snr_measured: float | None  # dB; None without noise; -inf when no signal is left (only noise)
    clipped: float  # fraction of samples beyond ±1 (they are clipped for playback)
    steps: list[str]  # what was done, in order


def augment(x: np.ndarray, config: AudioConfig, *, sr: int = SAMPLE_RATE, seed: int = 0) -> AudioResult:
    """Apply the audio augmentations of ``config`` to ``x`` (N,) and describe each step.

    Every setting in :data:`AUDIO_SPECS`' ranges gives a finite result of length ``ceil(N / speed)``,
    whatever the clip's length. When the shift moves all of the sound out of the clip (e.g. speed ×2
    then +1 s on a 2 s clip) the result is silence, and the noise is added at the level the requested
    SNR gives against the clip before the shift (measured SNR −∞ dB: only noise is left); the steps
    say so. An empty ``x`` is returned unchanged.
    """
    x = np.asarray(x, np.float32)
    if x.size == 0:
        return AudioResult(x.copy(), x.copy(), sr, None, 0.0, ["the clip is empty: nothing to augment"])
    y = x
    steps = []
    if config.snd_speed != 1.0:
        y = change_speed(y, config.snd_speed)
        steps.append(
            f"speed ×{config.snd_speed:g}: {x.size / sr:.2f} s → {y.size / sr:.2f} s, every frequency ×{config.snd_speed:g}"
        )
    if config.snd_pitch != 0.0:
        y = pitch_shift(y, config.snd_pitch)
        steps.append(f"pitch {config.snd_pitch:+g} semitones (×{2 ** (config.snd_pitch / 12):.3f}), duration kept")
    level = power(y)  # the clip's power before the shift: the noise's reference if nothing is left after it
    if config.snd_shift != 0.0:
        y = time_shift(y, config.snd_shift, sr)
        step = f"shifted {'later' if config.snd_shift > 0 else 'earlier'} by {abs(config.snd_shift):g} s"
        if level > 0 and not np.any(y):
            if abs(round(config.snd_shift * sr)) >= y.size:
                step += f", which moves the whole {y.size / sr:.2f} s clip out of its window: only silence is left"
            else:
                step += ", which leaves only the clip's silent edge: nothing is left to hear"
        steps.append(step)
    snr = None
    if config.snd_noise != "none":
        clean = y
        if level == 0:
            steps.append(
                f"no {config.snd_noise} noise: the clip is silent, so there is no level to set "
                f"{config.snd_snr:g} dB SNR against"
            )
        elif power(clean) == 0:
            y = add_noise(y, config.snd_snr, config.snd_noise, seed=seed, reference=level)
            snr = snr_db(clean, y)  # -inf: no signal
            steps.append(
                f"{config.snd_noise} noise as loud as {config.snd_snr:g} dB SNR makes it for the clip before the "
                "shift (no clip is left to measure against: SNR −∞ dB, the result is noise only)"
            )
        else:
            y = add_noise(y, config.snd_snr, config.snd_noise, seed=seed)
            if np.array_equal(y, clean):
                steps.append(f"no {config.snd_noise} noise: {y.size} sample(s) are too few to hold any")
            else:
                snr = snr_db(clean, y)
                steps.append(f"{config.snd_noise} noise at {config.snd_snr:g} dB SNR (measured {snr:.2f} dB)")
    if config.snd_gain != 0.0:
        y = gain(y, config.snd_gain)
        steps.append(f"gain {config.snd_gain:+g} dB (×{10 ** (config.snd_gain / 20):.2f})")
    clipped = float(np.mean(np.abs(y) > 1.0))
    return AudioResult(x, np.clip(y, -1, 1).astype(np.float32), sr, snr, clipped, steps)


# --- figures -------------------------------------------------------------------------------------------


def spectrogram(
    x: np.ndarray, sr: int = SAMPLE_RATE, n_fft: int = 512, hop: int = 128
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Power spectrogram in dB: ``(times (T,), freqs (F,), S_db (F, T))`` via ``torch.stft``."""
    window = torch.hann_window(n_fft)
    xt = torch.from_numpy(np.asarray(x, np.float32))
    if xt.numel() < n_fft:
        xt = torch.nn.functional.pad(xt, (0, n_fft - xt.numel()))
    spec = torch.stft(xt, n_fft, hop, window=window, return_complex=True).abs() ** 2
    s_db = 10 * torch.log10(spec + 1e-10)
    times = np.arange(spec.shape[1]) * hop / sr
    freqs = np.fft.rfftfreq(n_fft, 1 / sr)
    return times, freqs, s_db.numpy()


def _envelope(x: np.ndarray, sr: int, points: int = 2000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Min/max per bucket so a 10 s waveform is a few KB of JSON and still shows every peak."""
    n = x.size
    if n == 0:  # an empty clip: one point at silence
        return np.zeros(1), np.zeros(1), np.zeros(1)
    buckets = max(1, min(points, n))
    edges = np.linspace(0, n, buckets + 1).astype(int)
    lo = np.minimum.reduceat(x, edges[:-1])
    hi = np.maximum.reduceat(x, edges[:-1])
    return edges[:-1] / sr, lo, hi


def waveform_figure(before: np.ndarray, after: np.ndarray, sr: int = SAMPLE_RATE) -> go.Figure:
    """Before and after waveforms on one time axis (min/max envelope)."""
    fig = go.Figure()
    for name, x, color in (("before", before, "#1f77b4"), ("after", after, "#d62728")):
        t, lo, hi = _envelope(x, sr)
        fig.add_trace(
            go.Scatter(
                x=np.concatenate([t, t[::-1]]),
                y=np.concatenate([hi, lo[::-1]]),
                fill="toself",
                name=name,
                line={"color": color, "width": 0.5},
                opacity=0.55,
                hoverinfo="skip",
            )
        )
    fig.update_layout(
        title={"text": "Waveform before and after", "x": 0.0},
        height=300,
        margin={"l": 60, "r": 20, "t": 60, "b": 50},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1.0},
    )
    fig.update_xaxes(title_text="time (s)")
    fig.update_yaxes(title_text="amplitude", range=[-1.05, 1.05])
    return fig


def spectrogram_figure(before: np.ndarray, after: np.ndarray, sr: int = SAMPLE_RATE) -> go.Figure:
    """Two spectrograms side by side (dB, one shared colour scale)."""
    # ≤ ~400 time frames per panel keeps the figure's JSON small even for a 10 s upload.
    hop = max(128, max(before.size, after.size) // 400)
    specs = [spectrogram(before, sr, hop=hop), spectrogram(after, sr, hop=hop)]
    top = max(float(s[2].max()) for s in specs)
    fig = make_subplots(rows=1, cols=2, subplot_titles=("before", "after"), shared_yaxes=True, horizontal_spacing=0.08)
    for col, (t, f, s) in enumerate(specs, start=1):
        fig.add_trace(
            go.Heatmap(
                x=t,
                y=f,
                z=s,
                zmin=top - 80,
                zmax=top,
                colorscale="Viridis",
                showscale=col == 2,
                colorbar={"title": {"text": "power (dB)"}},
                hovertemplate="t %{x:.2f} s<br>f %{y:.0f} Hz<br>%{z:.1f} dB<extra></extra>",
            ),
            row=1,
            col=col,
        )
        fig.update_xaxes(title_text="time (s)", row=1, col=col)
    fig.update_yaxes(title_text="frequency (Hz)", row=1, col=1)
    fig.update_layout(
        # the window in a subtitle: one line of title fitted the 1000 px layout's column only in part
        title={"text": "Spectrogram before and after", "subtitle": {"text": "STFT, 512-sample Hann window"}, "x": 0.0},
        height=360,
        margin={"l": 60, "r": 20, "t": 90, "b": 50},
    )
    return fig


def dominant_frequency(x: np.ndarray, sr: int = SAMPLE_RATE) -> float:
    """The frequency (Hz) of the largest peak of the windowed spectrum."""
    spec = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    return float(np.fft.rfftfreq(x.size, 1 / sr)[int(np.argmax(spec))])
