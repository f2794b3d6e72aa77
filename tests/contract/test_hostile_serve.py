"""Hostile input against bench serve, bench stream and bench latency (issue #20): secrets and kept features
on disk, bounded memory whatever a peer sends, NaN scores, hot-swap failures, and one-line refusals before
anything is written. Real servers on loopback, the real CLI, real trained models (devox_model)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import stat
import struct
import subprocess
import sys
import tarfile
import threading
import time
import tracemalloc
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from bench.api import BenchError
from tests.helpers.cli import assert_bad_input, content_snapshot, invoke
from tests.helpers.paths import REPO

TOKEN = "hostile-token-0123456789"


def _server(model, **kw):
    from bench.serve.config import ServeConfig
    from bench.serve.server import ServerThread

    kw.setdefault("backend", "torch")  # no ONNX export at start-up: these tests are about the server, not speed
    return ServerThread(ServeConfig(model=model, token=TOKEN, port=0, watch_seconds=kw.pop("watch_seconds", 0), **kw))


def _base(url: str) -> str:
    return url.replace("ws://", "http://").replace("/v1/call", "")


def _health(url: str) -> dict:
    return json.loads(urllib.request.urlopen(_base(url) + "/healthz", timeout=30).read())


def _wave(devox_model) -> np.ndarray:
    from bench.audio import decode

    x, _ = decode(str(devox_model[2]))
    return np.tile(x, 4)[:16000 * 4].astype(np.float32)


def _token_file(path: Path, text: str = TOKEN, mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


@pytest.fixture
def devox_store(devox_model, monkeypatch):
    monkeypatch.setenv("BENCH_MODEL_STORE", devox_model[1]["BENCH_MODEL_STORE"])
    return devox_model


# ------------------------------------------------------------------ 1. secrets and biometrics on disk
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_token_file_others_can_read_is_refused_like_ssh(tmp_path, capfd, mode):
    tok = _token_file(tmp_path / "token", mode=mode)
    wav = tmp_path / "x.wav"
    wav.write_bytes(b"")
    res = invoke(["stream", str(wav), "--token-file", str(tok)], capfd)
    assert_bad_input(res, f"chmod 600 {tok}")


@pytest.mark.parametrize("text", ["line-one-0123456789\nline-two-0123456789\n", "two words-0123456789",
                                  "tab\there-0123456789"])
def test_a_token_that_spans_lines_or_holds_spaces_is_one_line_error(tmp_path, capfd, text):
    tok = _token_file(tmp_path / "token", text)
    res = invoke(["stream", str(tmp_path / "x.wav"), "--token-file", str(tok)], capfd)
    assert_bad_input(res, "one line without spaces")


def test_kept_features_are_owner_only(devox_store, tmp_path):
    """The keep folder the server creates is 0700, and every kept .bfm and .json is 0600 whatever the umask."""
    from bench.serve.client import DeviceHalf, stream_wave

    keep = tmp_path / "edge" / "kept"
    old = os.umask(0o022)
    try:
        with _server("devox-small@1", keep_dir=str(keep)) as st:
            out = asyncio.run(stream_wave(st.url, TOKEN, _wave(devox_store)[:32000], 16000, mode="privacy",
                                          device=DeviceHalf("devox-small@1"), realtime=False, keep=True, label=1))
    finally:
        os.umask(old)
    assert [r["type"] for r in out["replies"]] == ["verdict", "verdict"]
    assert stat.S_IMODE(keep.stat().st_mode) == 0o700
    files = [p for p in keep.rglob("*") if p.is_file()]
    assert sorted(p.suffix for p in files) == [".bfm", ".json"]
    for p in files:
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
    for d in (p for p in keep.rglob("*") if p.is_dir()):
        assert stat.S_IMODE(d.stat().st_mode) == 0o700, d


def test_bench_latency_never_puts_the_token_on_a_command_line(devox_store, tmp_path):
    """The harness's server gets its token through its environment: not in its argv (visible in ps), not in a
    file; the server accepts it."""
    from bench.serve.client import EdgeCall
    from bench.serve.latency import PROFILES, ServerProcess

    token = "latency-secret-" + "x" * 20
    srv = ServerProcess("devox-small@1", token, dict(PROFILES["edge-cpu"]), engine="batched", threads=1,
                        max_batch=4, batch_wait_ms=0.0, max_connections=4, cpus=None, backend="torch")
    try:
        argv = Path(f"/proc/{srv.proc.pid}/cmdline").read_bytes().split(b"\0")
        assert not any(token.encode() in a for a in argv) and b"--token-file" not in argv, argv
        assert srv.proc.args and not any(token in str(a) for a in srv.proc.args)

        async def call():
            c = await EdgeCall.connect(srv.url, token)
            await c.close()
            return c.ready["type"]

        assert asyncio.run(call()) == "ready"
    finally:
        srv.stop()


# ------------------------------------------------------------------ 2. bounded memory
def test_the_kept_export_is_streamed_in_bounded_memory(devox_store, tmp_path):
    """GET /v1/kept of an 8 MB keep folder: the tar arrives whole and exact, chunked, and the process (server and
    client) never holds more than a fraction of it."""
    keep = tmp_path / "kept"
    (keep / "v1").mkdir(parents=True, mode=0o700)
    rng = np.random.default_rng(0)
    want = {}
    for i in range(4):
        data = rng.bytes(2 * 1024 * 1024 + i)
        (keep / "v1" / f"s{i}.bfm").write_bytes(data)
        want[f"v1/s{i}.bfm"] = data
    total = sum(map(len, want.values()))
    with _server("devox-small@1", keep_dir=str(keep)) as st:
        req = urllib.request.Request(_base(st.url) + "/v1/kept", headers={"Authorization": f"Bearer {TOKEN}"})
        spool = tmp_path / "kept.tar"
        tracemalloc.start()
        try:
            with urllib.request.urlopen(req, timeout=120) as resp, open(spool, "wb") as f:
                assert resp.headers["Transfer-Encoding"] == "chunked" and resp.headers["Content-Length"] is None
                while block := resp.read(64 * 1024):
                    f.write(block)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < total / 4, f"peak {peak} bytes for a {total}-byte export"
        with tarfile.open(spool) as tar:
            got = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
        assert got == want
        assert _health(st.url)["status"] == "ok"  # the server still answers


def _hostile_server(behaviour: str):
    """A hostile 'bench server' on loopback: answers the hello with ready, then misbehaves; returns (url, stop)."""
    from websockets.asyncio.server import serve

    async def handler(ws):
        await ws.recv()
        await ws.send(json.dumps({"type": "ready", "protocol": "bench.serve/1", "session": "x", "mode": "raw",
                                  "model": "evil@1"}))
        if behaviour == "huge":
            await ws.recv()
            await ws.send("[" + "0," * 400_000 + "0]")  # an 800 kB text frame
            return
        elif behaviour == "die":
            await ws.recv()
            ws.transport.abort()
            return
        elif behaviour == "fatal":
            await ws.send(json.dumps({"type": "error", "code": "idle_timeout", "message": "no frame for 30 s",
                                      "seq": None, "fatal": True}))
            await ws.close()
            return
        await asyncio.sleep(30)

    ready, box = threading.Event(), {}

    def main():
        loop = asyncio.new_event_loop()
        box["loop"] = loop

        async def run():
            box["stop"] = asyncio.Event()
            async with serve(handler, "127.0.0.1", 0, max_size=None) as srv:
                box["port"] = next(iter(srv.sockets)).getsockname()[1]
                ready.set()
                await box["stop"].wait()

        loop.run_until_complete(run())

    t = threading.Thread(target=main, daemon=True)
    t.start()
    assert ready.wait(30)

    def stop():
        box["loop"].call_soon_threadsafe(box["stop"].set)
        t.join(10)

    return f"ws://127.0.0.1:{box['port']}/v1/call", stop


@pytest.mark.parametrize("behaviour,needle", [("huge", "above 65536 bytes"), ("die", "lost mid-call"),
                                              ("fatal", "idle_timeout")])
def test_bench_stream_against_a_hostile_server_is_one_line_exit_1(tmp_path, capfd, behaviour, needle):
    from bench.audio import write_wav

    wav = tmp_path / "call.wav"
    write_wav(wav, (0.1 * np.sin(np.arange(48000) / 9)).astype(np.float32))
    url, stop = _hostile_server(behaviour)
    try:
        res = invoke(["stream", str(wav), "--url", url, "--fast"], capfd, env={"BENCH_SERVE_TOKEN": TOKEN})
    finally:
        stop()
    assert "Traceback" not in res.stderr and res.code == 1, res.stderr
    assert len(res.lines) == 1 and needle in res.lines[0], res.stderr


def test_a_huge_shape_header_gets_an_error_frame_and_the_call_goes_on(devox_store):
    """shape [2**32, 2**32] (and friends) overflowed the header arithmetic and killed the call silently: each now
    gets a bad_message error frame, and the same call's next good chunk is scored."""
    from bench.serve.client import DeviceHalf, EdgeCall

    device = DeviceHalf("devox-small@1")
    good = device.frame(_wave(devox_store)[:16000], 0)

    def forged(shape, dtype="float16", payload=b"\0" * 64):
        head = json.dumps({"schema": "bench.features/1", "detector": "devox", "model": "devox-small@1",
                           "model_version": "0" * 16, "seed": 0, "sample_rate": 16000, "dtype": dtype,
                           "shape": shape}).encode()
        return b"BFM1" + struct.pack("<I", len(head)) + head + payload

    bad = [forged([2**32, 2**32], payload=b""), forged([2**32, 2**32]), forged([2**62, 4]), forged([0, 8]),
           forged([1.5, 2]), forged([True, 2]), forged(["8", "4"]), forged([2] * 40), forged("abc"),
           forged([4, 8], "float64")]

    async def main(url):
        call = await EdgeCall.connect(url, TOKEN, mode="privacy")
        replies = []
        for f in bad:
            await call.send_frame(f)
            replies.append(await asyncio.wait_for(call.recv(), 30))
        await call.send_frame(good)
        replies.append(await asyncio.wait_for(call.recv(), 60))
        await call.end()
        return replies

    with _server("devox-small@1") as st:
        replies = asyncio.run(main(st.url))
    assert [r["code"] for r in replies[:-1]] == ["bad_message"] * len(bad), replies
    assert replies[-1]["type"] == "verdict"


