"""The candidate of a ``bench mlops cycle`` (:mod:`bench.serve.mlops`): the running model's server halves
fine-tuned on old and new features with the device half frozen (:func:`train_candidate`), checked against its
card (:func:`load_candidate`), gated against the running version (:func:`gate_candidate`) and registered as the
next version of the model's name (:func:`register_candidate`)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import BenchError

TRAINING_PREFIX = ".training-"  #: the temporary folder a candidate is trained into, beside OUT/model


def train_candidate(slot: Any, card: Any, old: dict, data: Any, new_feats: dict, new_labels: list[int], folder: Path,
                    info: dict[str, Any], paths: tuple[str, str]) -> dict[str, Any]:
    """Fine-tune every seed's server half (device half frozen) into a temporary folder beside ``folder``, with its
    card (not yet a store version; ``info`` goes to its training.mlops, ``paths`` are the corpus and fakes it
    saw), then rename it to ``folder``; the per-seed training history."""
    import torch

    from bench.countermeasures.torch_model import weights_name
    from bench.countermeasures.training import FitConfig, fit_torch, save_torch, seed_everything
    from bench.evaluation.results import now
    from bench.models.store import hash_files, write_card

    y_tr = np.concatenate([data.labels["train"][old["train"][1]], np.asarray(new_labels)])
    y_va = data.labels["val"][old["val"][1]]
    cfg = FitConfig(epochs=info["epochs"], batch_size=32, lr=info["lr"], weight_decay=0.0,
                    patience=max(info["epochs"], 1)).check()
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=TRAINING_PREFIX))
    try:
        history = {}
        for seed, net in zip(slot.seeds, slot.scorer.modules, strict=True):
            seed_everything(seed)
            x_tr = torch.from_numpy(np.concatenate([old["train"][0][seed], *new_feats[seed]]).astype(np.float32))
            x_va = torch.from_numpy(old["val"][0][seed].astype(np.float32))
            for p in net.device_half.parameters():
                p.requires_grad_(False)
            _, outcome = fit_torch(net.server_half, x_tr, y_tr, x_va, y_va, cfg=cfg, device=slot.scorer.device)
            history[str(seed)] = {"best_epoch": outcome.best_epoch, "epochs_run": outcome.epochs_run,
                                  "history": outcome.history}
            name = weights_name(seed, card)
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            save_torch(tmp / name, {k: v.detach().cpu() for k, v in net.state_dict().items()})
        tr = card.training
        old_fakes = tr["fakes"] if isinstance(tr.get("fakes"), dict) else {}  # one fakes folder (or several: a list)
        write_card(tmp, card.model_copy(update={
            "version": "", "files": hash_files(tmp, [weights_name(s, card) for s in slot.seeds]), "created": now(),
            "metrics": {}, "training": {
                **tr, "corpus": {**tr["corpus"], "path": paths[0]}, "fakes": {**old_fakes, "path": paths[1]},
                "mlops": {**info, "per_seed": history}}}))
        os.rename(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return history


def load_candidate(folder: Path) -> Any:
    """The trained candidate in OUT/model, checked against its card's checksums."""
    from bench.models.store import ModelEntry, read_card

    entry = ModelEntry(folder, read_card(folder))
    try:
        entry.verify()
    except BenchError as exc:
        raise BenchError(f"{exc} (OUT/model changed after training; pass --overwrite to run the cycle again)") from None
    return entry


def gate_candidate(card: Any, candidate: Any, corpus: str, fakes: str, out: Path, tol: Any, state: dict) -> None:
    """Evaluate the running version and the candidate (from its folder) on the held-out speakers and compare
    them with ``tol``; the verdict goes into ``state['gate']``."""
    from bench.evaluation.gate import compare
    from bench.runs.evaluate import evaluate

    res = {}
    for key, ref in (("running", card.ref), ("candidate", str(candidate.folder.resolve()))):
        res[key] = evaluate(card.detector, corpus, fakes, out / "gate" / key, config={"model": ref}, workers=1,
                            held_out_only=True, command=f"bench mlops cycle ({key} {ref})")
    checks = compare(res["running"], res["candidate"], tol)
    failed = [c.metric for c in checks if c.status == "regression"]
    o = res["candidate"].overall
    state["gate"] = {"passed": not failed, "regressions": failed, "against": card.ref,
                     "checks": [c.__dict__ for c in checks],
                     "auroc": {"running": res["running"].overall.auroc.value, "candidate": o.auroc.value},
                     "eer": {"running": res["running"].overall.eer.value, "candidate": o.eer.value},
                     "result": str(out / "gate" / "candidate")}


def register_candidate(card: Any, candidate: Any, state: dict) -> Any:
    """Add the gated candidate to the store, once: a version this cycle already registered (a crash before
    state.json recorded it) is reused. The running version is pinned first, so that NAME does not follow the
    newest version (a server following NAME would swap to a candidate that failed the gate)."""
    from bench.models.store import add, promote, promoted

    if promoted(card.name) is None:
        promote(card.ref)
    found = _registered(card, state["cycle"])
    if found is not None:
        return found
    g, c = state["gate"], candidate.card
    gated = c.model_copy(update={
        "metrics": {"test_summary": {"auroc_mean": g["auroc"]["candidate"], "auroc_std": None,
                                     "eer_mean": g["eer"]["candidate"], "eer_std": None, "seeds": len(c.seeds)},
                    "mlops_gate": {"against": g["against"], "passed": g["passed"], "regressions": g["regressions"],
                                   "result": g["result"]}}})
    return add(candidate.folder, gated)


def _registered(card: Any, cycle: str) -> Any:
    """The store's version registered by cycle ``cycle`` (a crash between registering and recording it), or None."""
    from bench.models.store import CARD_FILE, ModelEntry, read_card, store_root

    root = store_root() / card.name
    for p in sorted(root.iterdir() if root.is_dir() else []):
        if p.name.isdigit() and (p / CARD_FILE).is_file():
            c = read_card(p)
            if (c.training.get("mlops") or {}).get("cycle") == cycle:
                return ModelEntry(p, c)
    return None
