"""Reading results into leaderboard rows: validated results with their per-sample scores, the caveats a reader
must see, and the ``bench privacy`` reports shown beside them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.errors import BenchError
from bench.evaluation.results import Result, load_result, read_scores


def _entry_id(r: Result, i: int) -> str:
    return f"e{i}"


def _identity(r: Result) -> str:
    """What makes two results the same run: detector, generator, data and settings (not the date)."""
    return json.dumps([r.detector.model_dump(), r.generator.model_dump(), r.corpus.get("content_hash"),
                       r.fakes.get("content_hash"), r.profile], sort_keys=True, default=str)


def load_entries(paths: list[str | Path]) -> list[dict[str, Any]]:
    """Validated results plus the location of their per-sample scores; the same result twice is an error."""
    if not paths:
        raise BenchError("give at least one results JSON (or a folder containing result.json)")
    entries = []
    seen: dict[str, str] = {}
    for i, p in enumerate(paths):
        p = Path(p)
        if p.is_dir():
            p = p / "result.json"
        r = load_result(p)
        for key in (str(p.resolve()), _identity(r)):
            if key in seen:
                raise BenchError(f"{p} is the same result as {seen[key]}; give each result once")
            seen[key] = str(p)
        scores = p.parent / "scores.parquet"
        entries.append({"id": _entry_id(r, i), "path": str(p), "result": r,
                        "scores": _read_scores(scores) if scores.is_file() else None})
    return entries


def _read_scores(path: Path) -> list[dict[str, Any]]:
    """Per-sample rows of a ``scores.parquet`` (label, challenge, score); one-line error if unusable."""
    rows = read_scores(path)
    missing = {"label", "challenge", "score"} - set(rows[0] if rows else {})
    if missing:
        raise BenchError(f"{path}: scores lack the column(s) {', '.join(sorted(missing))}")
    return rows


def caveats(r: Result) -> list[str]:
    """What a reader must know before comparing this result with others (shown on every page)."""
    out = []
    if r.evaluation_scope.get("in_sample"):
        out.append("in-sample: metrics include speakers the detector was trained on (not ranked)")
    if r.evaluation_scope.get("skipped_samples"):
        out.append(f"{len(r.evaluation_scope['skipped_samples'])} undecodable sample(s) left out")
    out += [str(c) for c in r.evaluation_scope.get("score_caveats") or []]
    return out


def _value(est: Any) -> float | None:
    return est.value if est is not None else None


def system_label(r: Result) -> str:
    """How a row names its system: the detector, and its profile or trained model (``NAME@VERSION``)."""
    model = r.detector.config.get("model")
    extra = r.profile or (model if isinstance(model, str) and model else None)
    return f"{r.detector.name} ({extra})" if extra and extra != r.detector.name else r.detector.name


def channel_name(r: Result) -> str:
    """The telephone channel the result's recordings went through (``bench data channel``): its profile,
    ``custom`` for a chain of the user's own parts, ``clean`` for none."""
    ch = r.corpus.get("channel")
    return "clean" if not ch else (ch.get("profile") or "custom")


def row(e: dict[str, Any]) -> dict[str, Any]:
    """An entry as leaderboard.json lists it (ranks, privacy and latency are added by the build)."""
    r: Result = e["result"]
    lat = r.timings.get("latency") or {}
    o = r.overall
    spread = r.seeds
    return {
        "id": e["id"], "detector": r.detector.name, "system": system_label(r), "profile": r.profile,
        "model": r.detector.config.get("model"), "paper_name": r.paper.detector if r.paper else None,
        "generator": r.generator.name, "channel": channel_name(r),
        "training_data": r.evaluation_scope.get("training_data"),
        "corpus": r.corpus.get("name"), "corpus_hash": r.corpus.get("content_hash"),
        "revision": r.corpus.get("revision"), "simulated": r.simulated, "date": r.created,
        "auroc": r.overall.auroc.value, "auroc_ci": [r.overall.auroc.ci_low, r.overall.auroc.ci_high],
        "eer": r.overall.eer.value, "eer_ci": [r.overall.eer.ci_low, r.overall.eer.ci_high],
        "top_n_auroc": r.top_n_auroc.value if r.top_n_auroc else None, "top_challenges": r.top_challenges,
        "paper_top10_auroc": r.paper_top10_auroc.value if r.paper_top10_auroc else None,
        "paper_top10_auroc_ci": [r.paper_top10_auroc.ci_low, r.paper_top10_auroc.ci_high] if r.paper_top10_auroc
        else [None, None],
        "paper": r.paper.model_dump() if r.paper else None, "unranked_challenges": r.ranking.too_wide,
        "n_bona_fide": r.overall.n_bona_fide, "n_fake": r.overall.n_fake,
        "rtfx": r.timings.get("rtfx_cpu"), "latency_p50_ms": lat.get("p50_ms"), "latency_p95_ms": lat.get("p95_ms"),
        "version": r.run.packages.get("vc-challenge-bench"), "git_sha": (r.run.git_sha or "")[:10],
        "caveats": caveats(r), "ranked": not r.evaluation_scope.get("in_sample"),
        "accuracy": _value(o.accuracy), "f1": _value(o.f1), "min_dcf": _value(o.min_dcf),
        "act_dcf": _value(o.act_dcf), "cllr": _value(o.cllr), "threshold": o.threshold,
        "seeds": spread.seeds if spread else None,
        "auroc_seed_mean": spread.auroc.mean if spread else None,
        "auroc_seed_std": spread.auroc.std if spread else None,
        "per_challenge": {c.challenge: {"auroc": c.auroc.value, "ci": [c.auroc.ci_low, c.auroc.ci_high],
                                        "eer": c.eer.value, "n_bona_fide": c.n_bona_fide, "n_fake": c.n_fake,
                                        "seed_std": spread.per_challenge_auroc[c.challenge].std
                                        if spread and c.challenge in spread.per_challenge_auroc else None}
                          for c in r.per_challenge},
    }


def load_privacy(paths: list[str | Path]) -> list[dict[str, Any]]:
    """``bench privacy`` reports (privacy.json files or their folders), summarised for the leaderboard."""
    out = []
    for p in paths:
        f = Path(p) / "privacy.json" if Path(p).is_dir() else Path(p)
        try:
            rep = json.loads(f.read_text())
        except (OSError, ValueError):
            raise BenchError(f"{p}: not a privacy report (bench privacy writes privacy.json)") from None
        if not isinstance(rep, dict) or rep.get("schema") != "bench.privacy/1":
            raise BenchError(f"{p}: not a bench.privacy/1 report")
        c, i = rep["content"], rep["identity"]
        out.append({"detector": rep["detector"], "model": rep["model"], "simulated": rep.get("simulated"),
                    "bytes_per_second": rep["message"]["bytes"], "pcm16_8k_bytes": rep["message"]["pcm16_8k_bytes"],
                    "wil_original": c["original"]["wil"], "wil_reconstructed": c["reconstructed"]["wil"],
                    "wil_band_limited": (c.get("band_limited_8k") or {}).get("wil"),
                    "wil_decoder_with_indices": (c.get("decoder_with_pooling_indices") or {}).get("wil"),
                    "speaker_accuracy_features": i["features"]["accuracy"],
                    "speaker_accuracy_raw": i["raw_audio_logmel"]["accuracy"], "chance": i["features"]["chance"],
                    "n_speakers": i["features"]["n_speakers"], "n_recordings": c["n_recordings"]})
    return out
