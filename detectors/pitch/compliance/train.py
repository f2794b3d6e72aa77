"""Training Pitch's compliance classifiers: the per-challenge protocol (speaker-disjoint
cross-validation with early stopping, then a final model on all training speakers for the
folds' median best epoch count, tested once) and the driver that writes a checkpoint folder.

The epoch loop is :func:`bench.countermeasures.training.fit_torch` (AdamW, class-weighted cross-entropy), with
two compliance-specific hooks: BatchNorm statistics recomputed on the training inputs after each
epoch, and the unweighted binary log-loss of P(complied) as the validation loss.
"""

from __future__ import annotations

import hashlib
import io
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.api import FitConfig, FitOutcome, RunFailed, __version__, fit_torch, predict_logits, resolve_device
from bench.data.taxonomy_version import TAXONOMY_VERSION
from bench.detectors.pitch.backbones import Backbone, make_backbone
from bench.detectors.pitch.compliance.config import FORMAT, META_FILE, TrainConfig
from bench.detectors.pitch.compliance.data import Data, cached_inputs, has_both, plan_training
from bench.detectors.pitch.compliance.metrics import binary_metrics, format_row, mean_or_none
from bench.detectors.pitch.compliance.model import read_meta, write_meta
from bench.fileio import write_atomic
from bench.outdir import check_output, check_writable_dir, claim_output

PREDICT_BATCH = 64  # batch size of evaluation forward passes and of the BatchNorm recalibration


def _torch():
    import torch

    return torch


def _fake_probability(logits: np.ndarray) -> np.ndarray:
    """P(class 1) from (N, 2) logits."""
    torch = _torch()
    return torch.softmax(torch.from_numpy(logits).float(), dim=1)[:, 1].numpy()


def _predict_proba(module, inputs, device) -> np.ndarray:
    """P(complied) of ``module`` (eval mode) on the cached ``inputs``."""
    return _fake_probability(predict_logits(module, inputs, PREDICT_BATCH, device))


def _log_loss(logits: np.ndarray, labels: np.ndarray) -> float:
    """Unweighted binary log-loss of P(complied) (clipped to [1e-7, 1 - 1e-7]): the validation loss."""
    p = np.clip(_fake_probability(logits), 1e-7, 1 - 1e-7)
    return float(-np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p)))


def _recalibrate_batchnorm(module, inputs, batch_size: int, device) -> None:
    """Set BatchNorm running statistics to the exact averages over ``inputs`` under the current weights.

    With few optimiser steps (small corpora) the exponential running averages still lag the
    weights, which shifts eval-mode outputs and spoils calibration (accuracy at 0.5) even when
    the ranking (AUROC) is right; one extra no-grad pass fixes that.
    """
    torch = _torch()
    bns = [m for m in module.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    module.eval()
    momenta = []
    for bn in bns:
        momenta.append(bn.momentum)
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average
        bn.train()
    with torch.no_grad():
        for i in range(0, len(inputs), batch_size):
            module(inputs[i:i + batch_size].to(device))
    for bn, m in zip(bns, momenta, strict=True):
        bn.momentum = m
    module.eval()


def _fit(backbone: Backbone, cfg: TrainConfig, x_tr, y_tr: np.ndarray, x_val=None, y_val=None, *,
         epochs: int, seed: int, tick: Callable[[], None] | None = None) -> tuple[Any, FitOutcome]:
    """Train one classifier with :func:`bench.countermeasures.training.fit_torch`; early-stops on the validation loss
    when validation data is given, else trains for ``epochs``."""
    device = backbone.device
    module = backbone.new_module(seed)
    backbone.fit_inputs(module, x_tr)
    fit_cfg = FitConfig(epochs=epochs, batch_size=cfg.batch_size, lr=cfg.lr, weight_decay=cfg.weight_decay,
                        patience=cfg.patience, seed=seed)
    return fit_torch(module, x_tr, y_tr, x_val, y_val, cfg=fit_cfg, device=device,
                     after_epoch=lambda m: _recalibrate_batchnorm(m, x_tr, PREDICT_BATCH, device),
                     val_loss=_log_loss, val_batch_size=PREDICT_BATCH,
                     tick=None if tick is None else (lambda _record: tick()))


def _weights_name(cid: int) -> str:
    from bench.challenges.taxonomy import get

    return f"c{cid:02d}-{get(cid).key}.pt"


def _save_state(path: Path, state: dict[str, Any]) -> str:
    torch = _torch()
    buf = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in state.items()}, buf)
    data = buf.getvalue()
    write_atomic(path, data)
    return hashlib.sha256(data).hexdigest()


