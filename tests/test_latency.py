"""bench latency: the harness starts a real `bench serve` process under the edge-cpu profile and drives it with
concurrent callers streaming real calls that turn fake; its result feeds bench gate and the leaderboard."""

from __future__ import annotations

import json

import pytest
from conftest import run_bench
from results_factory import make_result

from bench.results import load_latency


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
    assert r.compute_floor_ms > 0 and r.end_to_end_over_floor["p95"] == pytest.approx(
        p["end_to_end"].p95_ms / r.compute_floor_ms)
    assert r.alerts["calls_turning_fake"] == 3 and r.alerts["alerted"] + r.alerts["missed"] == 3
    assert r.timings["latency"]["p95_ms"] == p["end_to_end"].p95_ms and len(r.timings["latency"]["samples_ms"]) == 9
    assert r.paper[0]["inference_ms_mean"] == 1150.0 and r.simulated
    assert "DevoX Table 3 mean (quoted)" in stdout and "2,118" in stdout


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


@pytest.mark.slow
def test_privacy_mode_as_fast_as_possible_and_the_naive_server(devox_model, zoo_inputs, tmp_path):
    root, env, _ = devox_model
    for engine in ("batched", "naive"):
        res = run_bench("latency", "--model", "devox-small@1", "--callers", "2", "--duration", "2", "--fast",
                        "--mode", "privacy", "--engine", engine, "--corpus", str(zoo_inputs / "corpus"), "--fakes",
                        str(zoo_inputs / "fakes"), "--out", str(tmp_path / engine), env=env)
        assert res.returncode == 0, res.stderr
        r = load_latency(tmp_path / engine)
        assert r.engine == engine and r.mode == "privacy" and not r.realtime
        assert r.verdicts == r.chunks_sent > 4 and r.dropped == 0


def test_bad_latency_arguments_are_one_line_errors(tmp_path):
    import torch

    cases = [(["--model", "x@1", "--profile", "moon", "--out", str(tmp_path / "a")], "unknown profile"),
             (["--model", "nosuchmodel@3", "--out", str(tmp_path / "b")], "nosuchmodel"),
             (["--model", "x@1", "--mode", "video", "--out", str(tmp_path / "c")], "--mode")]
    for args, message in cases:
        res = run_bench("latency", *args)
        assert res.returncode == 2 and message in res.stderr and len(res.stderr.strip().splitlines()) == 1, res.stderr
    if not torch.cuda.is_available():
        res = run_bench("latency", "--model", "x@1", "--profile", "core-gpu", "--out", str(tmp_path / "gpu"))
        assert res.returncode == 0 and "skipped: the core-gpu profile needs a CUDA GPU" in res.stdout + res.stderr
        assert not (tmp_path / "gpu" / "latency.json").exists()
