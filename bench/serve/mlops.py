"""``bench mlops cycle``: DevoX's continuous-training loop (Sec. III.C, Table 2) for a privacy-split model.

The edge (``bench serve --keep-dir``) keeps the feature messages and labels of the calls that opted in,
never their audio. One cycle, each stage timed and shown beside DevoX Table 2:

1. **upload**: the kept calls move from the edge to the core: fetched from the running server
   (``GET /v1/kept``, token required) or read from its keep folder, checked, and staged in OUT/upload
   (owner-only: folders 0700, files 0600; kept features are biometric data).
2. **preparation**: their labelled feature messages are parsed; the running model's own training data
   (its card's corpus and fakes, same speaker splits) is turned into features by the same device half.
3. **training**: every seed's server half is fine-tuned on old + new features, the device half frozen,
   so phones keep their encoder and the messages they send stay valid
   (``bench.countermeasures.split_model.device_version``).
   The weights go to OUT/model.
4. **gate**: both versions are evaluated on the held-out test speakers (``bench evaluate``; the candidate
   from OUT/model) and compared with ``bench gate``'s rules.
5. **registration**: only now, gated, the candidate becomes the next version of the model's name in the
   store, with a card naming its parent, the data it saw and the gate's verdict: the store never holds
   an ungated version. A candidate that failed the gate is registered too (for the record) but never
   promoted.
6. **deployment**: promotion of a candidate that passed; with ``--server``, until the running server
   reports the new version (its watcher hot-swaps without dropping calls).

Every input (model, keep folder or server, corpus and fakes, gate config, server) is checked before
OUT is claimed (:func:`bench.outdir.claim_output`) and before anything is trained or registered.
OUT/state.json records the stages done, so the same command after a crash or Ctrl-C finishes the same
candidate instead of registering another.

This module runs the cycle, checks its inputs and prepares the features; the keep folder is read, fetched
and staged by :mod:`bench.serve.kept`, the candidate trained, gated and registered by
:mod:`bench.serve.candidate`.
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import shutil
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import BenchError, RunFailed, first_line
from bench.fileio import read_json, write_json
from bench.references.devox import DEVOX_TABLE2
from bench.serve.candidate import (
    TRAINING_PREFIX,
    gate_candidate,
    load_candidate,
    register_candidate,
    train_candidate,
)
from bench.serve.kept import UPLOAD_PREFIX, fetch_kept, parse_kept, read_keep_folder, stage_private, upload_summary
from bench.serve.protocol import base_url

COMMAND = "mlops cycle"
STATE_FILE = "state.json"
_TEMP_PREFIXES = (UPLOAD_PREFIX, TRAINING_PREFIX)  # what an interrupted cycle may leave in OUT
_URL_SCHEMES = ("ws://", "wss://", "http://", "https://")


# ------------------------------------------------------------------ preparation
def kept_features(calls: list[dict[str, Any]], slot: Any) -> tuple[dict[int, list[np.ndarray]], list[int], dict]:
    """Per seed, the (windows, ...) features of every labelled kept chunk made by ``slot``'s device half, their
    0/1 labels per window, and what was skipped."""
    from bench.serve.protocol import ProtocolError, split_messages

    feats: dict[int, list[np.ndarray]] = {s: [] for s in slot.seeds}
    labels: list[int] = []
    skipped = {"unlabelled_calls": 0, "other_device_half": 0, "bad_frames": 0}
    for call in calls:
        if call.get("label") not in (0, 1):
            skipped["unlabelled_calls"] += 1
            continue
        if call.get("model_version") != slot.version:
            skipped["other_device_half"] += 1
            continue
        for frame in call["frames"]:
            try:
                msgs = split_messages(frame)
                slot.check_messages(msgs)
            except (ProtocolError, BenchError):
                skipped["bad_frames"] += 1
                continue
            for m in msgs:
                feats[m.seed].append(m.data)
            labels += [int(call["label"])] * len(msgs[0].data)
    return feats, labels, skipped


def device_features(slot: Any, waves: list[np.ndarray]) -> tuple[dict[int, np.ndarray], np.ndarray]:
    """Per seed, the message-dtype features of every window of ``waves``, and each window's recording index."""
    from bench.api.score_contract import windows

    wins = [windows(w, slot.spec) for w in waves]
    owner = np.concatenate([np.full(len(w), i) for i, w in enumerate(wins)])
    flat = np.concatenate(wins)
    out = {}
    for seed in slot.seeds:
        out[seed] = np.concatenate([slot.scorer.window_features(seed, flat[i:i + 64]) for i in range(0, len(flat), 64)])
    return out, owner


