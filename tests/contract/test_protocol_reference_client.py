"""A protocol a stranger can implement (issue #21): the exported device half (ONNX) equals bench's, a client that
uses only websockets, numpy and onnxruntime (examples/reference_client.py, run isolated with bench imports
blocked) gets bench stream's scores in privacy and raw mode, browsers can authenticate (subprotocol token, any
case of ``Bearer``), the ``fatal`` flag is true exactly when the server closes the call, and docs/serve.md's
error table is the server's."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import urllib.error
import urllib.request

import numpy as np
import pytest

from tests.helpers.cli import invoke
from tests.helpers.paths import REPO

TOKEN = "test-token-0123456789"
CLIENT = REPO / "examples" / "reference_client.py"
#: runs the reference client in isolated mode (-I: no PYTHONPATH, no script folder) with bench unimportable
NO_BENCH = ("import importlib.abc, runpy, sys\n"
            "class Block(importlib.abc.MetaPathFinder):\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name == 'bench' or name.startswith(('bench.', 'detectors')):\n"
            "            raise ImportError('the reference client must not import ' + name)\n"
            "sys.meta_path.insert(0, Block())\n"
            "sys.argv = sys.argv[1:]\n"
            "runpy.run_path(sys.argv[0], run_name='__main__')\n"
            "assert not any(m == 'bench' or m.startswith('bench.') for m in sys.modules)\n")


@pytest.fixture(scope="module")
def served(devox_model, tmp_path_factory):
    """devox-small@1's exported device half, and a server of it on loopback (privacy and raw calls)."""
    import os

    from bench.serve.config import ServeConfig
    from bench.serve.server import ServerThread

    root, env, wav = devox_model
    old = os.environ.get("BENCH_MODEL_STORE")
    os.environ["BENCH_MODEL_STORE"] = env["BENCH_MODEL_STORE"]
    folder = tmp_path_factory.mktemp("device") / "dev"
    st = ServerThread(ServeConfig(model="devox-small@1", token=TOKEN, port=0, watch_seconds=0))
    try:
        from bench.serve.device_export import export_device_half

        manifest = export_device_half("devox-small@1", folder)
        st.start()
        yield st.url, folder, manifest, wav
    finally:
        st.stop()
        if old is None:
            os.environ.pop("BENCH_MODEL_STORE", None)
        else:
            os.environ["BENCH_MODEL_STORE"] = old


def _reference(url, wav, tmp_path, *args):
    token = tmp_path / "token"
    token.write_text(TOKEN)
    token.chmod(0o600)
    res = subprocess.run([sys.executable, "-I", "-c", NO_BENCH, str(CLIENT), str(wav), "--url", url,
                          "--token-file", str(token), *args], capture_output=True, text=True, timeout=300,
                         cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def _bench_stream(url, wav, mode):
    from bench.serve.client import DeviceHalf, stream_file

    device = DeviceHalf("devox-small@1") if mode == "privacy" else None
    return stream_file(wav, url, TOKEN, mode=mode, device=device, realtime=False)


def test_the_exported_device_half_equals_benchs_and_says_what_the_message_needs(served):
    import onnxruntime as ort
    import torch

    from bench.api.score_contract import windows
    from bench.audio import decode
    from bench.countermeasures.split_model import load_split_detector

    _, folder, manifest, wav = served
    assert sorted(p.name for p in folder.iterdir()) == [".bench-run.json", "device-seed0.onnx", "device-seed1.onnx",
                                                        "device.json"]
    assert json.loads((folder / "device.json").read_text()) == manifest
    _, det = load_split_detector("devox-small@1")
    sc = det.split_scorer()
    assert manifest["seeds"] == [0, 1] and manifest["model_version"] == sc.version
    assert manifest["input"]["sample_rate"] == 16000 and manifest["input"]["window_samples"] == 16000
    assert manifest["message"]["sample_rate"] == 8000 and manifest["message"]["dtype"] == "float16"
    x, _ = decode(str(wav))
    wins = windows(x[:24_000], sc.spec)  # 1.5 s: two windows
    assert len(wins) == 2
    for seed, net in zip(sc.seeds, sc.modules, strict=True):
        got = ort.InferenceSession(str(folder / f"device-seed{seed}.onnx")).run(None, {"x": wins})[0]
        with torch.no_grad():
            want = net.device_half(torch.from_numpy(wins)).numpy()
        assert list(got.shape[1:]) == manifest["files"][str(seed)]["output_shape"][1:]
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * max(1.0, float(np.abs(want).max())))


def test_the_export_command_owns_its_folder_and_checks_the_model_first(served, tmp_path, capfd):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "mine.txt").write_text("x")
    res = invoke(["models", "export-device", "devox-small@1", "--out", str(foreign)], capfd)
    assert res.code == 2 and len(res.lines) == 1 and sorted(p.name for p in foreign.iterdir()) == ["mine.txt"]
    res = invoke(["models", "export-device", "nosuch@1", "--out", str(tmp_path / "o")], capfd)
    assert res.code == 2 and len(res.lines) == 1 and not (tmp_path / "o").exists()
    res = invoke(["models", "export-device", "devox-small@1", "--out", str(tmp_path / "o"), "--json"], capfd)
    assert res.code == 0 and json.loads(res.stdout) == served[2]  # same model: the same manifest


