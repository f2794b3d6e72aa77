"""bench latency's parts without a server or a model: an old (schema 1.2) result still loads, bad arguments
are one line, alert times with false alarms and the chunk AUROC, callers are the model's held-out speakers, and a
late caller keeps its phase."""

from __future__ import annotations

import json

import pytest

from bench.evaluation.results import load_latency
from tests.helpers.cli import run_bench


def _schema_1_2_result() -> dict:
    """A latency.json as bench wrote it before schema 1.3 (its compute_floor_ms was the isolated time)."""
    part = {"n": 9, "mean_ms": 5.0, "p50_ms": 4.0, "p95_ms": 8.0, "p99_ms": 9.0, "max_ms": 9.5}
    return {"schema_version": "1.2", "kind": "latency", "created": "2026-11-22T16:30:00Z",
            "detector": {"name": "devox", "version": "1", "config": {"model": "devox@1"}}, "model_version": "m1",
            "profile": "edge-cpu", "engine": "batched", "mode": "raw", "realtime": True, "callers": 3,
            "duration_s": 3.0, "chunks_sent": 9, "verdicts": 9, "dropped": 0, "throughput_chunks_per_s": 3.0,
            "parts": {k: part for k in ("transmission", "queueing", "inference", "server", "reply", "end_to_end")},
            "compute_floor_ms": 1.6, "end_to_end_over_floor": {"p50": 2.5, "p95": 5.0, "p99": 5.6},
            "alerts": {"calls_turning_fake": 3, "alerted": 3, "missed": 0, "false_alarm_chunks_before_the_fake": 6,
                       "n": 3, "p50_ms": 2005.0},
            "timings": {"latency": {"p50_ms": 4.0, "p95_ms": 8.0, "p99_ms": 9.0, "samples_ms": [4.0]}}}


def test_a_schema_1_2_latency_result_still_loads_with_its_floor_read_as_the_isolated_time(tmp_path):
    from bench.leaderboard.latency import load_latency_rows, markdown

    (tmp_path / "latency.json").write_text(json.dumps(_schema_1_2_result()))
    r = load_latency(tmp_path)
    assert r.schema_version == "1.3" and r.isolated_inference_ms == 1.6 and r.compute_floor_ms is None
    assert r.end_to_end_over_isolated["p95"] == 5.0 and r.end_to_end_over_floor == {}
    assert r.alerts["false_alarm_chunks"] == 6 and "chunk_auroc" not in r.alerts
    assert any("read from latency schema 1.2" in n for n in r.notes)
    row = next(line for line in markdown(load_latency_rows([tmp_path])) if "devox@1" in line)
    assert "| 1.60 (5.0x) | – |" in row  # isolated time and its multiple; no MAC floor was measured
    (tmp_path / "latency.json").write_text(json.dumps({**_schema_1_2_result(), "schema_version": "0.9"}))
    res = run_bench("gate", "--baseline", str(tmp_path / "latency.json"), "--current", str(tmp_path / "latency.json"))
    assert res.returncode == 2 and "schema version '0.9'" in res.stderr


def test_bad_latency_arguments_are_one_line_errors(tmp_path):
    import torch

    cases = [(["--model", "x@1", "--profile", "moon", "--out", str(tmp_path / "a")], "unknown profile"),
             (["--model", "nosuchmodel@3", "--out", str(tmp_path / "b")], "nosuchmodel"),
             (["--model", "x@1", "--mode", "video", "--out", str(tmp_path / "c")], "--mode"),
             (["--model", "x@1", "--loop", "trio", "--out", str(tmp_path / "d")], "--loop")]
    for args, message in cases:
        res = run_bench("latency", *args)
        assert res.returncode == 2 and message in res.stderr and len(res.stderr.strip().splitlines()) == 1, res.stderr
    if not torch.cuda.is_available():
        res = run_bench("latency", "--model", "x@1", "--profile", "core-gpu", "--out", str(tmp_path / "gpu"))
        assert res.returncode == 0 and "skipped: the core-gpu profile needs a CUDA GPU" in res.stdout + res.stderr
        assert not (tmp_path / "gpu" / "latency.json").exists()


def _verdicts(scores_by_call: list[list[float]], threshold: float = 0.0) -> tuple[list[dict], list[dict]]:
    """Verdict rows and caller infos of calls of 1-s chunks turning fake at 2 s, scored ``scores_by_call``."""
    rows, info = [], []
    for k, scores in enumerate(scores_by_call):
        info.append({"sent": len(scores), "t0_wall": 0.0, "n_frames": len(scores), "fake_start": 2.0})
        rows += [{"caller": k, "seq": i, "score": s, "alert": s > threshold, "t_client_received": 1000.0 * (i + 1)}
                 for i, s in enumerate(scores)]
    return rows, info


def test_alert_times_come_with_false_alarms_and_the_chunk_auroc():
    from bench.serve.latency import _alerts

    # a detector that alerts on everything: every call "alerted 1 s after the fake", and every real chunk too
    everything = _alerts(*_verdicts([[1.0, 1.0, 1.0, 1.0]] * 3), chunk_s=1.0)
    assert everything["alerted"] == 3 and everything["p50_ms"] == pytest.approx(2000.0)
    assert everything["false_alarm_chunks"] == everything["real_chunks"] == 6
    assert everything["false_alarm_calls"] == everything["calls"] == 3
    assert everything["chunk_auroc"] == 0.5 and "does not separate these calls" in everything["caveat"]
    # one that separates the calls: no false alarm, AUROC 1, no caveat
    good = _alerts(*_verdicts([[-1.0, -0.5, 0.5, 1.0], [-2.0, -1.0, 2.0, 3.0]]), chunk_s=1.0)
    assert good["false_alarm_chunks"] == good["false_alarm_calls"] == 0 and good["real_chunks"] == 4
    assert good["chunk_auroc"] == 1.0 and good["caveat"] is None and good["alerted"] == 2


def test_callers_are_the_models_held_out_speakers_only_on_the_corpus_it_trained_on():
    from bench.serve.callers import held_out_speakers

    training = {"corpus": {"content_hash": "abc"}, "splits": {"train": ["s1", "s2"], "test": ["s3", "s9"]}}
    assert held_out_speakers(training, {"abc", "old"}, ["s1", "s2", "s3"]) == ["s3"]
    assert held_out_speakers(training, {"other"}, ["s1", "s2", "s3"]) == []  # a new corpus: every speaker is unseen
    assert held_out_speakers({}, {"abc"}, ["s1"]) == [] and held_out_speakers(None, {"abc"}, ["s1"]) == []


def test_a_late_caller_keeps_its_phase():
    from bench.serve.callers import first_slot

    assert first_slot(10.25, 10.0, 1.0) == 10.25  # connected early: its planned start
    assert first_slot(10.25, 10.25, 1.0) == 10.25
    assert first_slot(10.25, 11.9, 1.0) == 12.25  # connected late: the next slot of its own phase
    assert first_slot(10.25, 12.25001, 1.0) == 13.25 and first_slot(0.0, 0.3, 0.5) == 0.5
