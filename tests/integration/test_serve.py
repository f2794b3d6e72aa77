"""bench serve: the real server on loopback with real trained models (devox for
privacy mode, svm for a call that turns fake), its token check, fuzzing, privacy-only mode, kept features,
health and metrics, hot swap, and the CLI pair `bench serve` / `bench stream` in separate processes (the protocol's
parsers: tests/unit/test_serve_protocol.py)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import urllib.request

import numpy as np
import pytest

from bench.api import BenchError
from bench.serve.protocol import encode_pcm, split_messages
from tests.helpers.cli import run_bench
from tests.helpers.paths import REPO

TOKEN = "test-token-0123456789"


# ------------------------------------------------------------------ servers on loopback
@pytest.fixture(scope="module")
def svm_model(zoo_inputs, tmp_path_factory):
    """svm@1 trained by the CLI on zoo_inputs (its own store) and a call: 3 s of a held-out speaker's original
    recording, then 3 s of a fake of that speaker's voice."""
    from bench.audio import load_entry
    from bench.data.corpus import open_dataset
    from bench.models.store import resolve

    root = tmp_path_factory.mktemp("svm")
    env = {"BENCH_MODEL_STORE": str(root / "store")}
    res = run_bench("train", "--detector", "svm", "--corpus", str(zoo_inputs / "corpus"), "--fakes",
                    str(zoo_inputs / "fakes"), "--out", str(root / "m"), "--seeds", "0", env=env)
    assert res.returncode == 0, res.stderr
    os.environ["BENCH_MODEL_STORE"] = env["BENCH_MODEL_STORE"]
    try:
        test = resolve("svm@1").card.training["splits"]["test"]
    finally:
        del os.environ["BENCH_MODEL_STORE"]
    orig = [r for r in open_dataset(zoo_inputs / "corpus") if r["subject"] in test and r["challenge"] == 0]
    fake = [r for r in open_dataset(zoo_inputs / "fakes") if r["imposter"] in test and r["challenge"] == 0]
    real = np.concatenate([load_entry(r["audio"]) for r in orig])[:48_000]
    fk = np.concatenate([load_entry(r["audio"]) for r in fake])[:48_000]
    return root, env, np.concatenate([real, fk])


@pytest.fixture
def store(monkeypatch):
    def use(env):
        monkeypatch.setenv("BENCH_MODEL_STORE", env["BENCH_MODEL_STORE"])
    return use


def _server(model, **kw):
    from bench.serve.config import ServeConfig
    from bench.serve.server import ServerThread

    return ServerThread(ServeConfig(model=model, token=TOKEN, port=0, watch_seconds=kw.pop("watch_seconds", 0), **kw))


def _stream(url, wave, **kw):
    from bench.serve.client import stream_wave

    return asyncio.run(stream_wave(url, TOKEN, wave, 16000, realtime=kw.pop("realtime", False), **kw))


def test_a_call_that_turns_fake_gets_alerts_for_the_fake_part(svm_model, store):
    from bench.api.registry import DETECTORS

    root, env, wave = svm_model
    store(env)
    with _server("svm@1") as st:
        out = _stream(st.url, wave, call_id="turns-fake")
    replies = out["replies"]
    assert out["ready"]["model"] == "svm@1" and [r["seq"] for r in replies] == list(range(6))
    assert all(r["type"] == "verdict" for r in replies)
    # each verdict is the detector's own score of that 1-second chunk
    scorer = DETECTORS.create("svm", model="svm@1").load_scorer()
    want = scorer.scores([wave[i * 16000:(i + 1) * 16000] for i in range(6)]).mean(axis=0)
    assert np.allclose([r["score"] for r in replies], want, rtol=1e-6, atol=1e-9)
    real, fake = replies[:3], replies[3:]
    assert any(r["alert"] for r in fake)
    assert np.mean([r["score"] for r in fake]) > np.mean([r["score"] for r in real])
    end = out["call_end"]
    assert end["chunks"] == 6 and end["errors"] == 0 and end["call_id"] == "turns-fake"
    for r in replies:  # the timestamps let a client split transmission, queueing and inference
        assert r["t_client_sent"] <= r["t_received"] <= r["t_inference_start"] <= r["t_inference_end"] \
            <= r["t_sent"] <= r["t_client_received"]


