"""The telephone channel (bench.channel) measured, not just run: the PSTN band limit removes the energy above
3.4 kHz, G.711 agrees with Python's own mu-law / A-law within one quantisation step, the loss model gives the
asked rate and burst length, noise lands at the asked SNR, a seed fixes the output, and bad settings are one
line."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from bench.audio import resample
from bench.channel import codecs
from bench.channel.loss import bursts, gilbert_elliott, jitter_drops
from bench.channel.noise import add_at_snr, babble, generated
from bench.channel.profiles import PROFILES, Chain, apply, chain_for
from bench.errors import BenchError

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop  # the standard library's G.711 (deprecated, still in 3.11/3.12): an independent reference


def _noise(seconds: float = 2.0, sr: int = 16000, seed: int = 0) -> np.ndarray:
    return np.clip(0.15 * np.random.default_rng(seed).standard_normal(int(seconds * sr)), -1, 1).astype(np.float32)


def _fraction_above(x: np.ndarray, sr: int, hz: float) -> float:
    power = np.abs(np.fft.rfft(x.astype(np.float64))) ** 2
    return float(power[np.fft.rfftfreq(len(x), 1 / sr) > hz].sum() / power.sum())


@pytest.mark.parametrize("profile", ["pstn-g711u", "pstn-g711a", "mobile-amr-nb"])
def test_a_pstn_profile_removes_the_energy_above_3400_hz(profile):
    x = _noise()
    y, rate = apply(x, PROFILES[profile], seed=0)
    assert rate == 8000 and len(y) == len(x) // 2
    before = _fraction_above(x, 16000, 3400)  # white noise: about 57% of its power lies above 3.4 kHz
    after = _fraction_above(resample(y, 8000, 16000), 16000, 3400)
    assert before > 0.5 and after < 0.02 * before


@pytest.mark.parametrize("name, to_code, to_linear", [("g711u", audioop.lin2ulaw, audioop.ulaw2lin),
                                                      ("g711a", audioop.lin2alaw, audioop.alaw2lin)])
def test_g711_round_trip_is_the_standard_librarys_within_one_quantisation_step(name, to_code, to_linear):
    x = _noise(1.0, 8000, seed=3)
    codec = codecs.get_codec(name)
    ours = np.round(codecs.decode(codecs.encode(x, codec, 8000), codec, 8000, len(x)) * 32768).astype(int)
    pcm = np.round(x * 32767).astype(np.int16).tobytes()
    ref = np.frombuffer(to_linear(to_code(pcm, 2), 2), np.int16).astype(int)
    levels = np.array(sorted(set(np.frombuffer(to_linear(bytes(range(256)), 2), np.int16).tolist())))
    assert set(ours.tolist()) <= set(levels.tolist())  # every output sample is a G.711 level
    steps = np.abs(np.searchsorted(levels, ours) - np.searchsorted(levels, ref))
    assert steps.max() <= 1 and np.mean(steps == 0) > 0.95


@pytest.mark.parametrize("rate, burst", [(0.05, 2.0), (0.2, 4.0), (0.01, 1.0)])
def test_loss_rate_and_burst_length_are_the_asked_ones(rate, burst):
    lost = gilbert_elliott(200_000, rate, burst, np.random.default_rng(7))
    assert lost.mean() == pytest.approx(rate, rel=0.08)
    assert np.mean(bursts(lost)) == pytest.approx(burst, rel=0.08)


def test_jitter_drops_the_packets_later_than_the_buffer():
    late = jitter_drops(100_000, 20.0, 60.0, np.random.default_rng(1))
    assert late.mean() == pytest.approx(np.exp(-60 / 20), rel=0.1)  # exponential delays, mean 20 ms
    assert not jitter_drops(100, 0.0, 60.0, np.random.default_rng(1)).any()


@pytest.mark.parametrize("kind", ["white", "pink", "babble"])
@pytest.mark.parametrize("snr", [0.0, 10.0, 25.0])
def test_noise_lands_at_the_asked_snr(kind, snr):
    rng = np.random.default_rng(5)
    x = _noise(2.0, seed=1)
    n = babble([_noise(1.3, seed=k) for k in range(6)], len(x), rng) if kind == "babble" else \
        generated(kind, len(x), rng)
    y = add_at_snr(x, n, snr)
    measured = 10 * np.log10(np.mean(x.astype(np.float64) ** 2) / np.mean((y - x).astype(np.float64) ** 2))
    assert measured == pytest.approx(snr, abs=0.5)


def test_pink_noise_falls_3_db_per_octave():
    z = generated("pink", 2 ** 16, np.random.default_rng(2))
    power = np.abs(np.fft.rfft(z)) ** 2
    f = np.fft.rfftfreq(len(z), 1 / 16000)
    octave = [power[(f >= lo) & (f < 2 * lo)].mean() for lo in (500, 1000, 2000)]
    assert 10 * np.log10(octave[0] / octave[1]) == pytest.approx(3.0, abs=0.6)
    assert 10 * np.log10(octave[1] / octave[2]) == pytest.approx(3.0, abs=0.6)


def test_the_same_seed_gives_the_same_bytes_and_another_seed_does_not():
    x = _noise(1.0)
    chain = chain_for("voip-opus-loss5", noise="white", snr_db=20.0)
    a, b, c = (apply(x, chain, seed=s)[0] for s in (11, 11, 12))
    assert a.tobytes() == b.tobytes() and a.tobytes() != c.tobytes()


def test_lost_packets_change_the_audio_where_they_were_lost():
    x = _noise(2.0)
    clean, _ = apply(x, chain_for("voip-opus-wb"), seed=0)
    lossy, _ = apply(x, chain_for("voip-opus-wb", loss=0.3, burst=3.0), seed=0)
    frame = 320
    differs = [not np.allclose(clean[i:i + frame], lossy[i:i + frame], atol=1e-3)
               for i in range(0, len(x) - frame, frame)]
    assert 0.2 < np.mean(differs) < 0.9  # a lost frame also disturbs the decoder's next ones


def test_opus_is_decoded_by_libopus_as_ffmpeg_decodes_it_and_its_own_concealment_fills_a_loss():
    """Opus goes through libopus itself (for its packet-loss concealment): without loss it gives what FFmpeg's
    own libopus decoder gives; a lost packet is neither silence nor bench's half-level repetition."""
    import av

    from bench.channel.codecs import CODECS, _conceal, decode, encode, frame_samples

    codec, rate = CODECS["opus"], 16000
    t = np.arange(2 * rate) / rate
    x = (0.3 * np.sin(2 * np.pi * 220 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)
    packets = encode(x, codec, rate, bitrate=24000)
    ours = decode(packets, codec, rate, len(x))
    dec = av.CodecContext.create("libopus", "r")  # the independent reference: FFmpeg's decoder, resampled
    dec.sample_rate, dec.layout = rate, "mono"
    to_rate = av.AudioResampler(format="flt", layout="mono", rate=rate)
    ref = np.concatenate([f.to_ndarray().reshape(-1) for p in packets for fr in dec.decode(av.Packet(p))
                          for f in to_rate.resample(fr)])[:len(x)]
    assert np.corrcoef(ours[2000:len(ref)], ref[2000:])[0, 1] > 0.99
    n = frame_samples(codec, rate)
    lost = [None if 40 <= i < 43 else p for i, p in enumerate(packets)]
    concealed = decode(lost, codec, rate, len(x))
    gap = slice(40 * n, 43 * n)
    assert np.array_equal(concealed[:40 * n], ours[:40 * n])  # the decoder's state up to the loss is the same
    energy = np.mean(concealed[gap] ** 2) / np.mean(ours[gap] ** 2)
    assert 0.1 < energy < 2.0  # filled, not silence
    repeated = np.concatenate([_conceal(ours[39 * n:40 * n], "repeat")] * 3)
    assert np.abs(concealed[gap] - repeated).max() > 0.01  # not bench's own repetition either


@pytest.mark.parametrize("profile", list(PROFILES))
def test_every_profile_runs_at_its_line_rate_and_keeps_the_length(profile):
    x = _noise(0.5)
    y, rate = apply(x, PROFILES[profile], seed=0)
    assert rate == PROFILES[profile].rate and len(y) == len(resample(x, 16000, rate))
    assert np.isfinite(y).all() and np.abs(y).max() <= 1.0 and np.std(y) > 0.01


@pytest.mark.parametrize("kwargs, message", [
    ({"profile": "pstn-g729"}, "unknown channel profile 'pstn-g729'"),
    ({"codec": "g729"}, "unknown codec 'g729'"),
    ({"codec": "opus", "loss": 1.0}, r"loss rate must be a number in \[0, 1\)"),
    ({"codec": "opus", "loss": -0.1}, r"loss rate must be a number in \[0, 1\)"),
    ({"noise": "pink", "snr_db": "loud"}, "SNR must be a number of dB"),
    ({"noise": "pink"}, "give noise and an SNR together"),
    ({"loss": 0.1}, "give a codec too"),
    ({"codec": "g711u", "rate": 16000}, "runs at 8000 Hz, not 16000"),
    ({"codec": "amr-nb", "rate": 8000, "bitrate": 9000}, "bit rate 9000 is not one of"),
    ({"codec": "opus", "burst": 0.5}, "burst length must be"),
    ({"volume": 3}, "unknown channel setting"),
])
def test_bad_settings_are_one_line(kwargs, message):
    with pytest.raises(BenchError, match=message) as info:
        chain = chain_for(**kwargs)
        if chain.codec and chain.bitrate:  # a bit rate is checked against the codec's modes when encoding
            apply(_noise(0.1), chain, seed=0)
    assert "\n" not in str(info.value)


def test_a_codec_missing_from_the_pyav_build_is_named(monkeypatch):
    import av

    monkeypatch.setattr(av, "codecs_available", set(av.codecs_available) - {"libopencore_amrnb"})
    with pytest.raises(BenchError, match="no encoder 'libopencore_amrnb'"):
        chain_for("mobile-amr-nb")


def test_an_empty_chain_passes_audio_through():
    x = _noise(0.2)
    y, rate = apply(x, Chain(), seed=0)
    assert rate == 16000 and np.array_equal(y, np.clip(x, -1, 1))


def test_channel_augmentation_keeps_each_crops_length_and_draws_a_profile_per_crop():
    from bench.channel.augment import augment_profiles, through_channels

    crops = np.stack([_noise(0.5, seed=k) for k in range(6)])
    profiles = augment_profiles("pstn-g711u, hd-g722")
    assert profiles == ["pstn-g711u", "hd-g722"] and augment_profiles("") == []
    a = through_channels(crops, profiles, np.random.default_rng(3))
    b = through_channels(crops, profiles, np.random.default_rng(3))
    assert a.shape == crops.shape and a.dtype == crops.dtype and np.array_equal(a, b)
    narrow = [_fraction_above(x, 16000, 4000) < 0.01 for x in a]  # the PSTN copies lost what lies above 4 kHz
    assert 0 < sum(narrow) < len(a)  # both profiles drawn across the six crops
    control = through_channels(crops, augment_profiles("clean"), np.random.default_rng(3))
    assert np.array_equal(control, crops)  # the same-steps control: copies are the crops themselves
    mixed = through_channels(crops, augment_profiles("clean,pstn-g711u"), np.random.default_rng(3))
    assert 0 < sum(np.array_equal(m, c) for m, c in zip(mixed, crops, strict=True)) < len(crops)
    for bad, message in (("pstn-g729", "unknown channel profile"), ("hd-g722,hd-g722", "names a profile twice")):
        with pytest.raises(BenchError, match=message):
            augment_profiles(bad)


def test_a_machine_without_libopus_gets_one_line_for_opus(monkeypatch):
    from bench.channel import opus_plc

    monkeypatch.setattr(opus_plc.glob, "glob", lambda _pattern: [])
    monkeypatch.setattr(opus_plc.ctypes.util, "find_library", lambda _name: None)
    opus_plc.libopus.cache_clear()
    try:
        with pytest.raises(BenchError, match="found none") as err:
            chain_for("voip-opus-wb")
        assert "\n" not in str(err.value)
        chain_for("pstn-g711u")  # the other codecs do not need it
    finally:
        opus_plc.libopus.cache_clear()
