"""bench latency: the harness starts a real `bench serve` process under the edge-cpu profile and drives it with
concurrent callers streaming real calls that turn fake; its result feeds bench gate and the leaderboard."""

from __future__ import annotations

import json

import pytest

from bench.evaluation.results import load_latency
from tests.helpers.cli import run_bench
from tests.helpers.results import make_result


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


@pytest.mark.slow
def test_bench_latency_over_a_g711_line_records_the_line_and_the_board_shows_it(measured, zoo_inputs, tmp_path):
    env, clean, _ = measured
    out = tmp_path / "g711"
    data = ["--corpus", str(zoo_inputs / "corpus"), "--fakes", str(zoo_inputs / "fakes")]
    res = run_bench("latency", "--model", "devox-small@1", "--callers", "2", "--duration", "2", *data,
                    "--channel", "pstn-g711u", "--out", str(out), env=env)
    assert res.returncode == 0, res.stderr
    r = load_latency(out)
    assert (r.line["profile"], r.line["encoding"], r.line["sample_rate"]) == ("pstn-g711u", "pcm_mulaw", 8000)
    assert r.line["chain"]["codec"] == "g711u" and r.verdicts == r.chunks_sent == 4 and not r.errors
    assert "over pstn-g711u (pcm_mulaw at 8000 Hz)" in " ".join(res.stdout.split())  # the table title, wrapped
    board = tmp_path / "board"
    built = run_bench("leaderboard", "build", str(make_result(tmp_path / "det", 1.0)), "--latency", str(clean),
                      "--latency", str(out), "--out", str(board), env=env)
    assert built.returncode == 0, built.stderr
    text = (board / "README.md").read_text()  # the two encodings side by side
    assert "clean (pcm_s16le, 16 kHz)" in text and "pstn-g711u (pcm_mulaw, 8 kHz)" in text
    for extra, message in ((("--channel", "pstn-g729"), "unknown channel profile 'pstn-g729'"),
                           (("--channel", "pstn-g711u", "--mode", "privacy"), "--channel sends the callers' audio")):
        bad = run_bench("latency", "--model", "devox-small@1", "--duration", "2", *data, *extra,
                        "--out", str(tmp_path / "bad"), env=env)
        assert bad.returncode == 2 and message in bad.stderr and not (tmp_path / "bad").exists()