# ------------------------------------------------------------------ the inputs
def check_server(server: str, name: str) -> dict[str, Any]:
    """The running server's ``/healthz``; BenchError unless it answers and serves a version of ``name`` (a
    server that does not could never confirm the swap)."""
    if not server.startswith(_URL_SCHEMES):
        raise BenchError(f"--server {server}: not a server URL (e.g. ws://127.0.0.1:8765/v1/call)")
    try:
        doc = json.loads(urllib.request.urlopen(base_url(server) + "/healthz", timeout=10).read())
    except (OSError, ValueError, http.client.HTTPException) as exc:
        raise BenchError(f"--server {server} is not reachable ({first_line(exc)}); start it, or leave out "
                         "--server") from None
    served = doc.get("model") if isinstance(doc, dict) else None
    if not isinstance(served, str) or served.partition("@")[0] != name:
        raise BenchError(f"--server {server} serves {served!r}, not a version of {name}: it would never swap to "
                         "the new version")
    return doc


def training_data(card: Any, corpus: str | None, fakes: str | None) -> tuple[str, str]:
    """Absolute paths of the model's training corpus and fakes: the ones given, else those its card records
    (as given at training time: absolute, or relative to the working directory of then)."""
    found = []
    for what, given in (("corpus", corpus), ("fakes", fakes)):
        rec = card.training.get(what)
        path = given or (rec.get("path") if isinstance(rec, dict) else None)
        if not path:
            raise BenchError(f"model {card.ref}: its card names no training {what}; give --{what}")
        if not given and not Path(path).exists():
            raise BenchError(f"model {card.ref} was trained on the {what} {path}, which is not there from "
                             f"{Path.cwd()} (the card keeps the path as it was given); give --{what}")
        found.append(str(Path(path).expanduser().resolve()))
    return found[0], found[1]


def check_same_data(card: Any, paths: tuple[str, str], manifests: tuple[dict, dict]) -> None:
    """BenchError unless the corpus and fakes are the ones the card records (content hash, when it records one)."""
    from bench.data.corpus import known_hashes

    for what, path, manifest in zip(("corpus", "fakes"), paths, manifests, strict=True):
        rec = card.training.get(what)
        want = rec.get("content_hash") if isinstance(rec, dict) else None
        if want and want not in known_hashes(manifest):
            raise BenchError(f"--{what} {path} is not the {what} {card.ref} was trained on (content hash "
                             f"{manifest.get('content_hash') or 'none'}; its card records {want})")
    splits = card.training.get("splits")
    if not isinstance(splits, dict) or not all(splits.get(k) for k in ("train", "val", "test")):
        raise BenchError(f"model {card.ref}: its card names no train, validation and test speakers")


