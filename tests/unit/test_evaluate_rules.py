"""What `bench evaluate` computes, without a run: Pitch's degradation score and the rule that ranks only
challenges with narrow confidence intervals on enough samples."""

from __future__ import annotations

import pytest

from bench.detectors.pitch.detector import degradation


def test_degradation_formula():
    assert degradation(1.0, 0.0, 5.0) == (0.0, 3)
    assert degradation(0.0, 1.0, 0.0) == (1.0, 3)
    d, n = degradation(0.5, 0.2, 4.0)
    assert n == 3 and d == pytest.approx(((1 - 0.5) + 0.2 + (1 - 4.0 / 5)) / 3)
    assert degradation(None, 0.4, 3.0) == (pytest.approx((0.4 + 0.4) / 2), 2)  # #0: no compliance term
    assert degradation(0.8, None, 3.0) == (pytest.approx((0.2 + 0.4) / 2), 2)  # #16: no content term


def test_ranking_rule_needs_narrow_cis_and_enough_samples():
    from bench.evaluation.paper_comparison import rank_challenges, worst_case_halfwidth
    from bench.evaluation.results import ChallengeResult, Estimate

    def result(cid, n, lo, hi):
        return ChallengeResult(challenge=cid, key="k", name="n", n_bona_fide=n, n_fake=n,
                               auroc=Estimate(value=(lo + hi) / 2, ci_low=lo, ci_high=hi), eer=Estimate(value=0.1))

    assert worst_case_halfwidth(70, 70) <= 0.10 < worst_case_halfwidth(60, 60)
    ranking = rank_challenges([result(1, 6, 1.0, 1.0),  # a bootstrap collapsed on 6 + 6 samples: not evidence
                               result(2, 70, 0.80, 0.95), result(3, 70, 0.60, 0.85), result(4, 200, 0.9, 0.9)])
    assert ranking.ranked == [2, 4] and ranking.too_wide == [1, 3]


def test_pitch_lite_recipes():
    """pitch-lite 1.1 is the default; --set recipe=1.0 restores 1.0's decoding and P.835 OVRL realism; the pitch
    profile's DNSMOS fallback stays the overall MOS; an unknown recipe is one line."""
    from bench.api import BenchError
    from bench.detectors.pitch.detector import RECIPES, PitchFull, PitchLite

    lite = PitchLite(compliance="unused")
    assert lite.config["recipe"] == "1.1" and (lite.asr, lite.realism) == RECIPES["1.1"]
    assert lite.realism["output"] == "p808" and lite.asr["timestamps"] is False
    old = PitchLite(compliance="unused", recipe="1.0")
    assert old.asr == {"backend": "faster-whisper", "window_s": 10.0, "beam_size": 1}
    assert old.realism == {"backend": "dnsmos", "max_windows": 1}
    assert PitchFull(compliance="unused", nisqa_weights="/nonexistent").realism in (
        {"backend": "dnsmos", "max_windows": 1}, )
    with pytest.raises(BenchError, match="recipe='2.0'"):
        PitchLite(compliance="unused", recipe="2.0")
