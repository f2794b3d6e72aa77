"""`bench demo`: the whole benchmark on embedded defaults, offline, in a few minutes on 2 cores.

simulate a challenge corpus -> generate `world` fakes -> train compliance classifiers ->
evaluate pitch-lite -> simulated human ratings and the human-AI report -> build the
leaderboard. Every step resumes, so an interrupted demo
continues where it stopped when run again.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.api.registry import TOOLS
from bench.data.corpus import read_manifest
from bench.errors import BenchError

#: demo sizes. ``small`` is the two-command demo (minutes on 2 cores; per-challenge CIs too wide to rank
#: challenges). ``paper-shape`` has 7 held-out speakers x 10 sentences (Table A.1's ten) per challenge, so
#: each challenge's AUROC rests on 70 originals and 70 fakes: a 95% CI half-width of at most 10 AUROC points
#: even at AUROC 0.5 (9.6; measured in BENCHMARKS.md); training speakers' samples are not scored.
SIZES: dict[str, dict[str, Any]] = {
    "small": {"speakers": 6, "sentences": 2, "held_out_only": False},
    "paper-shape": {"speakers": 14, "sentences": 10, "held_out_only": True},
}


def run_demo(out: str | Path = "demo", speakers: int | None = None, sentences: int | None = None, seed: int = 0,
             workers: int = 2, log: Callable[[str], None] = print, overwrite: bool = False,
             size: str = "small") -> dict[str, Any]:
    """Run every step into ``out``; returns paths of what was made (``overwrite``: start again from nothing).

    ``size`` picks a preset (``SIZES``); ``speakers`` and ``sentences`` override it.
    """
    from bench.challenges.scripts import scripts, scripts_file
    from bench.leaderboard.build import build
    from bench.outdir import claim_output
    from bench.runs.evaluate import evaluate
    from bench.runs.generate import generate
    from bench.runs.human_report import report, simulate
    from bench.runs.simulate_corpus import simulate_corpus

    if size not in SIZES:
        raise BenchError(f"--size must be one of {', '.join(SIZES)}, got {size!r}")
    preset = SIZES[size]
    speakers = preset["speakers"] if speakers is None else speakers
    sentences = preset["sentences"] if sentences is None else sentences
    if speakers < 4 or not 2 <= sentences <= 10:
        raise BenchError("the demo needs at least 4 speakers and 2-10 sentences")
    scripts()  # a bad BENCH_SCRIPTS is an error before anything is written
    out = Path(out)
    claim_output(out, "demo", {"speakers": speakers, "sentences": sentences, "seed": seed}, overwrite=overwrite,
                 inputs=[scripts_file()])
    corpus, fakes, compliance = out / "corpus", out / "fakes-world", out / "compliance"
    result_dir, board = out / "results" / "pitch-lite-world", out / "leaderboard"
    ratings, human = out / "human-ratings", out / "human"

    log(f"[1/6] simulating a challenge corpus ({speakers} synthetic speakers x 21 challenges x {sentences} "
        f"sentences) -> {corpus}")
    if not read_manifest(corpus).get("content_hash"):
        simulate_corpus(corpus, speakers=speakers, sentences=sentences, seed=seed, workers=workers)
    else:
        log("      already there")
    log(f"[2/6] generating WORLD voice-conversion fakes -> {fakes}")
    generate(corpus, fakes, generator="world", seed=seed, workers=workers)
    log(f"[3/6] training challenge-compliance classifiers (speaker-disjoint, half the speakers held out) "
        f"-> {compliance}")
    training = TOOLS.create("compliance-training")
    config = training.TrainConfig(epochs=8, folds=2, test_speakers=max(1, speakers // 2), seed=seed, workers=workers)
    training.train(corpus, compliance, config=config)
    log(f"[4/6] evaluating pitch-lite on originals and fakes -> {result_dir}")
    result = evaluate("pitch-lite", corpus, fakes, result_dir, config={"compliance": str(compliance)},
                      workers=workers, seed=seed, command=f"bench demo --size {size}",
                      held_out_only=preset["held_out_only"])
    log(f"[5/6] SIMULATED human ratings (a model of Pitch Tables 4-5, not people) and the human-AI report "
        f"-> {human}")
    simulate(result_dir, ratings, seed=seed)
    report(result_dir, ratings / "ratings.csv", human)
    log(f"[6/6] building the leaderboard -> {board}")
    build([result_dir / "result.json"], board, title="bench demo leaderboard (simulated corpus)", human=[human])
    return {"corpus": corpus, "fakes": fakes, "compliance": compliance, "result": result_dir / "result.json",
            "leaderboard": board / "index.html", "human": human / "README.md",
            "overall_auroc": result.overall.auroc.value,
            "top": result.top_challenges}
