"""bench latency: the harness starts a real `bench serve` process under the edge-cpu profile and drives it with
concurrent callers streaming real calls that turn fake; its result feeds bench gate and the leaderboard."""

from __future__ import annotations

import json

import pytest
from conftest import run_bench
from results_factory import make_result

from bench.evaluation.results import load_latency


@pytest.fixture(scope="module")
def measured(devox_model, zoo_inputs, tmp_path_factory):
    root, env, _ = devox_model
    out = tmp_path_factory.mktemp("lat") / "raw"
    res = run_bench("latency", "--model", "devox-small@1", "--callers", "3", "--duration", "3", "--corpus",
                    str(zoo_inputs / "corpus"), "--fakes", str(zoo_inputs / "fakes"), "--out", str(out), env=env)
    assert res.returncode == 0, res.stderr
    return env, out, res.stdout


@pytest.mark.slow
def test_the_harness_measures_every_chunk_of_every_caller(measured, zoo_inputs):
    env, out, stdout = measured
    r = load_latency(out)
    assert r.profile == "edge-cpu" and r.profile_settings["cores"] == 1 and r.profile_settings["threads"] == 1
    assert r.callers == 3 and r.chunks_sent == 9 and r.verdicts == 9 and r.dropped == 0 and not r.errors
    p = r.parts
    for part in ("transmission", "queueing", "inference", "server", "reply", "end_to_end"):
        assert p[part].n == 9 and p[part].p50_ms <= p[part].p95_ms <= p[part].p99_ms <= p[part].max_ms
    assert p["inference"].p95_ms <= p["server"].max_ms <= p["end_to_end"].max_ms
    # two references, under their own names: the model scoring one chunk alone, and MACs / measured peak rate
    assert r.isolated_inference_ms > 0 and r.end_to_end_over_isolated["p95"] == pytest.approx(
        p["end_to_end"].p95_ms / r.isolated_inference_ms)
    assert r.compute_floor["macs_per_chunk"] > 0 and r.compute_floor["peak_macs_per_s"] > 0
    assert r.compute_floor_ms == pytest.approx(
        1000 * r.compute_floor["macs_per_chunk"] / r.compute_floor["peak_macs_per_s"])
    assert 0 < r.compute_floor_ms < r.isolated_inference_ms
    assert r.end_to_end_over_floor["p95"] == pytest.approx(p["end_to_end"].p95_ms / r.compute_floor_ms)
    # the server's CPU per chunk while the callers ran, in its inference threads and outside them
    c = r.server_cpu
    assert c["chunks"] == 9 and c["inference_cpu_s"] > 0 and c["process_cpu_s"] >= c["inference_cpu_s"]
    assert c["inference_ms_per_chunk"] == pytest.approx(1000 * c["inference_cpu_s"] / 9)
    assert c["outside_inference_ms_per_chunk"] == pytest.approx(1000 * (c["process_cpu_s"] - c["inference_cpu_s"]) / 9)
    assert 0 < c["cores_busy"] <= 1.05  # pinned to one core
    assert "server CPU per chunk while the callers ran" in stdout
    # end-to-end once every caller was connected: the chunks the last caller to connect and the others sent after
    ac = r.all_connected
    assert 3 <= ac["n"] <= 9 and ac["from_s"] >= 0 and ac["p50_ms"] <= ac["p95_ms"] <= ac["max_ms"]
    assert "end-to-end once all 3 caller(s) were connected" in stdout
    assert r.profile_settings["server_event_loop"] == r.profile_settings["callers_event_loop"] == "uvloop"
    a = r.alerts
    assert a["calls_turning_fake"] == 3 and a["alerted"] + a["missed"] == 3
    # 3 s of each 4-s call (fake from 2 s): chunks 0 and 1 real, chunk 2 fake; false alarms and AUROC beside
    assert a["calls"] == 3 and a["real_chunks"] == 6 and a["fake_chunks"] == 3
    assert 0 <= a["false_alarm_chunks"] <= 6 and 0 <= a["false_alarm_calls"] <= 3
    assert a["false_alarm_calls"] <= a["false_alarm_chunks"] <= 2 * a["false_alarm_calls"]
    assert 0.0 <= a["chunk_auroc"] <= 1.0
    assert r.timings["latency"]["p95_ms"] == p["end_to_end"].p95_ms and len(r.timings["latency"]["samples_ms"]) == 9
    assert r.paper[0]["inference_ms_mean"] == 1150.0 and r.simulated
    assert "DevoX Table 3 mean (quoted)" in stdout and "2,118" in stdout
    assert "isolated inference time (one chunk alone" in stdout and "compute floor (MACs / peak MAC rate)" in stdout
    assert f"{a['false_alarm_chunks']} of 6 real chunks, {a['false_alarm_calls']} of 3 calls" in stdout
    assert "chunk AUROC of the streamed calls" in stdout
    # a detector that does not separate the calls gets its alert times flagged, in the result and the CLI
    assert (a["caveat"] is not None) == (a["chunk_auroc"] < 0.75 or a["false_alarm_chunks"] == 6)
    assert (a["caveat"] is not None) == ("warning: the detector does not separate these calls" in stdout)
    assert (a["caveat"] is not None) == (a["caveat"] in r.notes)


