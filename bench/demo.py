"""`bench demo`: the whole benchmark on embedded defaults, offline, in a few minutes on 2 cores.

simulate a challenge corpus -> generate `world` fakes -> train compliance classifiers ->
evaluate pitch-lite -> build the leaderboard. Every step resumes, so an interrupted demo
continues where it stopped when run again.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.corpus import read_manifest


def run_demo(out: str | Path = "demo", speakers: int = 6, sentences: int = 2, seed: int = 0, workers: int = 2,
             log: Callable[[str], None] = print, overwrite: bool = False) -> dict[str, Any]:
    """Run every step into ``out``; returns paths of what was made (``overwrite``: start again from nothing)."""
    from bench.evaluate import evaluate
    from bench.generate import generate
    from bench.outdir import claim_output
    from bench.simcorpus import simulate_corpus
    from challenges.scripts import ENV as SCRIPTS_ENV
    from challenges.scripts import scripts
    from detectors.pitch.compliance import TrainConfig, train_compliance
    from leaderboard.build import build

    scripts()  # a bad BENCH_SCRIPTS is an error before anything is written
    out = Path(out)
    claim_output(out, "demo", {"speakers": speakers, "sentences": sentences, "seed": seed}, overwrite=overwrite,
                 inputs=[os.environ.get(SCRIPTS_ENV)])
    corpus, fakes, compliance = out / "corpus", out / "fakes-world", out / "compliance"
    result_dir, board = out / "results" / "pitch-lite-world", out / "leaderboard"

    log(f"[1/5] simulating a challenge corpus ({speakers} synthetic speakers x 21 challenges x {sentences} "
        f"sentences) -> {corpus}")
    if not read_manifest(corpus).get("content_hash"):
        simulate_corpus(corpus, speakers=speakers, sentences=sentences, seed=seed, workers=workers)
    else:
        log("      already there")
    log(f"[2/5] generating WORLD voice-conversion fakes -> {fakes}")
    generate(corpus, fakes, generator="world", seed=seed, workers=workers)
    log(f"[3/5] training challenge-compliance classifiers (speaker-disjoint, half the speakers held out) "
        f"-> {compliance}")
    train_compliance(corpus, compliance, config=TrainConfig(epochs=8, folds=2, test_speakers=max(1, speakers // 2),
                                                           seed=seed, workers=workers))
    log(f"[4/5] evaluating pitch-lite on originals and fakes -> {result_dir}")
    result = evaluate("pitch-lite", corpus, fakes, result_dir, config={"compliance": str(compliance)},
                      workers=workers, seed=seed, command="bench demo")
    log(f"[5/5] building the leaderboard -> {board}")
    build([result_dir / "result.json"], board, title="bench demo leaderboard (simulated corpus)")
    return {"corpus": corpus, "fakes": fakes, "compliance": compliance, "result": result_dir / "result.json",
            "leaderboard": board / "index.html", "overall_auroc": result.overall.auroc.value,
            "top": result.top_challenges}