def test_backends_onnx_where_the_model_converts_and_torch_otherwise(devox_model, svm_model, store):
    """auto: devox runs in ONNX Runtime, svm (not torch) stays on sklearn; onnx and torch give the same scores."""
    from bench.serve.engine import ModelSlot

    _, env, wav = devox_model
    store(env)
    from bench.audio import decode

    x, _ = decode(str(wav))
    chunks = [np.resize(x, 16000), np.resize(x[::-1], 16000)]
    onnx, torch_ = ModelSlot("devox-small@1"), ModelSlot("devox-small@1", backend="torch")
    assert onnx.backend == "onnx" and "server half" in onnx.backend_note and torch_.backend == "torch"
    assert onnx.score_raw(chunks) == pytest.approx(torch_.score_raw(chunks), rel=1e-4, abs=1e-5)
    msgs = [torch_.scorer.device_messages(c) for c in chunks]
    assert onnx.score_messages(msgs) == pytest.approx(torch_.score_messages(msgs), rel=1e-4, abs=1e-5)
    assert onnx.describe()["backend"] == "onnx"
    store(svm_model[1])
    svm = ModelSlot("svm@1")
    assert svm.backend == "native" and "not a torch model" in svm.backend_note
    with pytest.raises(BenchError, match="not a torch model"):
        ModelSlot("svm@1", backend="onnx")


def test_wrong_or_missing_token_is_rejected_and_health_and_metrics_answer(svm_model, store):
    from bench.serve.client import EdgeCall

    root, env, wave = svm_model
    store(env)
    with _server("svm@1") as st:
        for token in ("wrong-token-0123456789", ""):
            with pytest.raises(BenchError, match="HTTP 401"):
                asyncio.run(EdgeCall.connect(st.url, token))
        _stream(st.url, wave[:32000])
        base = st.url.replace("ws://", "http://").replace("/v1/call", "")
        health = json.loads(urllib.request.urlopen(base + "/healthz", timeout=10).read())
        metrics = urllib.request.urlopen(base + "/metrics", timeout=10).read().decode()
    assert health["status"] == "ok" and health["model"] == "svm@1" and health["event_loop"] == "uvloop"
    assert health["cpu"]["chunks"] == 2 and health["cpu"]["process_cpu_s"] >= health["cpu"]["inference_cpu_s"] > 0
    assert 'bench_serve_rejected_connections_total{reason="token"} 2.0' in metrics
    assert 'bench_serve_chunks_total{mode="raw"} 2.0' in metrics and "bench_serve_inference_seconds_bucket" in metrics


def _fuzz_frames(rng: np.random.Generator, valid_msg: bytes, n: int) -> list[bytes | str]:
    """n malformed frames of many kinds: garbage, odd lengths, tiny and oversized chunks, broken messages, JSON."""
    out: list[bytes | str] = []
    kinds = ["garbage", "odd", "short", "long", "nan_msg", "cut_msg", "magic_only", "text", "big"]
    for i in range(n):
        k = kinds[i % len(kinds)]
        if k == "garbage":
            out.append(rng.bytes(int(rng.integers(1, 64))) + b"\x01")  # odd or tiny: never a valid chunk
        elif k == "odd":
            out.append(rng.bytes(2 * int(rng.integers(800, 16000)) + 1))
        elif k == "short":
            out.append(rng.bytes(2 * int(rng.integers(1, 1500))))
        elif k == "long":
            out.append(b"\x00\x01" * 40_000)
        elif k == "nan_msg":
            m = bytearray(valid_msg)
            m[-2:] = np.array([np.nan], np.float16).tobytes()
            out.append(bytes(m))
        elif k == "cut_msg":
            out.append(valid_msg[:int(rng.integers(5, len(valid_msg) - 1))])
        elif k == "magic_only":
            out.append(b"BFM1" + rng.bytes(int(rng.integers(0, 40))))
        elif k == "text":
            out.append(rng.choice(["{", "[]", '{"type": "hello"}', '{"type": 5}', "\x00"]))
        else:
            out.append(b"\x00\x00" * 150_000)  # above max_frame_bytes (256 KiB), below the hard cap
    return out