@pytest.mark.slow
def test_gate_and_leaderboard_read_latency_results(measured, tmp_path):
    env, out, _ = measured
    same = run_bench("gate", "--baseline", str(out / "latency.json"), "--current", str(out / "latency.json"))
    assert same.returncode == 0, same.stdout + same.stderr
    doc = json.loads((out / "latency.json").read_text())
    doc["parts"]["end_to_end"]["p95_ms"] *= 3
    doc["dropped"] = 2
    (tmp_path / "worse.json").write_text(json.dumps(doc))
    worse = run_bench("gate", "--baseline", str(out / "latency.json"), "--current", str(tmp_path / "worse.json"),
                      "--json")
    assert worse.returncode == 1
    checks = {c["metric"]: c["status"] for c in json.loads(worse.stdout)["checks"]}
    assert checks["end-to-end p95 (ms)"] == "regression" and checks["dropped chunks (fraction)"] == "regression"
    detection = make_result(tmp_path / "det", 1.0)
    mixed = run_bench("gate", "--baseline", str(detection), "--current", str(out / "latency.json"))
    assert mixed.returncode == 2 and "like with like" in mixed.stderr
    board = tmp_path / "board"
    res = run_bench("leaderboard", "build", str(detection), "--latency", str(out), "--out", str(board))
    assert res.returncode == 0, res.stderr
    text = (board / "README.md").read_text()
    assert "## Edge-server latency per 1-second chunk" in text and "DevoX Table 3 (quoted)" in text
    assert "devox-small@1" in text and "id=latency" in (board / "index.html").read_text()
    assert "isolated inference ms (p95 / it)" in text and "compute floor ms, MACs / peak (p95 / it)" in text
    assert "false alarms before the fake" in text and "chunk AUROC" in text


@pytest.mark.slow
def test_privacy_mode_as_fast_as_possible_and_the_naive_server(devox_model, zoo_inputs, tmp_path):
    root, env, _ = devox_model
    for engine in ("batched", "naive"):
        res = run_bench("latency", "--model", "devox-small@1", "--callers", "2", "--duration", "2", "--fast",
                        "--mode", "privacy", "--engine", engine, "--corpus", str(zoo_inputs / "corpus"), "--fakes",
                        str(zoo_inputs / "fakes"), "--out", str(tmp_path / engine), "--json", env=env)
        assert res.returncode == 0, res.stderr
        r = load_latency(tmp_path / engine)
        assert r.engine == engine and r.mode == "privacy" and not r.realtime
        assert r.verdicts == r.chunks_sent > 4 and r.dropped == 0
        # --json: stdout is the result alone; the progress lines went to stderr
        assert json.loads(res.stdout)["chunks_sent"] == r.chunks_sent and "starting bench serve" in res.stderr
        # privacy mode: the server half's cost, smaller than the whole model's
        assert 0 < r.compute_floor_ms < r.isolated_inference_ms and r.compute_floor["macs_per_chunk"] > 0


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
