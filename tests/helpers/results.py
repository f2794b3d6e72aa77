"""Build results documents from labelled scores, as `bench evaluate` would, for leaderboard/gate tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.challenges.taxonomy import get
from bench.evaluation.estimates import estimates, metrics_for
from bench.evaluation.paper_comparison import paper_comparison, rank_challenges, summary
from bench.evaluation.results import ChallengeResult, Result, RunPart, now, run_info, write_scores
from bench.references.pitch import top10


def make_result(folder: Path, separation: float, generator: str = "world", detector: str = "pitch-lite",
                seed: int = 0, corpus_hash: str = "abc123", n: int = 40, challenges=(0, 3, 5, 19)) -> Path:
    """Scores drawn so fakes sit ``separation`` above originals; writes result.json + scores.parquet."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in challenges:
        shift = separation * (0.3 if c == 0 else 1.0)
        for label in (0, 1):
            for i in range(n):
                s = float(np.clip(rng.normal(0.4 + label * shift * 0.2, 0.1), 0, 1))
                rows.append({"utterance_id": f"{c}-{label}-{i}", "label": label, "challenge": c, "score": s,
                             "source_subject": f"s{i % 4}", "in_scope": True})
    labels = np.array([r["label"] for r in rows])
    scores = np.array([r["score"] for r in rows])
    thr = 0.5
    per = []
    paper = paper_comparison("pitch", "freevc")
    for c in challenges:
        idx = np.array([r["challenge"] == c for r in rows])
        m = metrics_for(labels[idx], scores[idx], thr, 300, seed)
        ch = get(c)
        per.append(ChallengeResult(challenge=c, key=ch.key, name=ch.name, paper_auroc=paper.per_challenge.get(c),
                                   **m.model_dump()))
    ranking = rank_challenges(per)
    ten = np.isin([r["challenge"] for r in rows], top10())
    result = Result(created=now(), detector=RunPart(name=detector, version="1.0"), profile=detector,
                    generator=RunPart(name=generator, version="1.0"),
                    corpus={"name": "sim", "content_hash": corpus_hash}, fakes={"name": "f"}, simulated=True,
                    overall=metrics_for(labels, scores, thr, 300, seed), per_challenge=per,
                    top_challenges=[c.challenge for c in per if c.challenge and (c.auroc.value or 0) >= 0.7
                                    and c.challenge in ranking.ranked],
                    ranking=ranking, paper=summary(paper), paper_top10_auroc=estimates(labels[ten], scores[ten], 300,
                                                                                         seed)[0],
                    timings={"rtfx_cpu": 12.0, "latency": {"p50_ms": 40.0, "p95_ms": 80.0,
                                                           "samples_ms": list(rng.uniform(20, 90, 50))}},
                    run=run_info())
    folder.mkdir(parents=True, exist_ok=True)
    result.save(folder / "result.json")
    write_scores(folder / "scores.parquet", rows)
    return folder / "result.json"