def test_a_client_without_bench_gets_bench_streams_scores_in_privacy_and_raw_mode(served, tmp_path):
    url, folder, manifest, wav = served
    ref = _reference(url, wav, tmp_path, "--mode", "privacy", "--device-half", str(folder), "--auth", "subprotocol")
    ready = ref["ready"]
    assert ready["sample_rate"] == manifest["message"]["sample_rate"] == 8000 and ready["keep"] is False
    assert ready["feature_shape"] == {s: f["output_shape"] for s, f in manifest["files"].items()}
    assert ready["feature_shape"]["0"][0] == "windows" and ready["device_input"]["window_samples"] == 16000
    want = _bench_stream(url, wav, "privacy")
    assert [r["type"] for r in ref["replies"]] == ["verdict"] * len(want["replies"])
    got_s, want_s = [r["score"] for r in ref["replies"]], [r["score"] for r in want["replies"]]
    np.testing.assert_allclose(got_s, want_s, rtol=1e-3, atol=1e-3)  # ONNX vs torch device half: float rounding
    assert ref["call_end"]["chunks"] == len(want_s) and ref["call_end"]["errors"] == 0
    raw = _reference(url, wav, tmp_path, "--mode", "raw")
    assert [r["score"] for r in raw["replies"]] == [r["score"] for r in _bench_stream(url, wav, "raw")["replies"]]


# ------------------------------------------------------------------ the handshake and the error flags
async def _open(url, headers=None, subprotocols=None):
    from websockets.asyncio.client import connect

    return await connect(url, additional_headers=headers or {}, subprotocols=subprotocols, compression=None)


def test_browsers_authenticate_with_a_subprotocol_and_the_bearer_scheme_is_case_insensitive(served):
    from websockets.exceptions import InvalidStatus

    url = served[0]

    async def check():
        for scheme in ("Bearer", "bearer", "BEARER"):
            ws = await _open(url, {"Authorization": f"{scheme} {TOKEN}"})
            await ws.close()
        ws = await _open(url, subprotocols=["bench.serve.v1", f"bearer.{TOKEN}"])
        assert ws.subprotocol == "bench.serve.v1"
        assert TOKEN not in str(ws.response.headers)  # the server never echoes the token
        await ws.close()
        for headers, protos in [({}, ["bench.serve.v1", "bearer.wrong-token-0123456789"]),
                                ({}, [f"bearer.{TOKEN}"]),  # the token alone, without the protocol name
                                ({"Authorization": f"Basic {TOKEN}"}, None)]:
            with pytest.raises(InvalidStatus) as err:
                await _open(url, headers, protos)
            assert err.value.response.status_code == 401

    asyncio.run(check())
    with pytest.raises(urllib.error.HTTPError) as err:  # a plain GET with the token: not a WebSocket upgrade
        urllib.request.urlopen(urllib.request.Request(url.replace("ws://", "http://"),
                                                      headers={"Authorization": f"Bearer {TOKEN}"}), timeout=30)
    assert err.value.code == 426


def test_fatal_is_true_exactly_when_the_server_closes_the_call(served):
    from websockets.exceptions import ConnectionClosed

    url = served[0]
    auth = {"Authorization": f"Bearer {TOKEN}"}

    async def closed_after(hello: dict) -> dict:
        ws = await _open(url, auth)
        await ws.send(json.dumps(hello))
        d = json.loads(await ws.recv())
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 60)
        assert ws.close_code == 1000 and ws.close_reason == d["code"]
        return d

    async def check():
        for hello, code in [({"type": "hello", "sample_rate": 44100}, "bad_sample_rate"),
                            ({"type": "hello", "keep": True}, "bad_hello"),  # raw audio is never kept
                            ({"type": "hello", "mode": "privacy", "keep": 1}, "bad_hello")]:
            d = await closed_after(hello)
            assert (d["type"], d["code"], d["fatal"], d["seq"]) == ("error", code, True, None)
        ws = await _open(url, auth)  # non-fatal errors: the call goes on
        await ws.send(json.dumps({"type": "hello"}))  # every field defaulted: raw, 16 kHz
        ready = json.loads(await ws.recv())
        assert (ready["type"], ready["mode"], ready["sample_rate"], ready["keep"]) == ("ready", "raw", 16000, False)
        await ws.send("not json")
        d = json.loads(await ws.recv())
        assert (d["code"], d["fatal"], d["seq"]) == ("bad_json", False, None)
        await ws.send(b"\x00" * 3)
        d = json.loads(await ws.recv())
        assert (d["code"], d["fatal"], d["seq"]) == ("bad_frame", False, 0)
        await ws.send(json.dumps({"type": "end"}))
        end = json.loads(await ws.recv())
        assert end["type"] == "call_end" and end["errors"] == 2 and end["verdict"] is None
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 60)
        assert ws.close_code == 1000

    asyncio.run(check())
    from bench.errors import BenchError
    from bench.serve.client import EdgeCall

    with pytest.raises(BenchError, match="--keep needs --mode privacy"):  # bench's own client says so first
        asyncio.run(EdgeCall.connect(url, TOKEN, mode="raw", keep=True))


def test_the_documented_error_table_is_the_servers():
    from bench.serve.protocol import ERRORS, FATAL

    doc = (REPO / "docs" / "serve.md").read_text()
    table = doc[doc.index("| code | fatal | close code | cause |"):]
    table = table[:table.index("\n\n")]
    rows = {code: (fatal, close) for code, fatal, close in re.findall(r"^\| `(\w+)` \| (yes|no) \|\s*(\d*)\s*\|", table,
                                                                      flags=re.M)}
    assert set(rows) == set(ERRORS)
    assert {code for code, (fatal, _) in rows.items() if fatal == "yes"} == set(FATAL)
    assert all(close == ("1000" if fatal == "yes" else "") for fatal, close in rows.values())