# ------------------------------------------------------------------ the cycle's record
def _prior_state(out: Path, model: str, overwrite: bool) -> dict[str, Any]:
    """OUT/state.json of an earlier run of this command for ``model`` (what a rerun resumes), else {}."""
    from bench.outdir import MARKER

    marker = out / MARKER
    if overwrite or not marker.is_file() or not (out / STATE_FILE).is_file():
        return {}
    doc = read_json(marker, "run marker")
    if doc.get("command") != COMMAND or not isinstance(doc.get("params"), dict) or doc["params"].get("model") != model:
        return {}
    state = read_json(out / STATE_FILE, "mlops cycle state")
    if not (isinstance(state.get("running"), str) and isinstance(state.get("cycle"), str)
            and isinstance(state.get("stages_s"), dict)):
        raise BenchError(f"{out / STATE_FILE} is not a state this command wrote; pass --overwrite to run the cycle "
                         "again")
    return state


def _clear_temporaries(out: Path) -> None:
    """Temporary folders an interrupted run of this cycle left in its own folder."""
    for p in out.iterdir():
        if p.name.startswith(_TEMP_PREFIXES) and p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)


# ------------------------------------------------------------------ the cycle
@dataclass
class _Plan:
    """The checked inputs of one cycle."""

    card: Any  # the running version's ModelCard
    slot: Any  # its loaded ModelSlot (torch)
    corpus: str
    fakes: str
    datasets: tuple[Any, Any]  # corpus and fakes
    corpus_manifest: dict[str, Any]
    tol: Any  # bench.evaluation.gate.Tolerances
    source: str  # keep folder or server URL
    fetch: bool
    params: dict[str, Any]  # what claim_output records
    inputs: list[Any]  # what OUT may not be, contain or lie inside


def _check_inputs(model: str, keep_dir: str | Path, corpus: str | None, fakes: str | None, epochs: int, lr: float,
                  server: str | None, gate_config: str | None, running: str | None) -> _Plan:
    """Every input but the kept calls, checked (BenchError otherwise); ``running``: the version an earlier run
    of this cycle started from (the model's name may resolve to its candidate by now)."""
    from bench.data.corpus import read_manifest
    from bench.evaluation.gate import Tolerances
    from bench.models.store import resolve, store_root
    from bench.runs.evaluate import open_inputs
    from bench.serve.engine import ModelSlot

    tol = Tolerances.from_file(gate_config) if gate_config else Tolerances()
    entry = resolve(running or model)
    card = entry.card
    if not card.version or card.source != "trained":
        raise BenchError(f"--model {model}: give a trained model of the store (NAME or NAME@VERSION), not a folder or "
                         "a packaged model: the candidate becomes the next version of its name")
    slot = ModelSlot(card.ref, backend="torch")  # its torch networks are fine-tuned
    if not slot.split:
        raise BenchError(f"model {card.ref} is not a privacy-split model: the edge keeps features only for those "
                         "(devox)")
    if any(getattr(n, "deep_voice_index", None) is not None for n in slot.scorer.modules):
        raise BenchError(f"{card.detector}: its classes are enrolled users; retraining needs each call's user, "
                         "which the kept calls do not carry")
    corpus, fakes = training_data(card, corpus, fakes)
    check_same_data(card, (corpus, fakes), (read_manifest(corpus), read_manifest(fakes)))
    corpus_ds, fakes_ds, cm, fm = open_inputs(corpus, fakes)
    if server:
        check_server(server, card.name)
    src = str(keep_dir)
    fetch = src.startswith(_URL_SCHEMES)
    params = {"model": model, "source": "fetch from --server" if fetch else str(Path(src).resolve()),
              "corpus_hash": cm.get("content_hash"), "fakes_hash": fm.get("content_hash"), "epochs": epochs,
              "lr": lr, "gate": dataclasses.asdict(tol)}
    inputs = [None if fetch else src, corpus, fakes, entry.folder, store_root(), gate_config]
    return _Plan(card, slot, corpus, fakes, (corpus_ds, fakes_ds), cm, tol, src, fetch, params, inputs)