def test_fuzz_a_thousand_malformed_frames_while_a_good_call_keeps_its_verdicts(devox_model, store):
    """One call sends >= 1,000 malformed frames (raw and privacy); each gets an error frame and the server
    stays up; a good privacy call streaming meanwhile gets exactly the whole model's scores throughout."""
    from bench.api.registry import DETECTORS
    from bench.serve.client import DeviceHalf, EdgeCall

    root, env, wav = devox_model
    store(env)
    from bench.audio import decode

    x, _ = decode(str(wav))
    good = np.tile(x, 4)[:16000 * 8]
    device = DeviceHalf("devox-small@1")
    det = DETECTORS.create("devox", model="devox-small@1")
    want = [det.server_score(det.device_messages(good[i * 16000:(i + 1) * 16000]))["score"] for i in range(8)]
    valid = device.frame(good[:16000], 0)
    frames = _fuzz_frames(np.random.default_rng(0), valid, 1080)

    async def bad_call(url, mode):
        errors = 0
        call = await EdgeCall.connect(url, TOKEN, mode=mode)
        for f in frames:
            await call.ws.send(f)
            d = await call.recv()
            assert d["type"] == "error" and not d["fatal"], d
            errors += 1
        await call.close()
        return errors

    async def good_call(url):
        call = await EdgeCall.connect(url, TOKEN, mode="privacy")
        got = []
        for i in range(8):
            await call.send_frame(device.frame(good[i * 16000:(i + 1) * 16000], i))
            got.append(await call.recv())
            await asyncio.sleep(0.05)
        await call.end()
        return got

    async def main(url):
        return await asyncio.gather(bad_call(url, "raw"), bad_call(url, "privacy"), good_call(url))

    with _server("devox-small@1") as st:
        n_raw, n_priv, got = asyncio.run(main(st.url))
        assert n_raw + n_priv >= 2000
        assert [g["type"] for g in got] == ["verdict"] * 8
        # the server runs the server half in ONNX Runtime (backend auto): float32 rounding apart, the same scores
        assert [g["score"] for g in got] == pytest.approx(want, rel=1e-4, abs=1e-5)
        after = _stream(st.url, good[:32000], mode="privacy", device=device)  # still serving
        assert [r["type"] for r in after["replies"]] == ["verdict", "verdict"]


def test_privacy_mode_never_takes_raw_audio_and_keeps_only_features(devox_model, store, tmp_path):
    from bench.countermeasures.feature_message import FeatureMessage
    from bench.serve.client import DeviceHalf, EdgeCall

    root, env, wav = devox_model
    store(env)
    from bench.audio import decode

    x, _ = decode(str(wav))
    wave = np.tile(x, 3)[:48000]
    device = DeviceHalf("devox-small@1")
    keep = tmp_path / "kept"
    with _server("devox-small@1", privacy_only=True, keep_dir=str(keep)) as st:
        with pytest.raises(BenchError, match="privacy-only"):
            asyncio.run(EdgeCall.connect(st.url, TOKEN, mode="raw"))

        async def pcm_in_privacy_call():
            call = await EdgeCall.connect(st.url, TOKEN, mode="privacy")
            await call.send_frame(encode_pcm(wave[:16000]))
            d = await call.recv()
            await call.close()
            return d

        d = asyncio.run(pcm_in_privacy_call())
        assert d["type"] == "error" and d["code"] == "bad_frame" and "raw audio is never accepted" in d["message"]
        out = _stream(st.url, wave, mode="privacy", device=device, keep=True, label=0, call_id="kept")
    assert [r["type"] for r in out["replies"]] == ["verdict"] * 3
    kept = sorted(p.name.split(".")[-1] for p in keep.rglob("*") if p.is_file())
    assert kept == ["bfm", "json"]
    side = json.loads(next(keep.rglob("*.json")).read_text())
    assert side["label"] == 0 and side["call_id"] == "kept" and side["model"] == "devox-small@1"
    blob = next(keep.rglob("*.bfm")).read_bytes()
    frames, pos = [], 0
    while pos < len(blob):
        n = int.from_bytes(blob[pos:pos + 4], "little")
        frames.append(blob[pos + 4:pos + 4 + n])
        pos += 4 + n
    assert len(frames) == 3
    for f in frames:  # every kept frame is feature messages, nothing else
        assert all(isinstance(m, FeatureMessage) for m in split_messages(f))
    assert encode_pcm(wave[:16000])[:64] not in blob


def test_hot_swap_to_a_promoted_version_during_a_live_call(svm_model, zoo_inputs, store):
    """The server follows the name svm: a new version promoted mid-call is loaded and used for the next
    chunks; the live call loses no chunk and gets no error."""
    import threading

    from bench.models.store import promote

    root, env, wave = svm_model
    store(env)
    if not (root / "store" / "svm" / "2").exists():
        res = run_bench("train", "--detector", "svm", "--corpus", str(zoo_inputs / "corpus"), "--fakes",
                        str(zoo_inputs / "fakes"), "--out", str(root / "m2"), "--seeds", "1", "--name", "svm", env=env)
        assert res.returncode == 0, res.stderr
    promote("svm@1")  # svm resolves to version 1 when the server starts
    with _server("svm", watch_seconds=0.2) as st:
        timer = threading.Timer(2.5, lambda: promote("svm@2"))
        timer.start()
        out = _stream(st.url, np.tile(wave, 2), realtime=True)  # 12 chunks, one per second
        timer.join()
    models = [r["model"] for r in out["replies"]]
    assert [r["type"] for r in out["replies"]] == ["verdict"] * 12 and out["call_end"]["errors"] == 0
    assert models[0] == "svm@1" and models[-1] == "svm@2"
    assert models == sorted(models)  # one switch, never back


