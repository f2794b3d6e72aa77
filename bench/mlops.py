"""``bench mlops cycle``: DevoX's continuous-training loop (Sec. III.C, Table 2) for a privacy-split model.

The edge (``bench serve --keep-dir``) keeps the feature messages and labels of the calls that opted in,
never their audio. One cycle, each stage timed and shown beside DevoX Table 2:

1. **upload**: the kept calls move from the edge to the core: fetched from the running server
   (``GET /v1/kept``, token required) or copied from its keep folder.
2. **preparation**: their labelled feature messages are parsed; the running model's own training data
   (its card's corpus and fakes, same speaker splits) is turned into features by the same device half.
3. **training**: every seed's server half is fine-tuned on old + new features, the device half frozen,
   so phones keep their encoder and the messages they send stay valid (``bench.splitcm.device_version``).
4. **registration**: the new weights become the next version of the model's name in the store, with a card
   naming its parent and the data it saw.
5. **gate**: both versions are evaluated on the held-out test speakers (``bench evaluate``) and compared
   with ``bench gate``'s rules; only a version that passes is promoted.
6. **deployment**: promotion; with ``--server``, until the running server reports the new version (its
   watcher hot-swaps without dropping calls).
"""

from __future__ import annotations

import json
import shutil
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import BenchError

#: DevoX Table 2, average of three runs (seconds), quoted: 302 voice recordings, 30 epochs
DEVOX_TABLE2 = {"source": "DevoX Table 2 (quoted)", "upload_s": 3.95, "preparation_s": 0.78, "training_s": 33.60,
                "deployment_s": 22.10, "note": "302 recordings uploaded from the edge; 30 epochs; deployment = a "
                "container image dispatched to every edge server"}


def read_kept(folder: Path) -> list[dict[str, Any]]:
    """Every kept call under ``folder``: its sidecar (label, model, model_version) and frames."""
    calls = []
    for side in sorted(folder.rglob("*.json")):
        blob = side.with_suffix(".bfm")
        if not blob.is_file():
            continue
        meta = json.loads(side.read_text())
        raw, frames, pos = blob.read_bytes(), [], 0
        while pos + 4 <= len(raw):
            n = int.from_bytes(raw[pos:pos + 4], "little")
            if pos + 4 + n > len(raw):
                break  # a frame being written when the upload started: the next cycle gets it
            frames.append(raw[pos + 4:pos + 4 + n])
            pos += 4 + n
        calls.append({**meta, "frames": frames})
    return calls


def upload(source: str | Path, staging: Path, token: str | None = None) -> dict[str, Any]:
    """Bring the edge's kept calls to the core's staging folder: from the running server over the network
    (``source`` is its URL: ``GET /v1/kept`` with the token) or from its keep folder (a path); counts and bytes."""
    import io
    import tarfile

    if staging.exists():
        shutil.rmtree(staging)
    src = str(source)
    if src.startswith(("ws://", "wss://", "http://", "https://")):
        if not token:
            raise BenchError("fetching the kept features from the server needs its token (--token-file)")
        base = src.replace("ws://", "http://", 1).replace("wss://", "https://", 1).split("/v1/", 1)[0]
        req = urllib.request.Request(base + "/v1/kept", headers={"Authorization": f"Bearer {token}"})
        try:
            body = urllib.request.urlopen(req, timeout=300).read()
        except OSError as exc:
            raise BenchError(f"cannot fetch the kept features from {base}: {exc}") from None
        staging.mkdir(parents=True)
        with tarfile.open(fileobj=io.BytesIO(body), mode="r") as tar:
            tar.extractall(staging, filter="data")
        transport = {"over": "network", "url": base + "/v1/kept", "transferred_bytes": len(body)}
    else:
        if not Path(src).is_dir():
            raise BenchError(f"{src}: no such keep folder (bench serve --keep-dir)")
        shutil.copytree(src, staging)
        transport = {"over": "local copy", "path": src}
    files = [p for p in staging.rglob("*") if p.is_file()]
    return {"files": len(files), "bytes": sum(p.stat().st_size for p in files), **transport,
            "audio_files": sum(1 for p in files if p.suffix.lower() in (".wav", ".flac", ".pcm", ".raw"))}


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
    from bench.scoring import windows

    wins = [windows(w, slot.spec) for w in waves]
    owner = np.concatenate([np.full(len(w), i) for i, w in enumerate(wins)])
    flat = np.concatenate(wins)
    out = {}
    for seed in slot.seeds:
        out[seed] = np.concatenate([slot.scorer.window_features(seed, flat[i:i + 64]) for i in range(0, len(flat), 64)])
    return out, owner


