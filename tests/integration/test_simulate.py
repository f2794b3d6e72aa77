"""The session's simulated corpus: layout, summary, and measured acoustic properties per challenge (the
simulator's determinism: tests/unit/test_simulator.py)."""

from __future__ import annotations

import datasets
import numpy as np
import pytest

from bench.audio import load_entry
from bench.challenges.taxonomy import get
from bench.data.corpus import open_dataset, read_manifest, summarize
from bench.dsp import acoustics as ac
from bench.dsp.world import f0_track


@pytest.fixture(scope="module")
def clips(sim_corpus):
    """(subject, challenge, sentence_id) -> audio, for the desktop rows."""
    ds = open_dataset(sim_corpus)
    return {(r["subject"], r["challenge"], r["sentence_id"]): load_entry(r["audio"]) for r in ds}


def _pairs(clips, key):
    """(challenge clip, no-challenge clip of the same speaker and sentence) pairs for a challenge key.

    Keys, not ids: each key must still render its own challenge whatever id the taxonomy gives it."""
    challenge = get(key).id
    pairs = [(x, clips[(s, 0, k)]) for (s, c, k), x in clips.items() if c == challenge]
    assert pairs, key
    return pairs


def test_corpus_layout_and_readback(sim_corpus):
    ds = datasets.load_from_disk(str(sim_corpus))
    assert len(ds) == 2 * 21 * 2
    assert sorted(set(ds["challenge"])) == list(range(21))
    assert set(ds["sample_rate"]) == {16000}
    manifest = read_manifest(sim_corpus)
    assert manifest["simulated"] is True and manifest["failures"] == []
    x = load_entry(ds[0]["audio"])
    assert x.dtype == np.float32 and len(x) / 16000 == pytest.approx(ds[0]["duration_s"], abs=1e-3)


def test_whisper_has_no_voicing(clips):
    for x, ref in _pairs(clips, "whisper"):
        assert ac.voiced_fraction(x) < 0.05 < 0.5 < ac.voiced_fraction(ref)


@pytest.mark.parametrize("challenge, lo, hi", [("high_pitch", 1.3, 2.0), ("low_pitch", 0.6, 0.85)])
def test_pitch_challenges_shift_median_f0(clips, challenge, lo, hi):
    for x, ref in _pairs(clips, challenge):
        assert lo < ac.median_f0(x) / ac.median_f0(ref) < hi


def test_loud_and_soft_levels(clips):
    for x, ref in _pairs(clips, "loud"):
        assert ac.active_level_db(x) > ac.active_level_db(ref) + 6
        assert ac.spectral_centroid(x) > ac.spectral_centroid(ref)
    for x, ref in _pairs(clips, "soft"):
        assert ac.active_level_db(x) < ac.active_level_db(ref) - 8


def test_quick_and_slow_durations(clips):
    for x, ref in _pairs(clips, "quick"):
        assert len(x) < 0.85 * len(ref)
    for x, ref in _pairs(clips, "slow"):
        assert len(x) > 1.25 * len(ref)


def test_cupped_mouth_and_held_nose_change_resonances(clips):
    for x, ref in _pairs(clips, "cup_mouth"):
        assert ac.band_energy_ratio(x, 2000, 8000) < 0.3 * ac.band_energy_ratio(ref, 2000, 8000)
    for x, ref in _pairs(clips, "hold_nose"):
        assert ac.band_energy_ratio(x, 850, 1300) < 0.6 * ac.band_energy_ratio(ref, 850, 1300)


def _semitone_error(x):
    f0 = f0_track(x)
    semis = 12 * np.log2(f0[f0 > 0] / 440.0)
    return np.abs(semis - np.round(semis))


def test_singing_is_note_quantised(clips):
    for x, ref in _pairs(clips, "sing"):
        sung, spoken = _semitone_error(x), _semitone_error(ref)
        assert np.mean(sung < 0.2) > 0.65 > 0.5 > np.mean(spoken < 0.2)


def _log_f0_std(x):
    f0 = f0_track(x)
    return float(np.std(np.log2(f0[f0 > 0])))


def test_emotion_widens_f0_range(clips):
    for x, ref in _pairs(clips, "emotion"):
        assert _log_f0_std(x) > 1.3 * _log_f0_std(ref)


def test_question_rises_at_the_end(clips):
    for x, _ in _pairs(clips, "question"):
        f0 = f0_track(x)
        voiced = f0[f0 > 0]
        tail = voiced[int(0.85 * len(voiced)):]
        assert np.median(tail) > 1.15 * np.median(voiced[: int(0.6 * len(voiced))])


def test_static_mouth_reduces_articulation(clips):
    def envelope_motion(x):
        frames = np.lib.stride_tricks.sliding_window_view(x, 512)[::160]
        spec = np.log(np.abs(np.fft.rfft(frames * np.hanning(512), axis=1)) + 1e-6)
        loud = frames.std(axis=1) > 0.1 * frames.std(axis=1).max()
        return float(np.mean(np.abs(np.diff(spec[loud][:, 10:120], axis=0))))
    for x, ref in _pairs(clips, "static_mouth"):
        assert envelope_motion(x) < envelope_motion(ref)


def test_nonverbal_has_no_speech_voicing(clips):
    for x, ref in _pairs(clips, "nonverbal"):
        assert ac.voiced_fraction(x) < 0.3 < ac.voiced_fraction(ref)


def test_claps_add_transients(clips):
    def crest(x):
        return float(np.max(np.abs(x)) / np.sqrt(np.mean(x**2)))
    for x, ref in _pairs(clips, "clap"):
        assert crest(x) > 1.3 * crest(ref)


def test_cross_talk_adds_a_second_voice(clips):
    for x, ref in _pairs(clips, "cross_talk"):
        assert len(x) > len(ref) + 0.2 * 16000
        assert np.mean(ac.frame_rms_db(x) > -45) > np.mean(ac.frame_rms_db(ref) > -45)


@pytest.mark.parametrize("challenge", ["instrumental_playback", "lyrical_playback"])
def test_playback_puts_music_under_the_voice(clips, challenge):
    for x, ref in _pairs(clips, challenge):
        floor_x = np.percentile(ac.frame_rms_db(x), 10)
        floor_ref = np.percentile(ac.frame_rms_db(ref), 10)
        assert floor_x > floor_ref + 20


def test_lyrical_playback_carries_more_voicing_than_instrumental(clips):
    lyr = [ac.voiced_fraction(x) for x, _ in _pairs(clips, "lyrical_playback")]
    assert min(lyr) > 0.3


def test_summary_counts(sim_corpus):
    s = summarize(open_dataset(sim_corpus))
    assert s["subjects"] == 2 and s["per_device"] == {"desktop": 84}
    assert all(n == 4 for n in s["per_challenge"].values())