# ------------------------------------------------------------------ the CLI pair, separate processes
@pytest.mark.slow
def test_bench_serve_and_bench_stream_in_separate_processes(devox_model, tmp_path):
    root, env, wav = devox_model
    token = tmp_path / "token"
    token.write_text(TOKEN)
    token.chmod(0o600)  # a token file others can read is refused
    full = {**os.environ, **env}
    srv = subprocess.Popen([sys.executable, "-m", "bench", "serve", "--model", "devox-small@1", "--port", "0",
                            "--token-file", str(token), "--watch-seconds", "0"], stderr=subprocess.PIPE, text=True,
                           env=full, cwd=REPO)
    try:
        url = None
        for line in srv.stderr:
            m = re.search(r"on (ws://\S+)", line)
            if m:
                url = m.group(1).rstrip(";")
                break
        assert url, "the server printed no URL"
        res = run_bench("stream", str(wav), "--url", url, "--token-file", str(token), "--fast", "--json", env=env)
        assert res.returncode == 0, res.stderr
        out = json.loads(res.stdout)
        assert out["call_end"]["chunks"] == len(out["replies"]) >= 1
        priv = run_bench("stream", str(wav), "--url", url, "--token-file", str(token), "--mode", "privacy",
                         "--model", "devox-small@1", "--fast", "--json", env=env)
        assert priv.returncode == 0, priv.stderr
        assert [r["score"] for r in json.loads(priv.stdout)["replies"]] == \
            pytest.approx([r["score"] for r in out["replies"]], rel=1e-4, abs=1e-5)
        bad = run_bench("stream", str(wav), "--url", url, "--token-file", str(tmp_path / "missing"), env=env)
        assert bad.returncode != 0 and "no such token file" in bad.stderr
        wrong = tmp_path / "wrong"
        wrong.write_text("not-the-token-0123456789")
        wrong.chmod(0o600)
        refused = run_bench("stream", str(wav), "--url", url, "--token-file", str(wrong), env=env)
        assert refused.returncode != 0 and "HTTP 401" in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1
    finally:
        srv.terminate()
        srv.wait(timeout=30)


def test_tls_with_a_certificate_and_a_client_that_trusts_it(svm_model, store, tmp_path):
    """--tls-cert/--tls-key serve wss://; a client trusting the certificate streams, one that does not is refused."""
    import shutil

    if shutil.which("openssl") is None:
        pytest.skip("openssl (to make a self-signed certificate) is not installed")
    from bench.serve.client import EdgeCall

    root, env, wave = svm_model
    store(env)
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"], check=True, capture_output=True)
    with _server("svm@1", tls_cert=str(cert), tls_key=str(key)) as st:
        assert st.url.startswith("wss://")
        out = _stream(st.url, wave[:32000], cafile=str(cert))
        assert [r["type"] for r in out["replies"]] == ["verdict", "verdict"]
        with pytest.raises(BenchError, match="cannot reach|certificate"):
            asyncio.run(EdgeCall.connect(st.url, TOKEN))  # the system's CAs do not trust it
        with pytest.raises(BenchError, match="HTTP 401"):
            asyncio.run(EdgeCall.connect(st.url, "wrong-token-0123456789", cafile=str(cert)))


def test_idle_and_call_timeouts_and_the_connection_cap(svm_model, store):
    """An idle call and an over-long call get a fatal error frame and are closed; calls over the cap get 503."""
    from bench.serve.client import EdgeCall

    root, env, wave = svm_model
    store(env)

    async def idle(url):
        call = await EdgeCall.connect(url, TOKEN)
        d = await asyncio.wait_for(call.recv(), 10)  # sends nothing after the hello
        await call.close()
        return d

    async def long_call(url):
        call = await EdgeCall.connect(url, TOKEN)
        await call.send_chunk(wave[:16000])
        got = [await call.recv()]
        got.append(await asyncio.wait_for(call.recv(), 10))  # then the call outlives max_call_seconds
        await call.close()
        return got

    async def over_cap(url):
        first = await EdgeCall.connect(url, TOKEN)
        try:
            with pytest.raises(BenchError, match="HTTP 503"):
                await EdgeCall.connect(url, TOKEN)
        finally:
            await first.close()
        await asyncio.sleep(0.2)
        again = await EdgeCall.connect(url, TOKEN)  # a freed slot is usable again
        await again.close()

    with _server("svm@1", idle_timeout=0.5, loop="asyncio") as st:  # the call clock on asyncio's loop too
        d = asyncio.run(idle(st.url))
    assert d["type"] == "error" and d["code"] == "idle_timeout" and d["fatal"]
    with _server("svm@1", max_call_seconds=1.0) as st:
        got = asyncio.run(long_call(st.url))
    assert got[-1]["code"] == "session_timeout" and got[-1]["fatal"] and got[0]["type"] == "verdict"
    with _server("svm@1", max_connections=1) as st:
        asyncio.run(over_cap(st.url))
