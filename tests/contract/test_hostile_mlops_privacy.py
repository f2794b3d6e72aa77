"""Hostile input to `bench mlops cycle` and `bench privacy` (issue #20): both own their output folder, check
every input before the first write (one line, exit 2, nothing written, nothing registered in the model store),
and the cycle resumes the candidate an interrupted run recorded instead of registering another."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import stat
from pathlib import Path

import pytest

from tests.helpers.cli import assert_bad_input, changes, content_snapshot, invoke, stat_snapshot

TOKEN = "hostile-mlops-token-0123456789"
#: a gate any retrained version passes: the test is about the cycle, and speed on a shared machine is noise
LENIENT_GATE = ("[gate]\nauroc_drop = 1.0\neer_rise = 1.0\nper_challenge = false\nthroughput_fall = 1.0\n"
                "latency_p95_rise = 1000.0\n")
pytestmark = pytest.mark.slow  # every test needs the session's trained devox-small@1


@pytest.fixture(scope="module")
def kept(devox_model, zoo_inputs, tmp_path_factory):
    """A keep folder written by a live privacy-mode server: two labelled calls and one unlabelled one."""
    from bench.audio import load_entry
    from bench.data.corpus import open_dataset
    from bench.serve.client import DeviceHalf, stream_wave
    from bench.serve.config import ServeConfig
    from bench.serve.server import ServerThread

    _, env, _ = devox_model
    keep = tmp_path_factory.mktemp("kept") / "kept"
    saved = os.environ.get("BENCH_MODEL_STORE")
    os.environ["BENCH_MODEL_STORE"] = env["BENCH_MODEL_STORE"]
    try:
        device = DeviceHalf("devox-small@1")
        calls = [(load_entry(open_dataset(zoo_inputs / "corpus")[0]["audio"]), 0),
                 (load_entry(open_dataset(zoo_inputs / "fakes")[0]["audio"]), 1),
                 (load_entry(open_dataset(zoo_inputs / "corpus")[1]["audio"]), None)]
        with ServerThread(ServeConfig(model="devox-small", token=TOKEN, port=0, keep_dir=str(keep))) as st:
            for k, (wave, label) in enumerate(calls):
                asyncio.run(stream_wave(st.url, TOKEN, wave, 16000, mode="privacy", device=device, realtime=False,
                                        keep=True, label=label, call_id=f"c{k}"))
    finally:
        if saved is None:
            os.environ.pop("BENCH_MODEL_STORE", None)
        else:
            os.environ["BENCH_MODEL_STORE"] = saved
    assert len(list(keep.rglob("*.bfm"))) == 3
    return keep


@pytest.fixture
def store(devox_model, tmp_path, monkeypatch):
    """A private copy of the session's model store (a cycle adds versions), as BENCH_MODEL_STORE."""
    root, env, _ = devox_model
    copy = tmp_path / "store"
    shutil.copytree(env["BENCH_MODEL_STORE"], copy)
    monkeypatch.setenv("BENCH_MODEL_STORE", str(copy))
    return copy


def _versions(store: Path) -> list[str]:
    return sorted(p.name for p in (store / "devox-small").iterdir() if p.name.isdigit())


def _cycle(keep: Path, out: Path, *extra: str) -> list[str]:
    return ["mlops", "cycle", "--model", "devox-small", "--keep-dir", str(keep), "--out", str(out), "--epochs", "1",
            "--threads", "1", *extra]


def _refused(args: list[str], capfd, needle: str, *roots: Path) -> None:
    """``bench ARGS`` is one line with ``needle``, exit 2, and nothing under ``roots`` changed."""
    before = [stat_snapshot(r) for r in roots]
    res = invoke(args, capfd)
    assert_bad_input(res, needle, " ".join(args[:2]))
    for root, snap in zip(roots, before, strict=True):
        assert changes(snap, stat_snapshot(root)) == [], root


# ------------------------------------------------------------------ mlops cycle: the output folder
def test_cycle_refuses_a_user_folder_and_leaves_every_file_as_it_was(kept, store, tmp_path, capfd):
    user = tmp_path / "userdir"
    (user / "model").mkdir(parents=True)
    (user / "upload").mkdir()
    (user / "model" / "thesis.tex").write_text("\\chapter{Four years of work}\n")
    (user / "upload" / "notes.txt").write_text("do not lose\n")
    digests = content_snapshot(user)
    _refused(_cycle(kept, user), capfd, "not written by bench", user, store, kept)
    assert content_snapshot(user) == digests


