"""bench mlops cycle: a live privacy-mode server keeps opted-in calls' features; the cycle ships them to the core,
fine-tunes the server half on old + new features, registers, gates, promotes, and the server hot-swaps while a
real-time call keeps streaming without losing a chunk."""

from __future__ import annotations

import asyncio
import json
import shutil
import threading

import numpy as np
import pytest

from tests.helpers.cli import run_bench

TOKEN = "mlops-token-0123456789"
#: a gate any retrained version passes: the test is about the cycle, and speed on a shared machine is noise
LENIENT_GATE = ("[gate]\nauroc_drop = 1.0\neer_rise = 1.0\nper_challenge = false\nthroughput_fall = 1.0\n"
                "latency_p95_rise = 1000.0\n")


def _calls(zoo_inputs, n=2):
    """n original and n fake recordings (16 kHz) of the corpus, with labels."""
    from bench.audio import load_entry
    from bench.data.corpus import open_dataset

    orig = [load_entry(r["audio"]) for r in list(open_dataset(zoo_inputs / "corpus"))[:n]]
    fake = [load_entry(r["audio"]) for r in list(open_dataset(zoo_inputs / "fakes"))[:n]]
    return [(w, 0) for w in orig] + [(w, 1) for w in fake]


class LiveCall(threading.Thread):
    """A real-time privacy call (one chunk per second) that runs until stopped."""

    def __init__(self, url, device, wave):
        super().__init__(daemon=True)
        self.url, self.device, self.wave = url, device, wave
        self.stop = threading.Event()
        self.sent, self.replies, self.end = 0, [], None

    def run(self):
        asyncio.run(self._run())

    async def _run(self):
        from bench.serve.client import EdgeCall

        call = await EdgeCall.connect(self.url, TOKEN, mode="privacy")

        async def reader():
            while True:
                d = await call.recv()
                if d["type"] == "call_end":
                    self.end = d
                    return
                self.replies.append(d)

        task = asyncio.ensure_future(reader())
        i = 0
        while not self.stop.is_set():
            chunk = np.resize(self.wave, 16000 * (i + 1))[16000 * i:]
            await call.send_frame(self.device.frame(chunk, i))
            self.sent += 1
            i += 1
            await asyncio.sleep(1.0)
        await call.ws.send(json.dumps({"type": "end"}))
        await asyncio.wait_for(task, 60)
        await call.close()


@pytest.mark.slow
def test_a_cycle_retrains_gates_promotes_and_hot_swaps_during_a_live_call(devox_model, zoo_inputs, tmp_path,
                                                                          monkeypatch):
    from bench.models.store import resolve
    from bench.serve.client import DeviceHalf, stream_wave
    from bench.serve.config import ServeConfig
    from bench.serve.mlops import mlops_cycle
    from bench.serve.server import ServerThread

    root, env, wav = devox_model
    store = tmp_path / "store"  # a private copy: a cycle adds versions, and other tests expect the session's
    shutil.copytree(env["BENCH_MODEL_STORE"], store)  # store to hold devox-small@1 only, in any order
    monkeypatch.setenv("BENCH_MODEL_STORE", str(store))
    keep = tmp_path / "kept"
    gate = tmp_path / "gate.toml"
    gate.write_text(LENIENT_GATE)
    device = DeviceHalf("devox-small@1")
    start = resolve("devox-small").card.ref
    with ServerThread(ServeConfig(model="devox-small", token=TOKEN, port=0, watch_seconds=0.2,
                                  keep_dir=str(keep))) as st:
        for k, (wave, label) in enumerate(_calls(zoo_inputs)):
            asyncio.run(stream_wave(st.url, TOKEN, wave, 16000, mode="privacy", device=device, realtime=False,
                                    keep=True, label=label, call_id=f"c{k}"))
        asyncio.run(stream_wave(st.url, TOKEN, _calls(zoo_inputs)[0][0], 16000, mode="privacy", device=device,
                                realtime=False))  # not opted in: not kept
        live = LiveCall(st.url, device, _calls(zoo_inputs)[0][0])
        live.start()
        import urllib.error
        import urllib.request

        kept_url = st.url.replace("ws://", "http://").replace("/v1/call", "/v1/kept")
        with pytest.raises(urllib.error.HTTPError, match="401"):  # the kept features need the token
            urllib.request.urlopen(kept_url, timeout=10)
        # the upload goes over the network: the core fetches the kept features from the edge server
        doc = mlops_cycle("devox-small", st.url, tmp_path / "cycle", token=TOKEN, epochs=2, threads=2,
                          server=st.url, gate_config=str(gate))
        import time

        time.sleep(2.5)
        live.stop.set()
        live.join(60)
    assert start == "devox-small@1" and doc["running"] == "devox-small@1" and doc["candidate"] == "devox-small@2"
    assert list(doc["stages_s"]) == ["upload", "preparation", "training", "gate", "registration", "deployment"]
    assert doc["upload"]["audio_files"] == 0 and doc["data"]["kept_calls"] == 4 and doc["data"]["new_windows"] > 0
    assert doc["upload"]["over"] == "network" and doc["upload"]["transferred_bytes"] > doc["upload"]["bytes"] > 0
    assert doc["gate"]["passed"], doc["gate"]["checks"]
    assert doc["deployment"] == {"promoted": True, "server_swapped": True}
    assert resolve("devox-small").card.ref == "devox-small@2"
    new = resolve("devox-small@2").card
    assert new.training["mlops"]["parent"] == "devox-small@1" and new.training["mlops"]["frozen"] == "device half"
    assert new.metrics["test_summary"]["auroc_mean"] == doc["gate"]["auroc"]["candidate"]
    assert new.metrics["mlops_gate"]["passed"] and resolve("devox-small@2").verify() is None
    # the live call: every chunk answered, none refused, and the verdicts switch versions once, mid-call
    assert live.sent >= 3 and len(live.replies) == live.sent and live.end["errors"] == 0
    models = [r["model"] for r in live.replies]
    assert all(r["type"] == "verdict" for r in live.replies)
    assert models[0] == "devox-small@1" and models[-1] == "devox-small@2" and models == sorted(models)
    assert json.loads((tmp_path / "cycle" / "cycle.json").read_text())["paper"]["training_s"] == 33.6