def _package_versions() -> dict[str, Any]:
    torch = _torch()
    versions = {"vc-challenge-bench": __version__, "torch": torch.__version__}
    try:
        import transformers

        versions["transformers"] = transformers.__version__
    except ImportError:
        pass
    return versions


def train_compliance(corpus: str | os.PathLike, out: str | os.PathLike, challenges: Sequence[int] | None = None,
                     config: TrainConfig | None = None, overwrite: bool = False,
                     log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Train (or resume training) the compliance classifiers; returns the ``compliance.json`` document.

    ``challenges``: challenge ids to train (default: every classifier challenge the corpus
    holds). Challenges whose weights and metrics are already in ``out`` are skipped.
    """
    from bench.challenges.taxonomy import get
    from bench.parallel import make_progress

    torch = _torch()
    cfg = (config or TrainConfig()).resolved()
    log = log or (lambda _msg: None)
    corpus = Path(corpus)
    out = Path(out)
    check_writable_dir(out, "--out")
    device = resolve_device(cfg.device)
    plan = plan_training(corpus, challenges, cfg)
    ds, meta, chal, chosen, splits = plan.ds, plan.meta, plan.challenge, plan.chosen, plan.splits
    subjects_all, corpus_hash, manifest = meta["subject"], plan.corpus_hash, plan.manifest

    prev_threads = torch.get_num_threads()
    torch.set_num_threads(cfg.threads)
    try:
        backbone = make_backbone(cfg, device)
        doc = {
            "format": FORMAT,
            "taxonomy_version": TAXONOMY_VERSION,
            "backbone": cfg.backbone,
            "config": cfg.model_settings(),
            "features": backbone.settings,
            "corpus": {"path": str(corpus.resolve()), "content_hash": corpus_hash, "name": manifest.get("name"),
                       "simulated": manifest.get("simulated")},
            "seed": cfg.seed,
            "speakers": splits,
            "labels": {"1": "recording of challenge c (complied)", "0": "no-challenge (#0) recording"},
        }
        settings = {"backbone": cfg.backbone, "config": cfg.model_settings(), "features": backbone.settings,
                    "seed": cfg.seed, "corpus_hash": corpus_hash, "speakers": splits}
        inputs = [corpus, cfg.model if cfg.model and Path(cfg.model).exists() else None]
        check_output(out, "train compliance", settings, inputs=inputs, overwrite=overwrite)
        old = read_meta(out) if (out / META_FILE).is_file() and not overwrite else None  # corrupt: an error now
        claim_output(out, "train compliance", settings, inputs=inputs, overwrite=overwrite)
        out.mkdir(parents=True, exist_ok=True)
        doc["package"] = _package_versions()
        doc["created_at"] = (old or {}).get("created_at") or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        doc["challenges"] = {}
        doc["failures"] = {}
        for key, entry in ((old or {}).get("challenges") or {}).items():
            if (out / entry["weights"]).is_file() and entry.get("test") is not None:
                doc["challenges"][key] = entry

        todo = [c for c in chosen if str(c) not in doc["challenges"]]
        skipped = [c for c in chosen if str(c) in doc["challenges"]]
        if skipped:
            log(f"already trained, skipped: {', '.join(f'#{c}' for c in skipped)}")
        doc["skipped"] = skipped
        if not todo:
            write_meta(out, doc)
            return doc

        # decode + crop + featurise every needed recording once (cached on disk)
        needed = np.flatnonzero(np.isin(chal, [0, *todo]))
        inputs = cached_inputs(out, backbone, ds, needed.tolist(), corpus, corpus_hash, cfg, meta)
        data = Data(inputs, chal[needed], np.asarray(subjects_all)[needed])
        with make_progress() as progress:
            task = progress.add_task("training", total=len(todo) * (len(splits["folds"]) + 1) * cfg.epochs)

            def report(description: str | None = None, advance: int = 0) -> None:
                progress.update(task, description=description, advance=advance)

            for cid in todo:
                entry = _train_challenge(cid, backbone, cfg, data, splits, report)
                if "error" in entry:
                    doc["failures"][str(cid)] = entry["error"]
                    log(f"#{cid} {get(cid).key}: not trained: {entry['error']}")
                    continue
                entry["sha256"] = _save_state(out / entry["weights"], entry.pop("state"))
                doc["challenges"][str(cid)] = entry
                write_meta(out, doc)  # after each challenge: an interrupted run keeps what is done
                log(format_row(entry))
        write_meta(out, doc)
        if not doc["challenges"]:
            first = next(iter(doc["failures"].values()), "unknown error")
            raise RunFailed(f"no classifier could be trained ({len(doc['failures'])} failed; first: {first}); "
                            f"{out / META_FILE} records why")
        return doc
    finally:
        torch.set_num_threads(prev_threads)


def _train_challenge(cid: int, backbone: Backbone, cfg: TrainConfig, data: Data, splits: dict[str, Any],
                     report: Callable[..., None]) -> dict[str, Any]:
    """Cross-validate, then train the final model on all training speakers and test it once."""
    from bench.challenges.taxonomy import get

    t0 = time.perf_counter()
    key = get(cid).key
    x = data.inputs
    per_run = cfg.epochs
    tr_idx, tr_y = data.rows(cid, splits["train"])
    if not has_both(tr_y):
        report(advance=(len(splits["folds"]) + 1) * per_run)
        return {"error": f"the training speakers {splits['train']} lack #{cid} or #0 recordings"}

    folds, best_epochs = [], []
    for f, val_speakers in enumerate(splits["folds"]):
        report(f"#{cid} {key}: fold {f + 1}/{len(splits['folds'])}")
        fit_idx, fit_y = data.rows(cid, [s for s in splits["train"] if s not in val_speakers])
        val_idx, val_y = data.rows(cid, val_speakers)
        if not has_both(fit_y) or len(val_y) == 0:
            folds.append({"fold": f + 1, "val_speakers": val_speakers, "skipped": "a class is missing"})
            report(advance=per_run)
            continue
        ticks = _Ticks(report)
        module, run = _fit(backbone, cfg, x[fit_idx], fit_y, x[val_idx], val_y, epochs=cfg.epochs,
                           seed=cfg.seed * 1000 + cid * 10 + f, tick=ticks)
        report(advance=per_run - ticks.n)
        probs = _predict_proba(module, x[val_idx], backbone.device)
        folds.append({"fold": f + 1, "val_speakers": val_speakers, "best_epoch": run.best_epoch,
                      "epochs_run": run.epochs_run, **binary_metrics(val_y, probs)})
        best_epochs.append(run.best_epoch)

    # the final model: all training speakers, for the folds' median best epoch count
    final_epochs = max(1, int(round(float(np.median(best_epochs))))) if best_epochs else cfg.epochs
    report(f"#{cid} {key}: final model ({final_epochs} epochs)")
    ticks = _Ticks(report)
    module, _ = _fit(backbone, cfg, x[tr_idx], tr_y, epochs=final_epochs, seed=cfg.seed * 1000 + cid * 10 + 9,
                     tick=ticks)
    report(advance=per_run - ticks.n)
    te_idx, te_y = data.rows(cid, splits["test"])
    test = binary_metrics(te_y, _predict_proba(module, x[te_idx], backbone.device))
    scored = [r for r in folds if "accuracy" in r]
    return {
        "challenge": cid, "key": key, "name": get(cid).name, "weights": _weights_name(cid),
        "validation": {"accuracy": mean_or_none([r["accuracy"] for r in scored]),
                       "auroc": mean_or_none([r["auroc"] for r in scored]), "folds": folds},
        "test": test,
        "train": {"n": int(len(tr_y)), "n_pos": int(tr_y.sum()), "epochs": final_epochs,
                  "speakers": len(splits["train"])},
        "seconds": round(time.perf_counter() - t0, 2),
        "state": module.state_dict(),
    }


class _Ticks:
    """Counts finished epochs and advances the progress bar by one each."""

    def __init__(self, report: Callable[..., None]) -> None:
        self.report = report
        self.n = 0

    def __call__(self) -> None:
        self.n += 1
        self.report(advance=1)
