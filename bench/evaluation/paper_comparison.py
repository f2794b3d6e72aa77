"""Our figures beside the paper's: which quoted series a result is compared with, and the
rule that keeps noise out of our own per-challenge ranking."""

from __future__ import annotations

import math

from bench.evaluation.results import MAX_CI_HALFWIDTH, ChallengeResult, PaperComparison, Ranking
from bench.references.pitch import Series, paper_series, series, top10, top10_auroc


def paper_comparison(paper_name: str | None, generator: str | None) -> Series | None:
    """The paper's series for a detector (its ``paper_name``): against the same generator when the paper
    has one (StarGANv2-VC, PPG-VC), else against FreeVC, the paper's main generator. None if not in the paper."""
    if not paper_name:
        return None
    same = series(paper_name, generator) if generator else []
    return same[0] if same else paper_series(paper_name, "freevc")


def summary(s: Series) -> PaperComparison:
    """What a result records of the quoted series it is compared with."""
    pitch = s.detector == "pitch" and s.generator == "freevc"
    return PaperComparison(detector=s.detector, system=s.system, generator=s.generator, source=f"Pitch {s.source}",
                           average_auroc=s.average, top10=top10(), top10_auroc=top10_auroc() if pitch else None,
                           no_challenge_auroc=s.per_challenge.get(0))


def worst_case_halfwidth(n_bona_fide: int, n_fake: int) -> float:
    """The widest 95% CI half-width of an AUROC these sample sizes allow (at AUROC 0.5, normal approximation
    of the Mann-Whitney statistic's variance): 1.96 * sqrt((n0 + n1 + 1) / (12 n0 n1))."""
    if n_bona_fide < 1 or n_fake < 1:
        return math.inf
    return 1.96 * math.sqrt((n_bona_fide + n_fake + 1) / (12 * n_bona_fide * n_fake))


def rank_challenges(per_challenge: list[ChallengeResult], max_halfwidth: float = MAX_CI_HALFWIDTH) -> Ranking:
    """Challenges that may be ranked: the AUROC's bootstrap 95% CI half-width is at most ``max_halfwidth``, and
    so is the widest half-width the sample sizes allow (a bootstrap on a handful of samples can collapse to
    [1, 1]; that is not evidence). The rest are ``too_wide``."""
    ranked, too_wide = [], []
    for c in per_challenge:
        hw = c.ci_halfwidth
        ok = hw is not None and hw <= max_halfwidth and worst_case_halfwidth(c.n_bona_fide, c.n_fake) <= max_halfwidth
        (ranked if ok else too_wide).append(c.challenge)
    return Ranking(max_ci_halfwidth=max_halfwidth, ranked=ranked, too_wide=too_wide)