def test_cycle_refuses_an_output_inside_its_inputs(kept, store, zoo_inputs, tmp_path, capfd):
    _refused(_cycle(kept, kept / "cycle"), capfd, "lies inside the input", kept, store)
    assert not (kept / "cycle").exists()
    _refused(_cycle(kept, store / "runs"), capfd, "lies inside the input", kept, store)
    _refused(_cycle(kept, zoo_inputs / "corpus" / "cycle"), capfd, "lies inside the input", zoo_inputs)


# ------------------------------------------------------------------ mlops cycle: every input before the first write
def _copy_keep(kept: Path, tmp_path: Path) -> Path:
    keep = tmp_path / "keep"
    shutil.copytree(kept, keep)
    return keep


def _sidecars(keep: Path) -> list[Path]:
    return sorted(p for p in keep.rglob("*.json"))


def _bad_json(keep: Path, tmp_path: Path) -> None:
    _sidecars(keep)[0].write_text('{"label": 1, ')


def _json_list(keep: Path, tmp_path: Path) -> None:
    _sidecars(keep)[0].write_text("[1, 2]")


def _symlink_out(keep: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.bfm"
    secret.write_bytes(b"\0" * 64)
    side = _sidecars(keep)[0]
    (side.parent / "stolen.bfm").symlink_to(secret)


def _unlabelled(keep: Path, tmp_path: Path) -> None:
    for side in _sidecars(keep):
        side.write_text(json.dumps({**json.loads(side.read_text()), "label": None}))


def _odd_label(keep: Path, tmp_path: Path) -> None:
    side = _sidecars(keep)[0]
    side.write_text(json.dumps({**json.loads(side.read_text()), "label": "fake"}))


@pytest.mark.parametrize("spoil, needle", [(_bad_json, "not valid JSON"), (_json_list, "JSON object"),
                                           (_symlink_out, "symbolic link"), (_unlabelled, "no labelled call"),
                                           (_odd_label, "label must be")])
def test_a_bad_keep_folder_is_refused_before_anything_is_written_or_registered(spoil, needle, kept, store, tmp_path,
                                                                               capfd):
    keep = _copy_keep(kept, tmp_path)
    spoil(keep, tmp_path)
    _refused(_cycle(keep, tmp_path / "out"), capfd, needle, store, keep)
    assert not (tmp_path / "out").exists()


def test_a_bad_gate_config_or_server_or_corpus_is_refused_up_front(kept, store, zoo_inputs, tmp_path, capfd):
    out = tmp_path / "out"
    bad = tmp_path / "gate.toml"
    bad.write_text("[gate]\nauroc_drop = -1\n")
    _refused(_cycle(kept, out, "--gate-config", str(bad)), capfd, "auroc_drop", store)
    _refused(_cycle(kept, out, "--gate-config", str(tmp_path / "none.toml")), capfd, "no such gate config", store)
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    _refused(_cycle(kept, out, "--server", f"ws://127.0.0.1:{port}/v1/call"), capfd, "not reachable", store)
    other = _corpus_subset(zoo_inputs / "corpus", tmp_path / "other", speakers=3)
    _refused(_cycle(kept, out, "--corpus", str(other)), capfd, "not the corpus", store)
    _refused(_cycle(kept, out, "--corpus", str(zoo_inputs / "fakes")), capfd, "not the corpus", store)
    assert not out.exists()


def test_a_relative_corpus_path_in_the_card_is_asked_for_up_front(kept, store, tmp_path, capfd):
    card_file = store / "devox-small" / "1" / "model.json"
    card = json.loads(card_file.read_text())
    card["training"]["corpus"]["path"] = "runs/corpus"  # as `bench train` recorded a relative --corpus
    card_file.write_text(json.dumps(card))
    res = invoke(_cycle(kept, tmp_path / "out"), capfd, cwd=tmp_path)
    assert_bad_input(res, "give --corpus")
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------ mlops cycle: resume, ownership, file modes
class Crash(Exception):
    """Stands for a crash (SIGKILL) at a given point of the cycle."""


def _crash_after(stage: str):
    def progress(message: str) -> None:
        if message.startswith(stage + ":"):
            raise Crash(stage)
    return progress


def test_an_interrupted_cycle_finishes_its_own_candidate_and_registers_it_once(kept, store, tmp_path, capfd):
    from bench.models.store import resolve
    from bench.serve.mlops import mlops_cycle

    out = tmp_path / "cycle"
    gate = tmp_path / "gate.toml"
    gate.write_text(LENIENT_GATE)
    kw = {"epochs": 1, "threads": 1, "gate_config": str(gate)}
    with pytest.raises(Crash):  # trained, not yet gated: nothing in the store
        mlops_cycle("devox-small", kept, out, progress=_crash_after("training"), **kw)
    assert _versions(store) == ["1"] and (out / "model" / "model.json").is_file()
    with pytest.raises(Crash):  # gated and registered, not promoted
        mlops_cycle("devox-small", kept, out, progress=_crash_after("registration"), **kw)
    state = json.loads((out / "state.json").read_text())
    assert _versions(store) == ["1", "2"] and state["candidate"] == "devox-small@2"
    assert resolve("devox-small").card.ref == "devox-small@1"  # the running version is pinned meanwhile
    # a crash between registering and recording it: the rerun finds the version by its cycle id
    del state["candidate"]
    (out / "state.json").write_text(json.dumps(state))
    # the same folder with other settings is refused, and changes nothing
    _refused(["mlops", "cycle", "--model", "devox-small", "--keep-dir", str(kept), "--out", str(out), "--epochs",
              "2", "--gate-config", str(gate)], capfd, "other settings (epochs)", out, store)
    doc = mlops_cycle("devox-small", kept, out, **kw)
    assert _versions(store) == ["1", "2"] and doc["candidate"] == "devox-small@2" and doc["running"] == "devox-small@1"
    assert doc["gate"]["passed"] and doc["deployment"] == {"promoted": True}
    assert resolve("devox-small").card.ref == "devox-small@2"
    card = resolve("devox-small@2").card
    assert card.training["mlops"]["cycle"] == doc["cycle"] and card.metrics["mlops_gate"]["passed"]
    assert list(doc["stages_s"]) == ["upload", "preparation", "training", "gate", "registration", "deployment"]
    # a finished cycle reruns as a no-op (the promoted NAME now resolves to @2, the cycle still to its @1)
    again = mlops_cycle("devox-small", kept, out, **kw)
    assert again["candidate"] == "devox-small@2" and _versions(store) == ["1", "2"]
    # the kept features are biometric data: owner-only in the cycle's folder
    staged = out / "upload"
    for p in [staged, *staged.rglob("*")]:
        mode = stat.S_IMODE(p.stat().st_mode)
        assert mode == (0o700 if p.is_dir() else 0o600), (p, oct(mode))
    assert not [p for p in out.iterdir() if p.name.startswith(".upload-") or p.name.startswith(".training-")]


class FakeEdge:
    """A loopback HTTP server that answers /healthz with ``devox-small@1`` forever (it never swaps) and
    /v1/kept with ``kept_tar``: an edge server gone wrong."""

    def __init__(self, kept_tar: bytes = b"") -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                body = kept_tar if self.path.startswith("/v1/kept") else json.dumps(
                    {"status": "ok", "model": "devox-small@1"}).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"ws://127.0.0.1:{self.httpd.server_address[1]}/v1/call"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def __enter__(self) -> FakeEdge:
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _tar(kept: Path, extra) -> bytes:
    """The keep folder as /v1/kept sends it, plus one hostile member added by ``extra(tar)``."""
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for f in sorted(kept.rglob("*")):
            if f.is_file():
                tar.add(f, arcname=str(f.relative_to(kept)))
        extra(tar)
    return buf.getvalue()


def _symlink_member(tar) -> None:
    import tarfile

    info = tarfile.TarInfo("v/stolen.bfm")
    info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
    tar.addfile(info)


def _escaping_member(tar) -> None:
    import io
    import tarfile

    info = tarfile.TarInfo("../../outside.json")
    info.size = 2
    tar.addfile(info, io.BytesIO(b"{}"))


@pytest.mark.parametrize("extra, needle", [(_symlink_member, "not a plain file"),
                                           (_escaping_member, "outside the staging folder")])
def test_a_hostile_kept_archive_from_the_network_is_refused(extra, needle, kept, store, tmp_path, capfd):
    token = tmp_path / "token"
    token.write_text(TOKEN)
    token.chmod(0o600)  # bench refuses token files others can read
    with FakeEdge(_tar(kept, extra)) as edge:
        _refused(["mlops", "cycle", "--model", "devox-small", "--fetch", "--server", edge.url, "--token-file",
                  str(token), "--out", str(tmp_path / "out")], capfd, needle, store)
    assert not (tmp_path / "out").exists()


def test_a_server_that_never_swaps_is_an_error_after_promotion(kept, store, tmp_path, capfd):
    """Promoted, but the server keeps serving the running version: one line, exit 1."""
    gate = tmp_path / "gate.toml"
    gate.write_text(LENIENT_GATE)
    with FakeEdge() as edge:
        res = invoke(_cycle(kept, tmp_path / "out", "--server", edge.url, "--deploy-timeout", "1", "--gate-config",
                            str(gate)), capfd)
    assert res.code == 1 and len(res.lines) == 1 and "did not confirm" in res.lines[0], res.stderr
    assert "devox-small@2 is promoted" in res.lines[0]


# ------------------------------------------------------------------ privacy
def _corpus_subset(corpus: Path, out: Path, speakers: int) -> Path:
    """A corpus of the first ``speakers`` speakers of ``corpus`` (its own content hash)."""
    from bench.data.corpus import open_dataset, read_manifest, save

    ds = open_dataset(corpus)
    keep = sorted(set(ds["subject"]))[:speakers]
    save(ds.filter(lambda r: r["subject"] in keep), out, {**read_manifest(corpus), "name": out.name})
    return out


def _privacy(model: str, corpus: Path, out: Path) -> list[str]:
    return ["privacy", "--model", model, "--corpus", str(corpus), "--out", str(out), "--max-recordings", "1",
            "--epochs", "1", "--threads", "1"]


def test_privacy_owns_its_output_folder(store, zoo_inputs, tmp_path, capfd):
    corpus = zoo_inputs / "corpus"
    model = store / "devox-small" / "1"
    _refused(_privacy("devox-small@1", corpus, corpus), capfd, "also an input", zoo_inputs)
    _refused(_privacy("devox-small@1", corpus, corpus / "priv"), capfd, "lies inside the input", zoo_inputs)
    _refused(_privacy("devox-small@1", corpus, model / "priv"), capfd, "lies inside the input", store)
    _refused(_privacy(str(model), corpus, model), capfd, "also an input", store)
    user = tmp_path / "userdir"
    user.mkdir()
    (user / "notes.txt").write_text("mine\n")
    _refused(_privacy("devox-small@1", corpus, user), capfd, "not written by bench", user)
    earlier = tmp_path / "earlier"  # an earlier privacy run with other settings
    earlier.mkdir()
    (earlier / ".bench-run.json").write_text(json.dumps({"command": "privacy", "params": {"epochs": 15}}))
    (earlier / "privacy.json").write_text("{}")
    _refused(_privacy("devox-small@1", corpus, earlier), capfd, "other settings", earlier)


def test_privacy_refuses_a_corpus_it_cannot_measure_with_one_line(store, zoo_inputs, tmp_path, capfd):
    out = tmp_path / "priv"
    _refused(_privacy("devox-small@1", zoo_inputs / "fakes", out), capfd, "fakes dataset", zoo_inputs)
    other = _corpus_subset(zoo_inputs / "corpus", tmp_path / "other", speakers=3)
    _refused(_privacy("devox-small@1", other, out), capfd, "not the corpus", zoo_inputs)
    # a model whose card records no corpus hash (a corpus without bench.json): the speakers are checked
    model = tmp_path / "model"
    shutil.copytree(store / "devox-small" / "1", model)
    card = json.loads((model / "model.json").read_text())
    card["training"]["corpus"]["content_hash"] = None
    (model / "model.json").write_text(json.dumps(card))
    one = _corpus_subset(zoo_inputs / "corpus", tmp_path / "one", speakers=1)
    _refused(_privacy(str(model), one, out), capfd, "at least 2", zoo_inputs, model)
    assert not out.exists()


def test_a_figure_that_is_not_a_number_is_never_reported():
    from bench.errors import BenchError
    from bench.serve.privacy_report import _check_finite

    report = {"corpus": "c", "identity": {"features": {"accuracy": 0.5}, "raw_audio_logmel": {"accuracy": 0.9},
                                          "probe": "..."},
              "content": {"original": {"wil": 0.1}, "reconstructed": {"wil": float("nan")}, "n_recordings": 0}}
    with pytest.raises(BenchError, match="content reconstructed WIL"):
        _check_finite(report)
    report["content"]["reconstructed"]["wil"] = 0.8
    _check_finite(report)