def _old_features(plan: _Plan) -> tuple[dict[str, Any], Any]:
    """The running model's training and validation data, through its device half (the features it trained on)."""
    from bench.data.corpus import unusable_references
    from bench.runs.evaluate import build_samples
    from bench.runs.train import load_splits

    corpus_ds, fakes_ds = plan.datasets
    rows = corpus_ds.to_list()
    data = load_splits(build_samples(rows, fakes_ds.to_list(), unusable_references(rows)),
                       plan.card.training["splits"], names=("train", "val"))
    if any(len(data.waves[k]) == 0 for k in ("train", "val")):
        raise BenchError(f"--corpus {plan.corpus} holds no recordings of {plan.card.ref}'s training or validation "
                         "speakers")
    return {k: device_features(plan.slot, data.waves[k]) for k in ("train", "val")}, data


def mlops_cycle(model: str, keep_dir: str | Path, out: str | Path, *, corpus: str | None = None,
                fakes: str | None = None, epochs: int = 30, lr: float = 1e-4, threads: int = 2,
                server: str | None = None, token: str | None = None, gate_config: str | None = None,
                deploy_timeout: float = 120.0, overwrite: bool = False,
                progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """One cycle (see the module docstring); writes OUT/cycle.json and returns it. ``keep_dir``: the edge's keep
    folder, or the running server's URL (the kept features are then fetched over the network with ``token``).
    Rerun with the same arguments, it finishes the cycle OUT/state.json records."""
    import torch

    from bench.outdir import check_output, claim_output

    say = progress or (lambda _m: None)
    out = Path(out)
    torch.set_num_threads(threads)
    # ---- every input is checked before OUT is claimed and before anything is trained or registered
    state = _prior_state(out, model, overwrite)
    plan = _check_inputs(model, keep_dir, corpus, fakes, epochs, lr, server, gate_config, state.get("running"))
    card, slot, src = plan.card, plan.slot, plan.source
    resuming = check_output(out, COMMAND, plan.params, inputs=plan.inputs, overwrite=overwrite)
    state = state if resuming else {}
    staged, trained = out / "upload", resuming and (out / "model").is_dir()
    if trained and "data" not in state:
        raise BenchError(f"{out}/{STATE_FILE} is missing or incomplete; pass --overwrite to run the cycle again")
    t = time.perf_counter()
    transferred = None
    if resuming and staged.is_dir():
        files = read_keep_folder(staged)
    elif plan.fetch:
        files, transferred = fetch_kept(src, token)
    else:
        files = read_keep_folder(src)
    calls = parse_kept(files, src)
    new_feats, new_labels, skipped = kept_features(calls, slot)
    if not new_labels:
        raise BenchError(f"{src}: no labelled call kept by {card.ref}'s device half ({skipped})")
    upload_s = time.perf_counter() - t
    t = time.perf_counter()
    old, data = (None, None) if trained else _old_features(plan)
    preparation_s = time.perf_counter() - t

    # ---- OUT is ours from here on
    claim_output(out, COMMAND, plan.params, inputs=plan.inputs, overwrite=overwrite)
    _clear_temporaries(out)
    state = state or {"cycle": uuid.uuid4().hex, "running": card.ref, "stages_s": {}}
    stages = state["stages_s"]

    def record(stage: str, seconds: float | None = None, **fields: Any) -> None:
        if seconds is not None:
            stages[stage] = round(seconds, 3)
        state.update(fields)
        write_json(out / STATE_FILE, state)

    if "upload" not in state or not staged.is_dir():
        t = time.perf_counter()
        if not staged.is_dir():
            stage_private(files, staged)
        record("upload", upload_s + time.perf_counter() - t,
               upload={**upload_summary(files),
                       **({"over": "network", "url": base_url(src) + "/v1/kept", "transferred_bytes": transferred}
                          if plan.fetch else {"over": "local copy", "path": src})})
    up = state["upload"]
    say(f"upload: {up['files']} files, {up['bytes']:,} bytes ({up['audio_files']} audio files)")
    if "data" not in state:
        record("preparation", preparation_s, data={
            "kept_calls": len(calls), "new_windows": len(new_labels), "skipped": skipped,
            "old_training_windows": len(old["train"][1]), "validation_windows": len(old["val"][1])})
    d = state["data"]
    say(f"preparation: {d['kept_calls']} kept calls ({d['new_windows']} labelled windows, skipped {d['skipped']}); "
        f"{d['old_training_windows']} + {d['validation_windows']} windows of the old training data")

    if not trained:
        t = time.perf_counter()
        info = {"parent": card.ref, "cycle": state["cycle"], "kept_calls": d["kept_calls"],
                "new_windows": d["new_windows"], "skipped": d["skipped"], "old_windows": d["old_training_windows"],
                "epochs": epochs, "lr": lr, "frozen": "device half"}
        history = train_candidate(slot, card, old, data, new_feats, new_labels, out / "model", info,
                                  (plan.corpus, plan.fakes))
        record("training", time.perf_counter() - t, training={"per_seed": history})
    candidate = load_candidate(out / "model")
    say(f"training: {epochs} epochs on {d['old_training_windows'] + d['new_windows']} windows "
        f"({d['new_windows']} new), device half frozen")

    if "gate" not in state:
        t = time.perf_counter()
        gate_candidate(card, candidate, plan.corpus, plan.fakes, out, plan.tol, state)
        record("gate", time.perf_counter() - t)
    g = state["gate"]
    say(f"gate: {'passed' if g['passed'] else 'failed on ' + ', '.join(g['regressions'])}")

    if "candidate" not in state:
        t = time.perf_counter()
        ref = register_candidate(card, candidate, state).card.ref
        record("registration", time.perf_counter() - t, candidate=ref)
    say(f"registration: {state['candidate']}")

    deployment = state.get("deployment")
    if deployment is None or (g["passed"] and server and not deployment.get("server_swapped")):
        t = time.perf_counter()
        deployment = {"promoted": False}
        if g["passed"]:
            from bench.models.store import promote

            promote(state["candidate"])
            deployment["promoted"] = True
            if server:
                record("deployment", None, deployment=deployment)
                deployment["server_swapped"] = _wait_for(server, state["candidate"], deploy_timeout)
        record("deployment", time.perf_counter() - t, deployment=deployment)
    say(f"deployment: {'promoted' if deployment['promoted'] else 'not promoted'}"
        + (f", server swapped: {deployment.get('server_swapped')}" if server and g["passed"] else ""))
    return _finish(out, state, plan, server, deploy_timeout)


def _finish(out: Path, state: dict[str, Any], plan: _Plan, server: str | None, timeout: float) -> dict[str, Any]:
    """Write OUT/cycle.json and return it; RunFailed (exit 1) when a promoted version was not confirmed by the
    server."""
    from bench.evaluation.results import now

    deployment = state["deployment"]
    doc = {"schema": "bench.mlops/1", "created": now(), "running": state["running"],
           "candidate": state["candidate"],
           "stages_s": dict(state["stages_s"]), "upload": state["upload"], "data": state["data"],
           "gate": state["gate"], "deployment": deployment, "paper": DEVOX_TABLE2,
           "simulated": bool(plan.corpus_manifest.get("simulated")), "cycle": state["cycle"]}
    write_json(out / "cycle.json", doc)
    if server and deployment["promoted"] and not deployment.get("server_swapped"):
        raise RunFailed(f"{state['candidate']} is promoted, but the server at {server} did not confirm the swap "
                        f"within {timeout:.0f} s; check it (the same command waits again)")
    return doc


def _wait_for(server: str, ref: str, timeout: float) -> bool:
    """Poll the server's /healthz until it serves ``ref``."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            doc = json.loads(urllib.request.urlopen(base_url(server) + "/healthz", timeout=5).read())
            if isinstance(doc, dict) and doc.get("model") == ref:
                return True
        except (OSError, ValueError, http.client.HTTPException):
            pass
        time.sleep(0.1)
    return False