def test_a_cycle_without_kept_features_or_of_an_unsplit_model_is_a_one_line_error(tmp_path):
    res = run_bench("mlops", "cycle", "--model", "nosuch@1", "--keep-dir", str(tmp_path), "--out", str(tmp_path / "o"))
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_a_version_that_fails_the_gate_is_registered_but_never_served(devox_model, zoo_inputs, tmp_path,
                                                                      monkeypatch):
    """The candidate is stored, but NAME keeps resolving to the running version and the server never swaps,
    also when nothing was promoted before (registering must not make the candidate the default)."""
    import bench.evaluation.gate
    from bench.evaluation.gate import Check
    from bench.models.store import PROMOTED_FILE, resolve, store_root
    from bench.serve.client import DeviceHalf, stream_wave
    from bench.serve.config import ServeConfig
    from bench.serve.mlops import mlops_cycle
    from bench.serve.server import ServerThread

    root, env, wav = devox_model
    store = tmp_path / "store"  # a private copy: a cycle adds versions, and other tests expect the session's
    shutil.copytree(env["BENCH_MODEL_STORE"], store)  # store to hold devox-small@1 only, in any order
    monkeypatch.setenv("BENCH_MODEL_STORE", str(store))
    running = resolve("devox-small").card.ref
    (store_root() / "devox-small" / PROMOTED_FILE).unlink(missing_ok=True)  # NAME follows the newest version
    assert resolve("devox-small").card.ref == running
    monkeypatch.setattr(bench.evaluation.gate, "compare", lambda *a, **k: [Check("overall AUROC", 0.9, 0.5, "-0.020",
                                                                      "regression", "dropped 0.400")])
    keep = tmp_path / "kept"
    device = DeviceHalf(running)
    with ServerThread(ServeConfig(model="devox-small", token=TOKEN, port=0, watch_seconds=0.1,
                                  keep_dir=str(keep))) as st:
        for wave, label in _calls(zoo_inputs, 1):
            asyncio.run(stream_wave(st.url, TOKEN, wave, 16000, mode="privacy", device=device, realtime=False,
                                    keep=True, label=label))
        doc = mlops_cycle("devox-small", keep, tmp_path / "cycle", epochs=1, threads=2, server=st.url)
        after = asyncio.run(stream_wave(st.url, TOKEN, _calls(zoo_inputs, 1)[0][0], 16000, mode="privacy",
                                        device=device, realtime=False))
    assert not doc["gate"]["passed"] and doc["gate"]["regressions"] == ["overall AUROC"]
    assert doc["deployment"] == {"promoted": False}
    assert resolve("devox-small").card.ref == running != doc["candidate"]
    assert {r["model"] for r in after["replies"]} == {running}