def mlops_cycle(model: str, keep_dir: str | Path, out: str | Path, *, corpus: str | None = None,
                fakes: str | None = None, epochs: int = 30, lr: float = 1e-4, threads: int = 2,
                server: str | None = None, token: str | None = None, gate_config: str | None = None,
                deploy_timeout: float = 120.0,
                progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """One cycle (see the module docstring); writes OUT/cycle.json and returns it. ``keep_dir``: the edge's keep
    folder, or the running server's URL (the kept features are then fetched over the network with ``token``)."""
    import torch

    from bench.corpus import unusable_references
    from bench.evaluate import build_samples, evaluate, open_inputs
    from bench.gate import Tolerances, compare
    from bench.modelstore import add, hash_files, promote, promoted, resolve, write_card
    from bench.results import now
    from bench.serve.engine import ModelSlot
    from bench.torchcm import weights_name
    from bench.train_detector import load_splits
    from bench.training import FitConfig, fit_torch, save_torch, seed_everything

    say = progress or (lambda _m: None)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(threads)
    entry = resolve(model)
    card = entry.card
    slot = ModelSlot(card.ref, backend="torch")  # its torch networks are fine-tuned
    if not slot.split:
        raise BenchError(f"model {card.ref} is not a privacy-split model: the edge keeps features only for those "
                         "(devox)")
    nets = slot.scorer.modules
    if any(getattr(n, "deep_voice_index", None) is not None for n in nets):
        raise BenchError(f"{card.detector}: its classes are enrolled users; retraining needs each call's user, "
                         "which the kept calls do not carry")
    tr = card.training
    corpus = corpus or (tr.get("corpus") or {}).get("path")
    fakes = fakes or (tr.get("fakes") or {}).get("path")
    if not corpus or not fakes or not tr.get("splits"):
        raise BenchError(f"model {card.ref}: its card names no training corpus and splits; give --corpus/--fakes")
    stages: dict[str, float] = {}

    t = time.perf_counter()
    staged = upload(keep_dir, out / "upload", token)
    stages["upload"] = time.perf_counter() - t
    say(f"upload: {staged['files']} files, {staged['bytes']:,} bytes ({staged['audio_files']} audio files)")

    t = time.perf_counter()
    calls = read_kept(out / "upload")
    new_feats, new_labels, skipped = kept_features(calls, slot)
    if not new_labels:
        raise BenchError(f"{keep_dir}: no labelled call kept by {card.ref}'s device half ({skipped})")
    corpus_ds, fakes_ds, cm, _fm = open_inputs(corpus, fakes)
    rows = corpus_ds.to_list()
    data = load_splits(build_samples(rows, fakes_ds.to_list(), unusable_references(rows)), tr["splits"],
                       names=("train", "val"))
    old = {k: device_features(slot, data.waves[k]) for k in ("train", "val")}
    stages["preparation"] = time.perf_counter() - t
    n_new = len(new_labels)
    say(f"preparation: {len(calls)} kept calls ({n_new} labelled windows, skipped {skipped}); "
        f"{len(old['train'][1])} + {len(old['val'][1])} windows of the old training data")

    t = time.perf_counter()
    folder = out / "model"
    if folder.exists():
        shutil.rmtree(folder)
    y_tr = np.concatenate([data.labels["train"][old["train"][1]], np.asarray(new_labels)])
    y_va = data.labels["val"][old["val"][1]]
    cfg = FitConfig(epochs=epochs, batch_size=32, lr=lr, weight_decay=0.0, patience=max(epochs, 1)).check()
    history = {}
    for seed, net in zip(slot.seeds, nets, strict=True):
        seed_everything(seed)
        x_tr = torch.from_numpy(np.concatenate([old["train"][0][seed], *new_feats[seed]]).astype(np.float32))
        x_va = torch.from_numpy(old["val"][0][seed].astype(np.float32))
        for p in net.device_half.parameters():
            p.requires_grad_(False)
        _, outcome = fit_torch(net.server_half, x_tr, y_tr, x_va, y_va, cfg=cfg, device=slot.scorer.device)
        history[str(seed)] = {"best_epoch": outcome.best_epoch, "epochs_run": outcome.epochs_run,
                              "history": outcome.history}
        name = weights_name(seed, card)
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        save_torch(folder / name, {k: v.detach().cpu() for k, v in net.state_dict().items()})
    stages["training"] = time.perf_counter() - t
    say(f"training: {epochs} epochs on {len(y_tr)} windows ({n_new} new), device half frozen")

    t = time.perf_counter()
    if promoted(card.name) is None:  # pin the running version: NAME would otherwise follow the newest one,
        promote(card.ref)            # and a server following NAME would swap before the gate
    files = [weights_name(s, card) for s in slot.seeds]
    new_card = card.model_copy(update={
        "version": "", "files": hash_files(folder, files), "created": now(), "metrics": {},
        "training": {**tr, "mlops": {"parent": card.ref, "kept_calls": len(calls), "new_windows": n_new,
                                     "skipped": skipped, "old_windows": len(old["train"][1]), "epochs": epochs,
                                     "lr": lr, "frozen": "device half", "per_seed": history}}})
    write_card(folder, new_card)
    new_entry = add(folder, new_card)
    stages["registration"] = time.perf_counter() - t
    say(f"registration: {new_entry.card.ref}")

    t = time.perf_counter()
    tol = Tolerances.from_file(gate_config) if gate_config else Tolerances()
    res = {}
    for ref in (card.ref, new_entry.card.ref):
        res[ref] = evaluate(card.detector, corpus, fakes, out / "gate" / ref.replace("@", "-"),
                            config={"model": ref}, workers=1, held_out_only=True,
                            command=f"bench mlops cycle ({ref})")
    checks = compare(res[card.ref], res[new_entry.card.ref], tol)
    failed = [c.metric for c in checks if c.status == "regression"]
    o = res[new_entry.card.ref].overall
    new_entry.card.metrics = {"test_summary": {"auroc_mean": o.auroc.value, "auroc_std": None, "eer_mean": o.eer.value,
                                               "eer_std": None, "seeds": len(slot.seeds)},
                              "mlops_gate": {"against": card.ref, "passed": not failed, "regressions": failed,
                                             "result": str(out / "gate" / new_entry.card.ref.replace("@", "-"))}}
    write_card(new_entry.folder, new_entry.card)
    stages["gate"] = time.perf_counter() - t
    say(f"gate: {'passed' if not failed else 'failed on ' + ', '.join(failed)}")

    deployment: dict[str, Any] = {"promoted": False}
    t = time.perf_counter()
    if not failed:
        promote(new_entry.card.ref)
        deployment["promoted"] = True
        if server:
            deployment["server_swapped"] = _wait_for(server, new_entry.card.ref, deploy_timeout)
    stages["deployment"] = time.perf_counter() - t
    say(f"deployment: {'promoted' if deployment['promoted'] else 'not promoted'}"
        + (f", server swapped: {deployment.get('server_swapped')}" if server else ""))
    doc = {"schema": "bench.mlops/1", "created": now(), "running": card.ref, "candidate": new_entry.card.ref,
           "stages_s": {k: round(v, 3) for k, v in stages.items()}, "upload": staged,
           "data": {"kept_calls": len(calls), "new_windows": n_new, "old_training_windows": len(old["train"][1]),
                    "validation_windows": len(old["val"][1]), "skipped": skipped},
           "gate": {"passed": not failed, "regressions": failed, "checks": [c.__dict__ for c in checks],
                    "auroc": {ref: r.overall.auroc.value for ref, r in res.items()}},
           "deployment": deployment, "paper": DEVOX_TABLE2, "simulated": bool(cm.get("simulated"))}
    (out / "cycle.json").write_text(json.dumps(doc, indent=2))
    return doc


def _wait_for(server: str, ref: str, timeout: float) -> bool:
    """Poll the server's /healthz until it serves ``ref``."""
    base = server.replace("ws://", "http://").replace("wss://", "https://").split("/v1/", 1)[0]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if json.loads(urllib.request.urlopen(base + "/healthz", timeout=5).read()).get("model") == ref:
                return True
        except OSError:
            pass
        time.sleep(0.1)
    return False