# ------------------------------------------------------------------ 3. NaN scores
def test_a_nan_score_is_never_a_verdict(devox_store):
    """A model whose last layer went NaN: every chunk gets a bad_score error frame, and the call ends with no
    verdict (never 'bona fide')."""
    import torch

    from bench.serve.client import stream_wave

    with _server("devox-small@1") as st:  # torch backend: its weights can be poisoned in place
        with torch.no_grad():
            for net in st.server.engine.current.scorer.modules:
                list(net.parameters())[-1].fill_(float("nan"))  # the last layer's bias: features stay finite
        out = asyncio.run(stream_wave(st.url, TOKEN, _wave(devox_store)[:32000], 16000, realtime=False))
    assert [r["type"] for r in out["replies"]] == ["error", "error"]
    assert {r["code"] for r in out["replies"]} == {"bad_score"}
    assert out["call_end"]["chunks"] == 0 and out["call_end"]["verdict"] is None


# ------------------------------------------------------------------ 4. hot swap
def _wait_for(pred, timeout=120.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = pred()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError("condition not reached")


def test_a_failed_hot_swap_is_reported_and_a_later_good_promotion_is_swapped_in(devox_model, tmp_path,
                                                                                monkeypatch):
    from bench.models.store import add, promote, read_card, remove, write_card

    store = tmp_path / "store"
    shutil.copytree(devox_model[1]["BENCH_MODEL_STORE"], store)
    monkeypatch.setenv("BENCH_MODEL_STORE", str(store))
    v1 = store / "devox-small" / "1"
    promote("devox-small@1")
    broken = add(v1, read_card(v1))  # @2, then its weights are cut short and the card re-signed to match:
    files = dict(broken.card.files)   # a well-formed version (promote checks checksums) that cannot load
    for name in broken.card.files:
        if name.endswith((".pt", ".safetensors", ".npz", ".bin")):
            p = broken.folder / name
            p.write_bytes(p.read_bytes()[:100])
            files[name] = hashlib.sha256(p.read_bytes()).hexdigest()
    write_card(broken.folder, broken.card.model_copy(update={"files": files}))
    unpromoted = add(v1, read_card(v1))  # @3: never promoted, never served
    with _server("devox-small", watch_seconds=0.2) as st:
        assert _health(st.url)["model"] == "devox-small@1"
        time.sleep(1.0)
        assert _health(st.url)["model"] == "devox-small@1", "an unpromoted version was swapped in"
        promote(broken.card.ref)
        h = _wait_for(lambda: (d := _health(st.url))["swap_error"] and d)
        assert h["swap_error"]["version"] == broken.card.ref and h["swap_error"]["reason"]
        assert h["model"] == "devox-small@1"
        good = add(v1, read_card(v1))  # @4
        promote(good.card.ref)
        h = _wait_for(lambda: (d := _health(st.url))["model"] == good.card.ref and d)
        assert h["swap_error"] is None
        remove(good.card.ref)  # nothing promoted any more: keep serving what is loaded
        time.sleep(1.0)
        assert _health(st.url)["model"] == good.card.ref
    assert unpromoted.card.ref == "devox-small@3"


# ------------------------------------------------------------------ 5. checked before the first write
def test_serve_refuses_a_keep_dir_that_is_a_file_and_limits_that_are_off(tmp_path, capfd):
    f = tmp_path / "file"
    f.write_text("x")
    before = content_snapshot(tmp_path)
    res = invoke(["serve", "--model", "devox-small@1", "--keep-dir", str(f)], capfd,
                 env={"BENCH_SERVE_TOKEN": TOKEN})
    assert_bad_input(res, "--keep-dir")
    for flag in ("--max-call-seconds", "--idle-timeout", "--watch-seconds", "--batch-wait-ms"):
        for value in ("inf", "nan", "-1"):
            res = invoke(["serve", "--model", "devox-small@1", flag, value], capfd, env={"BENCH_SERVE_TOKEN": TOKEN})
            assert_bad_input(res, flag, f"{flag} {value}")
    assert content_snapshot(tmp_path) == before


def test_serve_config_refuses_limits_that_are_not_finite_positive_numbers():
    from bench.serve.config import ServeConfig

    for field, value in [("max_call_seconds", float("inf")), ("max_call_seconds", 0.0), ("idle_timeout", float("nan")),
                         ("max_chunk_seconds", float("inf")), ("max_queue", 0), ("call_alert_chunks", 0),
                         ("watch_seconds", -1.0)]:
        with pytest.raises(BenchError, match=field.replace("_", "-")):
            ServeConfig(model="m", token=TOKEN, **{field: value}).check()


@pytest.mark.parametrize("url,code,needle", [
    ("http://127.0.0.1:8765/v1/call", 2, "use ws://"),
    ("https://example.org/v1/call", 2, "wss://example.org"),
    ("ws://127.0.0.1:99999/v1/call", 2, "not a valid URL"),
    ("ws://[::1/v1/call", 2, "not a valid URL"),
    ("ftp://127.0.0.1/v1/call", 2, "expected ws://"),
    ("127.0.0.1:8765", 2, "expected ws://"),
    ("ws://127.0.0.1:1/v1/call", 2, "cannot reach"),
])
def test_stream_bad_urls_are_one_line_errors(tmp_path, capfd, url, code, needle):
    from bench.audio import write_wav

    wav = tmp_path / "call.wav"
    write_wav(wav, np.zeros(16000, np.float32))
    res = invoke(["stream", str(wav), "--url", url], capfd, env={"BENCH_SERVE_TOKEN": TOKEN})
    assert "Traceback" not in res.stderr and res.code == code, res.stderr
    assert len(res.lines) == 1 and needle in res.lines[0], res.stderr


def test_stream_with_ws_to_a_tls_server_is_one_line(devox_store, tmp_path, capfd):
    if shutil.which("openssl") is None:
        pytest.skip("openssl (to make a self-signed certificate) is not installed")
    from bench.audio import write_wav

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=localhost"], check=True, capture_output=True)
    wav = tmp_path / "call.wav"
    write_wav(wav, np.zeros(16000, np.float32))
    with _server("devox-small@1", tls_cert=str(cert), tls_key=str(key)) as st:
        plain = st.url.replace("wss://", "ws://")
        res = invoke(["stream", str(wav), "--url", plain], capfd, env={"BENCH_SERVE_TOKEN": TOKEN})
    assert "Traceback" not in res.stderr and res.code == 2 and len(res.lines) == 1, res.stderr
    assert "wss://" in res.lines[0]


def _as_from_a_terminal() -> None:
    """In the child, before exec: Ctrl-C handled by default and not blocked, as a shell starts a command (a child
    inherits an ignored or blocked SIGINT from this process, and bench rightly keeps an inherited ignore)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def test_ctrl_c_during_bench_stream_is_the_standard_line_and_130(devox_store, tmp_path):
    import signal

    from bench.audio import write_wav

    wav = tmp_path / "call.wav"
    write_wav(wav, (0.1 * np.sin(np.arange(16000 * 30) / 9)).astype(np.float32))
    tok = _token_file(tmp_path / "token")
    with _server("devox-small@1") as st:
        proc = subprocess.Popen([sys.executable, "-m", "bench", "stream", str(wav), "--url", st.url,
                                 "--token-file", str(tok)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                                preexec_fn=_as_from_a_terminal)
        first = proc.stdout.readline()  # a verdict arrived: the call is live
        assert first.startswith("chunk 0"), first + proc.stderr.read()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.strip().splitlines() == ["interrupted: finished items are kept; run the same command again to "
                                        "resume"], err


def _latency(args, out, capfd, env):
    return invoke(["latency", "--model", "devox-small@1", "--duration", "1", *args, "--out", str(out)], capfd,
                  env=env)


def test_latency_owns_its_output_folder(devox_model, zoo_inputs, tmp_path, capfd):
    """Never into a corpus, the model folder, a foreign folder or an earlier run with other settings: one line,
    exit 2, every byte unchanged."""
    env = devox_model[1]
    model_dir = Path(env["BENCH_MODEL_STORE"]) / "devox-small" / "1"
    corpus, fakes = zoo_inputs / "corpus", zoo_inputs / "fakes"
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    (earlier / ".bench-run.json").write_text(json.dumps({"command": "latency", "params": {"callers": 99}}))
    (earlier / "latency.json").write_text("{}")
    inputs = ["--corpus", str(corpus), "--fakes", str(fakes)]
    watched = [corpus, fakes, model_dir, foreign, earlier]
    before = [content_snapshot(p) for p in watched]
    for out, needle in [(corpus, "input"), (corpus / "sub", "inside the input"), (model_dir, "input"),
                        (foreign, "not written by bench"), (earlier, "other settings")]:
        res = _latency(inputs, out, capfd, env)
        assert_bad_input(res, needle, str(out))
    assert [content_snapshot(p) for p in watched] == before
    assert not (corpus / "sub").exists()


def test_latency_refuses_bad_engine_backend_and_model_before_writing(devox_model, tmp_path, capfd):
    env = devox_model[1]
    bad_model = tmp_path / "bad-model"
    shutil.copytree(Path(env["BENCH_MODEL_STORE"]) / "devox-small" / "1", bad_model)
    card = json.loads((bad_model / "model.json").read_text())
    card["detector"] = "no-such-detector"
    (bad_model / "model.json").write_text(json.dumps(card))
    out = tmp_path / "out"
    for args, needle in [(["--engine", "warp"], "--engine"), (["--backend", "gpu9"], "--backend"),
                         (["--duration", "inf"], "--duration"), (["--batch-wait-ms", "nan"], "--batch-wait-ms")]:
        assert_bad_input(_latency(args, out, capfd, env), needle, str(args))
    res = invoke(["latency", "--model", str(bad_model), "--out", str(out)], capfd, env=env)
    assert_bad_input(res, "no-such-detector")
    assert not out.exists()


def test_latency_refuses_more_callers_than_the_system_lets_it_open(devox_model, tmp_path):
    """--callers beyond what the open-file limit allows: one line, exit 2, before anything is written (it used to
    send nothing and write an empty result)."""
    import resource

    def low_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 512))

    out = tmp_path / "out"
    res = subprocess.run([sys.executable, "-m", "bench", "latency", "--model", "devox-small@1", "--callers", "10000",
                          "--duration", "1", "--fast", "--out", str(out)], capture_output=True, text=True, cwd=REPO,
                         env={**os.environ, **devox_model[1], "PYTHONPATH": str(REPO)}, preexec_fn=low_limit,
                         timeout=300)
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert "--callers 10000" in res.stderr and "ulimit" in res.stderr
    assert not out.exists()


def test_featuremsg_header_arithmetic_is_checked_before_allocating():
    from bench.countermeasures.feature_message import FeatureMessage, MessageError, payload_bytes

    assert payload_bytes([3, 4], "float16", 24) == 24
    for shape in ([2**32, 2**32], [0, 4], [-1, 4], [], [1.0, 2], [True], "ab", None):
        with pytest.raises(MessageError):
            payload_bytes(shape, "float32", 10**6)
    with pytest.raises(MessageError, match="needs more than"):
        payload_bytes([1000, 1000], "float32", 100)
    msg = FeatureMessage("devox", "m@1", "v" * 16, 0, 16000, np.ones((2, 3), np.float32)).to_bytes()
    head = json.loads(msg[8:8 + struct.unpack("<I", msg[4:8])[0]])
    for key, value in [("shape", [2**32, 2**32]), ("seed", "0"), ("extra", "x"), ("seq", 1.5)]:
        forged = json.dumps({**head, key: value}).encode()
        with pytest.raises(MessageError):
            FeatureMessage.from_bytes(b"BFM1" + struct.pack("<I", len(forged)) + forged + msg[-24:])
