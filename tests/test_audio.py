"""Lab 5 (sound): generated signals, safe WAV input, noise at a requested SNR, speed/pitch/shift/gain."""

from __future__ import annotations

import io
import itertools
import math
import struct

import numpy as np
import pytest
from scipy.io import wavfile

from lab import audio as au

SR = au.SAMPLE_RATE


def _wav(x: np.ndarray, sr: int = SR) -> bytes:
    buf = io.BytesIO()
    wavfile.write(buf, sr, x)
    return buf.getvalue()


# --- signals -------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["tone", "chirp", "speech"])
def test_generated_signals(kind):
    x = au.make_signal(kind, 1.5)
    assert x.shape == (int(1.5 * SR),) and x.dtype == np.float32
    assert abs(float(np.abs(x).max()) - 0.8) < 1e-6
    assert abs(float(x[0])) < 1e-3 and abs(float(x[-1])) < 1e-3  # faded: no clicks


def test_tone_is_440_hz_and_chirp_sweeps_upwards():
    assert abs(au.dominant_frequency(au.make_signal("tone", 1.0)) - 440.0) <= 1.0
    chirp = au.make_signal("chirp", 2.0)
    early, late = au.dominant_frequency(chirp[: SR // 4]), au.dominant_frequency(chirp[-SR // 4 :])
    assert early < 400 and late > 2500


def test_speech_like_signal_has_a_voice_pitch_and_formants():
    x = au.make_signal("speech", 2.0, seed=1)
    spec = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    f = np.fft.rfftfreq(x.size, 1 / SR)
    low = spec[(f > 80) & (f < 200)].max()
    assert low > spec[(f > 5000)].max() * 10  # energy at the pitch, little hiss
    assert not np.array_equal(x, au.make_signal("speech", 2.0, seed=2))


def test_unknown_signal_kind_raises():
    with pytest.raises(ValueError, match="unknown signal"):
        au.make_signal("whale")


# --- noise at a requested SNR ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", au.NOISES)
@pytest.mark.parametrize("snr", [-5.0, 0.0, 10.0, 30.0])
def test_noise_lands_within_half_a_db_of_the_requested_snr(kind, snr):
    clean = au.make_signal("speech", 1.0, seed=3)
    noisy = au.add_noise(clean, snr, kind, seed=4)
    residual = noisy.astype(np.float64) - clean.astype(np.float64)  # measured independently, in float64
    measured = 10 * math.log10(np.sum(clean.astype(np.float64) ** 2) / np.sum(residual**2))
    assert abs(measured - snr) < 0.5, (kind, snr, measured)
    assert abs(au.snr_db(clean, noisy) - measured) < 1e-6


def test_snr_of_a_silent_clean_signal_is_minus_infinity():
    silent = np.zeros(1000, np.float32)
    noisy = au.add_noise(silent, 10.0, "white")
    np.testing.assert_array_equal(noisy, silent)  # no level to scale the noise to: unchanged, no NaN
    assert au.snr_db(silent, noisy) == -math.inf
    assert au.snr_db(silent, au.make_noise("white", 1000)) == -math.inf
    assert au.power(np.zeros(0)) == 0.0


def test_noise_on_a_silent_clip_can_be_set_against_a_reference_power():
    silent = np.zeros(4000, np.float32)
    for kind, snr in (("white", 10.0), ("babble", -10.0), ("hum", 40.0)):
        noisy = au.add_noise(silent, snr, kind, reference=0.25)
        assert np.isfinite(noisy).all()
        assert abs(au.power(noisy) - 0.25 / 10 ** (snr / 10)) <= 1e-5 * 0.25 / 10 ** (snr / 10), kind


def test_noise_colours_have_their_spectral_slopes():
    n = 1 << 16
    f = np.fft.rfftfreq(n, 1 / SR)
    for kind, slope in (("white", 0.0), ("pink", -1.0), ("brown", -2.0)):
        p = np.abs(np.fft.rfft(au.make_noise(kind, n, seed=0))) ** 2
        band = (f > 100) & (f < 4000)
        fitted = np.polyfit(np.log10(f[band]), np.log10(p[band]), 1)[0]
        assert abs(fitted - slope) < 0.15, (kind, fitted)


def test_augment_reports_the_measured_snr():
    x = au.make_signal("chirp", 1.0)
    result = au.augment(x, au.AudioConfig(snd_noise="pink", snd_snr=3.0, snd_shift=0.0))
    assert abs(result.snr_measured - 3.0) < 0.5
    assert any("measured" in s for s in result.steps)


# --- time shift, speed, pitch, gain -----------------------------------------------------------------


def test_time_shift_pads_with_silence_and_keeps_length():
    x = np.arange(1, 11, dtype=np.float32)
    np.testing.assert_array_equal(au.time_shift(x, 3 / SR), [0, 0, 0, 1, 2, 3, 4, 5, 6, 7])
    np.testing.assert_array_equal(au.time_shift(x, -2 / SR), [3, 4, 5, 6, 7, 8, 9, 10, 0, 0])


def test_time_shift_by_the_clip_length_or_more_leaves_silence():
    x = np.arange(1, 11, dtype=np.float32)
    for k in (10, 11, 25, -10, -11, -25):
        np.testing.assert_array_equal(au.time_shift(x, k / SR), np.zeros(10))
    np.testing.assert_array_equal(au.time_shift(x, -9 / SR), [10, 0, 0, 0, 0, 0, 0, 0, 0, 0])


SPECS = {p.name: p for p in au.AUDIO_SPECS}


@pytest.mark.parametrize("seconds", [2.0, au.MIN_SECONDS])  # the page's generated clip and the shortest upload
@pytest.mark.parametrize("speed", [SPECS["snd_speed"].lo, SPECS["snd_speed"].hi])
@pytest.mark.parametrize("shift", [SPECS["snd_shift"].lo, SPECS["snd_shift"].hi])
@pytest.mark.parametrize("pitch", [SPECS["snd_pitch"].lo, 0.0, SPECS["snd_pitch"].hi])
@pytest.mark.parametrize("noise", ["none", "white", "babble"])
def test_extreme_speed_and_shift_give_finite_audio_and_say_when_the_clip_is_shifted_out(
    seconds, speed, shift, pitch, noise
):
    x = au.make_signal("speech", seconds)
    snr = 10.0
    result = au.augment(x, au.AudioConfig(noise, snr, shift, speed, pitch, 0.0))
    assert result.after.dtype == np.float32 and result.after.size == round(x.size / speed)
    assert np.isfinite(result.after).all() and float(np.abs(result.after).max()) <= 1.0
    text = "; ".join(result.steps)
    shifted_out = abs(shift) * SR >= x.size / speed  # the shift is at least the (sped-up) clip's length
    assert ("moves the whole" in text) == shifted_out, text
    if noise == "none":
        assert result.snr_measured is None
        if shifted_out:
            assert not np.any(result.after)  # nothing left to hear
    elif shifted_out:
        assert result.snr_measured == -math.inf and "−∞ dB" in text and "noise only" in text
        if pitch == 0.0:  # the noise has the power that SNR gives against the sped-up clip before the shift
            expected = au.power(au.change_speed(x, speed)) / 10 ** (snr / 10)
            assert abs(au.power(result.after) - expected) <= 1e-5 * expected
    else:
        assert math.isfinite(result.snr_measured) and abs(result.snr_measured - snr) < 0.5


def test_the_page_deep_link_speed_2_shift_1_is_noise_only():
    x = au.make_signal("speech", 2.0)  # augmentation?snd_speed=2&snd_shift=1 (default babble at 10 dB)
    result = au.augment(x, au.AudioConfig(snd_speed=2.0, snd_shift=1.0))
    assert result.after.size == SR and np.isfinite(result.after).all() and au.power(result.after) > 0
    assert result.snr_measured == -math.inf
    assert "moves the whole 1.00 s clip out of its window" in result.steps[1]


@pytest.mark.parametrize("seconds", [2.0, au.MIN_SECONDS])
def test_every_corner_of_the_settings_gives_finite_audio(seconds):
    x = au.make_signal("chirp", seconds)
    numeric = ["snd_snr", "snd_shift", "snd_speed", "snd_pitch", "snd_gain"]
    for corner in itertools.product(*[(SPECS[k].lo, SPECS[k].hi) for k in numeric]):
        values = dict(zip(numeric, corner, strict=True))
        for noise in ("white", "brown"):
            result = au.augment(x, au.AudioConfig(snd_noise=noise, **values))
            assert result.after.size == round(x.size / values["snd_speed"]), values
            assert np.isfinite(result.after).all() and 0.0 <= result.clipped <= 1.0, values
            assert result.snr_measured is not None and not math.isnan(result.snr_measured), values


@pytest.mark.parametrize("factor", [0.8, 1.25, 1.5])
def test_speed_change_scales_duration_and_frequency(factor):
    x = au.make_signal("tone", 1.0)
    y = au.change_speed(x, factor)
    assert abs(y.size - x.size / factor) <= 2
    assert abs(au.dominant_frequency(y) - 440 * factor) <= 2.0


@pytest.mark.parametrize("semitones", [-7, -2, 3, 12])
def test_pitch_shift_moves_the_frequency_and_keeps_the_duration(semitones):
    x = au.make_signal("tone", 1.0)
    y = au.pitch_shift(x, semitones)
    assert y.size == x.size
    assert abs(au.dominant_frequency(y) - 440 * 2 ** (semitones / 12)) <= 3.0


def test_time_stretch_changes_duration_not_pitch():
    x = au.make_signal("tone", 1.0)
    y = au.time_stretch(x, 0.5)
    assert abs(y.size - 2 * x.size) <= 1
    assert abs(au.dominant_frequency(y) - 440) <= 1.0


@pytest.mark.parametrize("n", [1, 2, 100, 512, 513])
def test_time_stretch_and_pitch_shift_accept_clips_shorter_than_the_stft_window(n):
    x = (0.5 * np.sin(2 * np.pi * 440 * np.arange(n) / SR)).astype(np.float32) + np.float32(0.1)
    for rate in (0.5, 2.0):
        y = au.time_stretch(x, rate)
        assert y.size == max(1, round(n / rate)) and np.isfinite(y).all()
    for semitones in (-12, 3, 12):
        y = au.pitch_shift(x, semitones)
        assert y.size == n and np.isfinite(y).all()
    assert au.time_stretch(np.zeros(0, np.float32), 0.5).size == 0


@pytest.mark.parametrize("n", [600, 800, 1024])
def test_short_clips_are_still_stretched_and_pitch_shifted_correctly(n):
    x = au.make_signal("tone", n / SR)
    y = au.time_stretch(x, 0.5)
    assert y.size == 2 * n and abs(au.dominant_frequency(y) - 440) <= SR / y.size  # within one FFT bin
    for semitones in (-12, 12):
        y = au.pitch_shift(x, semitones)
        assert abs(au.dominant_frequency(y) - 440 * 2 ** (semitones / 12)) <= SR / n


def test_augment_handles_short_silent_and_empty_clips():
    short = au.make_signal("tone", 100 / SR)
    result = au.augment(short, au.AudioConfig(snd_pitch=3.0, snd_shift=0.0, snd_noise="white"))
    assert result.after.size == 100 and np.isfinite(result.after).all()
    assert any(s.startswith("pitch +3") for s in result.steps) and abs(result.snr_measured - 10.0) < 0.5
    one = au.augment(np.array([0.5], np.float32), au.AudioConfig(snd_shift=0.0))
    assert one.after.tolist() == [0.5] and one.snr_measured is None
    assert "too few" in one.steps[-1]
    silent = au.augment(np.zeros(SR, np.float32), au.AudioConfig())
    assert not np.any(silent.after) and silent.snr_measured is None
    assert "the clip is silent" in silent.steps[-1]
    empty = au.augment(np.zeros(0, np.float32), au.AudioConfig())
    assert empty.after.size == 0 and "empty" in empty.steps[0]
    assert len(au.waveform_figure(empty.before, empty.after).data) == 2


def test_gain_in_decibels():
    x = au.make_signal("tone", 0.5)
    np.testing.assert_allclose(au.gain(x, 20 * math.log10(2)), 2 * x, rtol=1e-6)
    result = au.augment(x, au.AudioConfig(snd_noise="none", snd_shift=0.0, snd_gain=12.0))
    assert result.clipped > 0.1 and float(np.abs(result.after).max()) <= 1.0  # reported, clipped for playback


# --- WAV input ------------------------------------------------------------------------------------------


def test_wav_round_trip_16_bit():
    x = au.make_signal("speech", 1.0)
    loaded = au.load_wav(au.to_wav(x), "speech.wav")
    assert loaded.sr == SR and loaded.notes == []
    np.testing.assert_allclose(loaded.x, x, atol=2 / 32768)  # ±½ LSB and the 32767/32768 scale


@pytest.mark.parametrize("dtype", ["uint8", "int16", "int32", "float32"])
def test_wav_sample_formats(dtype):
    x = 0.5 * np.sin(2 * np.pi * 440 * np.arange(SR // 2) / SR)
    raw = {
        "uint8": (x * 127 + 128).astype(np.uint8),
        "int16": (x * 32767).astype(np.int16),
        "int32": (x * 2147483647).astype(np.int32),
        "float32": x.astype(np.float32),
    }[dtype]
    loaded = au.load_wav(_wav(raw), f"{dtype}.wav")
    np.testing.assert_allclose(loaded.x, x, atol=0.02 if dtype == "uint8" else 1e-4)


def _riff(fmt: bytes, samples: bytes) -> bytes:
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"LIST\x04\x00\x00\x00INFO"
    body += b"data" + struct.pack("<I", len(samples)) + samples
    return b"RIFF" + struct.pack("<I", len(body)) + body


def test_wav_24_bit_and_extensible_headers_are_read_by_hand():
    x = 0.5 * np.sin(2 * np.pi * 440 * np.arange(SR // 4) / SR)
    ints = np.round(x * (2**23 - 1)).astype("<i4")
    pcm24 = ints.view(np.uint8).reshape(-1, 4)[:, :3].tobytes()  # little-endian: drop the top byte
    plain = _riff(struct.pack("<HHIIHH", 1, 1, SR, SR * 3, 3, 24), pcm24)
    guid_pcm = struct.pack("<H", 1) + b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
    ext = _riff(struct.pack("<HHIIHHHHI", 0xFFFE, 1, SR, SR * 3, 3, 24, 22, 24, 4) + guid_pcm, pcm24)
    for data in (plain, ext):
        sr, raw = au.read_wav(data)
        assert sr == SR and raw.dtype == np.int32
        np.testing.assert_array_equal(raw >> 8, ints)  # the 24-bit value, exactly
        np.testing.assert_allclose(au.load_wav(data, "24.wav").x, x, atol=1e-6)


def test_wav_reader_agrees_with_scipy_on_float64_stereo():
    rng = np.random.default_rng(0)
    stereo = rng.uniform(-1, 1, (1000, 2))
    sr, raw = au.read_wav(_wav(stereo, 22_050))
    assert sr == 22_050 and raw.dtype == np.float64
    np.testing.assert_array_equal(raw, wavfile.read(io.BytesIO(_wav(stereo, 22_050)))[1])


def test_unsupported_wav_encodings_get_clear_messages():
    alaw = _riff(struct.pack("<HHIIHH", 6, 1, 8000, 8000, 1, 8), b"\x55" * 800)
    with pytest.raises(au.AudioInputError, match=r"A-law, not PCM or float.*PCM 16-bit"):
        au.load_wav(alaw, "phone.wav")
    rifx = b"RIFX" + _riff(b"", b"")[4:]
    with pytest.raises(au.AudioInputError, match="RIFX WAV"):
        au.load_wav(rifx, "mac.wav")


def test_resampling_matches_scipy_polyphase():
    from scipy.signal import resample_poly

    t = np.arange(44_100) / 44_100
    x = np.sin(2 * np.pi * 300 * t) * np.minimum(1, np.minimum(t, t[-1] - t) / 0.01)
    for sr_in, sr_out, up, down in ((44_100, 16_000, 160, 441), (8_000, 16_000, 2, 1), (1.25, 1.0, 4, 5)):
        ours, theirs = au.resample(x, sr_in, sr_out), resample_poly(x, up, down)
        assert ours.shape == theirs.shape
        np.testing.assert_allclose(ours[100:-100], theirs[100:-100], atol=2e-3)


def test_formant_resonator_equals_the_recursive_filter():
    from scipy.signal import lfilter

    x = np.random.default_rng(1).standard_normal(3000)
    for f, bw in ((270, 80.0), (2440, 140.0)):
        r = math.exp(-math.pi * bw / SR)
        expected = lfilter([1 - r], [1, -2 * r * math.cos(2 * math.pi * f / SR), r * r], x)
        np.testing.assert_allclose(au._resonate(x, f, bw, SR), expected, atol=1e-10)


def test_time_stretch_has_no_spikes_at_the_end():
    x = au.make_signal("tone", 1.0)
    for rate in (0.5, 0.8, 1.25):
        assert float(np.abs(au.time_stretch(x, rate)).max()) < 1.0


def test_stereo_44k_is_mixed_down_and_resampled():
    t = np.arange(44_100) / 44_100
    stereo = np.stack([np.sin(2 * np.pi * 300 * t), np.sin(2 * np.pi * 300 * t)], 1).astype(np.float32) * 0.5
    loaded = au.load_wav(_wav(stereo, 44_100), "stereo.wav")
    assert abs(loaded.x.size - SR) <= 1
    assert any("mono" in n for n in loaded.notes) and any("44100" in n for n in loaded.notes)
    assert abs(au.dominant_frequency(loaded.x) - 300) <= 1.0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"ID3\x04\x00\x00\x00\x00\x00" + b"\x00" * 100, "MP3"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "PNG image"),
        (b"hello, this is text, not sound", "not a WAV"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00garbage", "cannot be decoded"),
    ],
    ids=["empty", "mp3", "png", "text", "truncated"],
)
def test_bad_uploads_get_clear_messages(data, message):
    with pytest.raises(au.AudioInputError, match=message):
        au.load_wav(data, "clip.wav")


def test_too_long_and_silent_uploads_are_refused():
    with pytest.raises(au.AudioInputError, match=r"11\.0 s long.*at most 10 s"):
        au.load_wav(_wav(np.zeros(11 * 8000, np.int16) + 100, 8000), "long.wav")
    with pytest.raises(au.AudioInputError, match="silent"):
        au.load_wav(_wav(np.zeros(8000, np.int16)), "silence.wav")
    with pytest.raises(au.AudioInputError, match="no audio"):
        au.load_wav(_wav(np.zeros(0, np.int16)), "nothing.wav")


def test_too_short_uploads_are_refused_with_the_minimum():
    assert au.MIN_SECONDS == 0.25
    tone = (0.5 * np.sin(2 * np.pi * 440 * np.arange(SR // 10) / SR) * 32767).astype(np.int16)  # 0.1 s
    with pytest.raises(au.AudioInputError, match=r"“short\.wav” is only 0\.10 s long.*at least 0\.25 s"):
        au.load_wav(_wav(tone), "short.wav")
    with pytest.raises(au.AudioInputError, match=r"0\.24 s long.*at least 0\.25 s"):
        au.load_wav(_wav(np.full(3999, 1000, np.int16)), "almost.wav")
    # exactly the minimum is accepted, also where 0.25 s is not a whole number of frames (22 050 Hz: 5512)
    assert au.load_wav(_wav(np.full(4000, 1000, np.int16)), "quarter.wav").x.size == 4000
    assert au.load_wav(_wav(np.full(5512, 1000, np.int16), 22_050), "quarter.wav").x.size == 4000


# --- figures -------------------------------------------------------------------------------------------------


def test_spectrogram_peak_is_at_the_tone():
    times, freqs, s_db = au.spectrogram(au.make_signal("tone", 0.5))
    assert s_db.shape == (freqs.size, times.size)
    assert abs(freqs[int(s_db.mean(axis=1).argmax())] - 440) <= SR / 512


def test_figures_have_titles_axes_and_legends():
    x = au.make_signal("speech", 1.0)
    y = au.augment(x, au.AudioConfig()).after
    wave = au.waveform_figure(x, y)
    assert wave.layout.title.text and wave.layout.xaxis.title.text == "time (s)" and len(wave.data) == 2
    assert {t.name for t in wave.data} == {"before", "after"}
    spec = au.spectrogram_figure(x, y)
    assert spec.layout.title.text and spec.layout.yaxis.title.text == "frequency (Hz)"
    assert sum(1 for t in spec.data if t.showscale) == 1  # one shared colour bar
