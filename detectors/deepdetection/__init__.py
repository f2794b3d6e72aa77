"""deepdetection: DeepDetection's deep-voice detector and user authenticator, split between phone and server.

What DeepDetection ("DeepDetection: Privacy-Enhanced Deep Voice Detection and User Authentication for
Preventing Voice Phishing", Applied Sciences, 2 November 2022; ``../shared/papers/deepdetection.txt``)
says of its system:

- Sec. 3.1: ASVspoof 2019, "20 users and a deep voice [...] a total of 21 classes"; the deep voices of
  all users form one class. Sec. 3.1.2: raw audio "sliced to 1000" samples, 2,450 recordings -> 130,516
  slices, "divided into 60% for training, 20% for validation, and 20% for testing" (slices, not
  recordings: one recording's slices land in training and test alike).
- Sec. 3.2: a convolutional autoencoder (two Conv1d, MaxPool1d / MaxUnpool1d) whose encoder turns a
  slice into (8, 163) features on the user's device, trained 100 epochs, MSE "about 0.00076" (Sec. 4.2).
- Sec. 3.3: the server's classifier: four Conv1d (32, 64, 32, 8 channels, filter 15, stride 1), flatten
  to 856, FC 64 and 21; cross-entropy, Adam lr 0.0001, 50 epochs, batch 128.
- Sec. 4.3: F1 for user authentication 99.03 / 98.55 / 99.05 % (train / validation / test), for deep
  voice detection 99.98 / 99.95 / 100 %; "average EER [...] 0.15" over the users (Table 5).

bench's reading (``network.py`` has the layer-by-layer detail and which sizes are inferred):

- The phone runs the encoder, the server the classifier; the classifier's classes are the enrolled
  users (setting ``users``: default every training-split speaker) and a "deep voice" class, LAST.
- Scores: each 1,000-sample slice (16 kHz; shorter audio tiled, longer audio in consecutive slices)
  goes through the feature message (``bench.countermeasures.feature_message``) and gets P(deep voice); the
  utterance's score
  is the mean over its slices (the paper scores slices only; a call needs one number). A probability:
  threshold 0.5, not a log-likelihood ratio.
- Training (``train``): the training split's originals of enrolled users (their user class) and its
  fakes (deep voice) are split BY RECORDING 60/20/20 (seeded, stratified by class) into training,
  early-stopping validation and a held-out report set; originals of training speakers who are not
  enrolled are not trained on. Stage 1 trains the autoencoder on the training slices (MSE, Adam,
  ``ae_epochs``); stage 2 freezes the encoder and trains the classifier with bench's epoch loop
  (class-weighted cross-entropy, Adam: AdamW with weight decay 0, early stopping) on the features as
  the server receives them (rounded to ``message_dtype``). Then ``report.authentication_report`` on the
  held-out 20 % and all recordings of the validation speakers (never enrolled, never trained on) goes
  into the model card (``training.per_seed.<seed>.authentication``).
- ``ae_epochs`` defaults to 10, not the paper's 100, so that training on the demo corpus takes minutes on
  2 CPU cores (``--set ae_epochs=100`` for the paper's); the classifier keeps the paper's 50 epochs,
  batch 128 and learning rate 1e-4, and stops early after ``patience`` epochs without a better
  validation loss.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.api import (
    DETECTORS,
    BenchError,
    CMDetector,
    FitConfig,
    InputSpec,
    PluginMeta,
    ScoreSemantics,
    SplitTorchCMDetector,
    TrainingData,
    windows,
)
from bench.countermeasures.feature_message import DTYPES

SLICE = 1000
PAPER_USERS = 20
AE_FILE = "autoencoder.pt"
SPLIT_STREAM = 2022  # the RNG stream of the by-recording 60/20/20 split

PROBABILITY = ScoreSemantics(
    scale="probability of the deep-voice class: the server classifier's softmax P(deep voice) of each 1,000-sample "
          "slice, averaged over the utterance's slices", threshold=0.5,
    threshold_source="0.5: on average over the slices the deep-voice class is at least as likely as all enrolled "
                     "users together (training is class-weighted, so the class priors are balanced); bench evaluate "
                     "also reports the EER threshold",
    llr=False)

#: parameters of the paper's model (20 users + deep voice), encoder + decoder + classifier
N_PARAMS_PAPER = 1_640 + 1_633 + 124_104 + 65 * (PAPER_USERS + 1)


@DETECTORS.register(PluginMeta(
    name="deepdetection", version="1", license="Apache-2.0 (bench's code)",
    description="DeepDetection: conv-autoencoder encoder on the phone (1,000-sample slices -> 8x163 features), "
                "1-D CNN on the server classifying enrolled users + deep voice (privacy split)",
    reference="DeepDetection: Privacy-Enhanced Deep Voice Detection and User Authentication for Preventing Voice "
              "Phishing, Applied Sciences, 2 November 2022 (Hansung University; Sec. 3.1-3.3, 4.2-4.3)",
    paper_name="deepdetection", sample_rate=16_000, devices=["cpu", "cuda"],
    parameters={"model": "NAME@VERSION or a model folder (bench train --detector deepdetection)",
                "device": "cpu | cuda | cuda:N"},
    n_params={"deepdetection": N_PARAMS_PAPER},
    trained_on="your corpus + fakes (bench train; users = the training speakers)",
))
class DeepDetectionDetector(SplitTorchCMDetector):
    """DeepDetection; see the module docstring. Input: 1,000-sample slices; score: mean P(deep voice)."""

    input_spec = InputSpec(samples=SLICE, shorter="tile", longer="windows")
    semantics = PROBABILITY
    architectures = {"deepdetection": {"n_users": PAPER_USERS}}  # a trained model has its own n_users
    default_architecture = "deepdetection"
    fit_defaults = FitConfig(epochs=50, batch_size=128, lr=1e-4, weight_decay=0.0, patience=5)
    split = {"device": "autoencoder's encoder: 2 Conv1d + ReLU, MaxPool1d(6): 1,000 samples -> (8, 163)",
             "server": "4 Conv1d (32-64-32-8, kernel 15) + ReLU, FC 856 -> 64 -> enrolled users + deep voice"}

    # ------------------------------------------------------------------ settings
    def training_defaults(self) -> dict[str, Any]:
        f = self.fit_defaults
        return {"architecture": self.default_architecture, "users": "", "ae_epochs": 10, "ae_lr": 1e-3,
                "epochs": f.epochs, "batch_size": f.batch_size, "lr": f.lr, "weight_decay": f.weight_decay,
                "patience": f.patience, "message_dtype": "float16"}

    def resolve_settings(self, settings: dict[str, Any]) -> dict[str, Any]:
        # the waveform detectors' crop_seconds / init do not apply (fixed 1,000-sample slices, no fine-tuning):
        # the base rules only (unknown keys), then this detector's
        out = CMDetector.resolve_settings(self, settings)
        name = self.meta.name
        if out["architecture"] not in self.architectures:
            raise BenchError(f"{name}: unknown architecture {out['architecture']!r}; choose one of "
                             f"{', '.join(self.architectures)}")
        if out["message_dtype"] not in DTYPES:
            raise BenchError(f"{name}: message_dtype must be one of {', '.join(DTYPES)}")
        if not isinstance(out["ae_epochs"], int) or isinstance(out["ae_epochs"], bool) or out["ae_epochs"] < 0:
            raise BenchError(f"{name}: ae_epochs must be an integer >= 0 (0: the encoder stays as initialised)")
        if not (isinstance(out["ae_lr"], int | float) and out["ae_lr"] > 0 and np.isfinite(out["ae_lr"])):
            raise BenchError(f"{name}: ae_lr must be a positive number")
        out["users"] = ",".join(parse_users(out["users"]))
        FitConfig(**{k: out[k] for k in ("epochs", "batch_size", "lr", "weight_decay", "patience")}).check()
        return out

    def build(self, params: dict[str, Any]) -> Any:
        from bench.detectors.deepdetection.network import DeepDetectionNet

        return DeepDetectionNet(int(params.get("n_users", PAPER_USERS)), params.get("deep_voice_index"),
                                message_dtype=str(params.get("message_dtype", "float16")))

    def score_caveats(self) -> list[str]:
        users = ", ".join(self.entry().card.params.get("users") or []) or "?"
        return [f"closed set: the score is P(deep voice) among {users} + deep voice, so it means 'not one of the "
                "enrolled voices' as much as 'fake'; real calls from unenrolled speakers score high"]

    @classmethod
    def training_report(cls, training: dict[str, Any]) -> list[str]:
        """Each seed's authentication report (``report.summary_lines``) with the paper's figures, quoted."""
        from bench.detectors.deepdetection.report import summary_lines

        lines: list[str] = []
        for seed, info in sorted((training.get("per_seed") or {}).items()):
            if isinstance(info, dict) and info.get("authentication"):
                lines += summary_lines(info["authentication"], f"seed {seed}")
        return lines

    # ------------------------------------------------------------------ training
    def train(self, data: TrainingData, out: Path, seed: int, settings: dict[str, Any],
              tick: Any = None) -> dict[str, Any]:
        """Stage 1 (autoencoder), stage 2 (classifier on the frozen encoder's features), then the
        authentication report; see the module docstring. Progress: ``tick`` gets each autoencoder epoch as
        ``{"stage": "autoencoder", "epoch": "E/N", "train_loss": mse}``, each classifier epoch as bench's loop
        gives it."""
        import torch

        from bench.countermeasures.torch_model import WEIGHTS, n_parameters
        from bench.countermeasures.training import Checkpoint, fit_torch, resolve_device, save_torch, seed_everything

        s = self.resolve_settings(settings)
        out = Path(out)
        rec = enrolment(data, s["users"])
        users, dv = rec["users"], len(rec["users"])
        params = {**self.network_params(s), "n_users": len(users), "users": users, "deep_voice_index": dv}
        cfg = FitConfig(epochs=int(s["epochs"]), batch_size=int(s["batch_size"]), lr=float(s["lr"]),
                        weight_decay=float(s["weight_decay"]), patience=int(s["patience"]), seed=seed).check()
        device = resolve_device(self.device)
        torch.set_num_threads(self.threads)
        seed_everything(seed)
        part = split_by_recording(rec["classes"], seed)
        waves = data.waves["train"]
        sl = {k: self._slices([waves[i] for i in rec["index"][part == p]], rec["classes"][part == p])
              for k, p in (("train", 0), ("val", 1))}
        net = self.build(params).to(device)
        t0 = time.perf_counter()
        ae = train_autoencoder(net, sl["train"][0], out / AE_FILE, key={"settings": s, "seed": seed, "params": params},
                               epochs=int(s["ae_epochs"]), lr=float(s["ae_lr"]), batch_size=cfg.batch_size, seed=seed,
                               device=device, tick=tick)
        ae["validation_mse"] = reconstruction_mse(net, sl["val"][0], cfg.batch_size * 2, device)
        for p in net.device_half.parameters():
            p.requires_grad_(False)
        f_tr, f_va = (server_features(net, sl[k][0], cfg.batch_size * 2, device) for k in ("train", "val"))
        _, outcome = fit_torch(net.server_half, f_tr, sl["train"][1], f_va, sl["val"][1], cfg=cfg, device=device,
                               checkpoint=Checkpoint(out / "checkpoint.pt"),
                               settings={"settings": s, "seed": seed, "params": params, "stage": "classifier"},
                               tick=tick, n_classes=dv + 1)
        seconds = time.perf_counter() - t0
        for p in net.device_half.parameters():
            p.requires_grad_(True)
        net.eval()
        save_torch(out / WEIGHTS, {k: v.detach().cpu() for k, v in net.state_dict().items()})
        Checkpoint(out / "checkpoint.pt").remove()
        Checkpoint(out / AE_FILE).remove()
        t1 = time.perf_counter()
        report = self._report(net, data, rec, part, device, cfg.batch_size * 2)
        report["seconds"] = round(time.perf_counter() - t1, 3)
        report["counts"]["training"] = {"recordings": int((part == 0).sum()), "slices": int(len(sl["train"][1])),
                                        "per_class_recordings": _per_class(rec["classes"][part == 0], users)}
        report["counts"]["early_stopping"] = {"recordings": int((part == 1).sum()), "slices": int(len(sl["val"][1]))}
        return {"files": [WEIGHTS], "architecture": s["architecture"], "params": params, "n_params": n_parameters(net),
                "input": self.input_spec.to_dict(), "settings": s,
                "fit": {"best_epoch": outcome.best_epoch, "epochs_run": outcome.epochs_run,
                        "stopped_early": outcome.stopped_early, "resumed_from_epoch": outcome.resumed_from,
                        "history": outcome.history, "seconds": seconds},
                "autoencoder": ae, "authentication": report}

    def _slices(self, waves: list[np.ndarray], classes: np.ndarray) -> tuple[Any, np.ndarray]:
        """(N, 1000) float32 tensor of every recording's slices (as scoring cuts them) and their classes."""
        import torch

        rows = [windows(w, self.input_spec) for w in waves]
        if not rows:
            return torch.zeros((0, SLICE)), np.zeros(0, dtype=np.int64)
        y = np.concatenate([np.full(len(r), c, dtype=np.int64) for r, c in zip(rows, classes, strict=True)])
        return torch.from_numpy(np.concatenate(rows)), y

    def _report(self, net: Any, data: TrainingData, rec: dict[str, Any], part: np.ndarray, device: Any,
                batch_size: int) -> dict[str, Any]:
        """The authentication report on the held-out 20 %, unenrolled training speakers' originals and every
        recording of the validation speakers."""
        from bench.detectors.deepdetection.report import authentication_report

        users, dv = rec["users"], len(rec["users"])
        waves, true, labels, targets = [], [], [], []
        tr_lab, tr_spk = data.labels["train"], data.speakers["train"]
        for i in rec["index"][part == 2]:
            waves.append(data.waves["train"][i])
            labels.append(int(tr_lab[i]))
            true.append(dv if tr_lab[i] == 1 else users.index(tr_spk[i]))
            targets.append(tr_spk[i])
        unenrolled = sorted({tr_spk[i] for i in rec["unenrolled"]})
        for i in rec["unenrolled"]:
            waves.append(data.waves["train"][i])
            labels.append(0)
            true.append(-1)
            targets.append(tr_spk[i])
        n_val = len(data.waves.get("val", []))
        val_spk = data.speakers.get("val") or ["?"] * n_val
        for w, lab, spk in zip(data.waves.get("val", []), data.labels.get("val", np.zeros(0)), val_spk, strict=True):
            waves.append(w)
            labels.append(int(lab))
            true.append(dv if lab == 1 else (users.index(spk) if spk in users else -1))
            targets.append(spk)
        probs = slice_probabilities(net, [windows(w, self.input_spec) for w in waves], batch_size, device)
        lab_a, true_a = np.asarray(labels), np.asarray(true)
        fake_targets: dict[str, int] = {}
        for t, lab in zip(targets, labels, strict=True):
            if lab == 1:
                fake_targets[t] = fake_targets.get(t, 0) + 1
        counts = {"enrolled_users": len(users),
                  "enrolled_originals": int(((true_a >= 0) & (lab_a == 0)).sum()),
                  "unenrolled_originals": int((true_a == -1).sum()),
                  "fakes": int((lab_a == 1).sum()), "fakes_by_target": dict(sorted(fake_targets.items())),
                  "unenrolled_training_speakers": unenrolled,
                  "validation_speakers": sorted(data.splits.get("val") or set(data.sources.get("val") or [])),
                  "held_out_of_enrolment_split": int((part == 2).sum())}
        report = authentication_report(probs, true, labels, targets, users, dv, counts)
        report["set"] = ("held-out 20 % (by recording) of the enrolled users' originals and the training speakers' "
                         "fakes, the originals of training speakers not enrolled, and every recording of the "
                         "validation speakers; none of them trained on")
        return report


def _per_class(classes: np.ndarray, users: list[str]) -> dict[str, int]:
    names = [*users, "deep voice"]
    return {names[c]: int((classes == c).sum()) for c in range(len(names))}


def parse_users(value: Any) -> list[str]:
    """The ``users`` setting: "" (every training speaker), "a,b,c" or a JSON list; a one-line error otherwise."""
    if value is None or value == "":
        return []
    if isinstance(value, list | tuple):
        items = [str(v).strip() for v in value]
    elif isinstance(value, str | int) and not isinstance(value, bool):
        items = [v.strip() for v in str(value).split(",")]
    else:
        raise BenchError(f"deepdetection: users must be a comma-separated list of speakers, not {value!r}")
    items = [v for v in items if v]
    if len(set(items)) != len(items):
        raise BenchError(f"deepdetection: users lists a speaker twice ({','.join(items)})")
    return items


def enrolment(data: TrainingData, users_setting: str) -> dict[str, Any]:
    """The enrolled users (sorted) and the training split's recordings: ``index`` and ``classes`` of those
    trained on or held out (enrolled users' originals -> their class, fakes -> the deep-voice class, last),
    ``unenrolled`` (indices of originals of training speakers who are not enrolled)."""
    labels = np.asarray(data.labels.get("train", np.zeros(0)), dtype=np.int64)
    speakers = list(data.speakers.get("train") or [])
    if len(speakers) != len(labels):
        raise BenchError("deepdetection: training needs each recording's speaker (TrainingData.speakers['train'])")
    available = sorted({s for s, lab in zip(speakers, labels, strict=True) if lab == 0})
    asked = parse_users(users_setting)
    if asked:
        missing = [u for u in asked if u not in available]
        if missing:
            raise BenchError(f"deepdetection: users {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not "
                             f"among the training speakers with original recordings ({', '.join(available) or 'none'})")
    users = sorted(asked) if asked else available
    if len(users) < 2:
        raise BenchError(f"deepdetection: needs at least 2 enrolled users, got {len(users)} "
                         f"({', '.join(users) or 'none'}; training speakers: {', '.join(available) or 'none'})")
    if not (labels == 1).any():
        raise BenchError("deepdetection: the training speakers need both original recordings and fakes")
    index, classes, unenrolled = [], [], []
    for i, (spk, lab) in enumerate(zip(speakers, labels, strict=True)):
        if lab == 1:
            index.append(i)
            classes.append(len(users))
        elif spk in users:
            index.append(i)
            classes.append(users.index(spk))
        else:
            unenrolled.append(i)
    return {"users": users, "index": np.asarray(index, dtype=np.int64), "classes": np.asarray(classes, dtype=np.int64),
            "unenrolled": unenrolled}


def split_by_recording(classes: np.ndarray, seed: int) -> np.ndarray:
    """0 (train) / 1 (early-stopping validation) / 2 (report test) per recording: 60/20/20 within each class,
    seeded; a class of 3+ recordings has at least one in each part, one of 2 goes 1 train + 1 test."""
    rng = np.random.default_rng([seed, SPLIT_STREAM])
    part = np.zeros(len(classes), dtype=np.int64)
    for c in np.unique(classes):
        idx = rng.permutation(np.flatnonzero(classes == c))
        n = len(idx)
        if n >= 3:
            n_val, n_test = max(1, round(0.2 * n)), max(1, round(0.2 * n))
        else:
            n_val, n_test = 0, n - 1
        part[idx[n - n_val - n_test:n - n_test]] = 1
        part[idx[n - n_test:]] = 2
    return part


def train_autoencoder(net: Any, x: Any, path: Path, *, key: dict[str, Any], epochs: int, lr: float, batch_size: int,
                      seed: int, device: Any, tick: Any = None) -> dict[str, Any]:
    """Stage 1: encoder + decoder on the slices ``x`` with MSE and Adam; a checkpoint after every epoch at
    ``path`` (a resumed run continues, or skips a finished stage)."""
    import torch

    from bench.countermeasures.training import Checkpoint

    params = [*net.device_half.parameters(), *net.decoder.parameters()]
    opt = torch.optim.Adam(params, lr=lr)
    gen = torch.Generator().manual_seed(seed)
    ck = Checkpoint(path)
    state = ck.load()
    history: list[dict[str, float]] = []
    start = 1
    if state is not None:
        if state.get("key") != key:
            raise BenchError(f"{path}: an autoencoder checkpoint of another training (different settings) is there; "
                             "use another --out or --overwrite")
        net.device_half.load_state_dict(state["encoder"])
        net.decoder.load_state_dict(state["decoder"])
        opt.load_state_dict(state["optimizer"])
        gen.set_state(state["generator"])
        history, start = state["history"], state["epoch"] + 1
    resumed = start - 1
    t0 = time.perf_counter()
    for epoch in range(start, epochs + 1):
        net.device_half.train()
        net.decoder.train()
        order = torch.randperm(len(x), generator=gen)
        total = 0.0
        for i in range(0, len(order), batch_size):
            xb = x[order[i:i + batch_size]].to(device)
            loss = torch.nn.functional.mse_loss(net.reconstruct(xb), xb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * len(xb)
        record = {"epoch": epoch, "mse": total / max(len(x), 1)}
        history.append(record)
        ck.save({"key": key, "epoch": epoch, "encoder": net.device_half.state_dict(),
                 "decoder": net.decoder.state_dict(), "optimizer": opt.state_dict(), "generator": gen.get_state(),
                 "history": history})
        if tick is not None:
            tick({"stage": "autoencoder", "epoch": f"{epoch}/{epochs}", "train_loss": record["mse"]})
    net.eval()
    return {"epochs": epochs, "resumed_from_epoch": resumed, "history": history,
            "train_mse": history[-1]["mse"] if history else None, "seconds": time.perf_counter() - t0,
            "lr": lr, "optimizer": "Adam", "loss": "MSE", "paper_mse": 0.00076}


def _batched(fn: Any, x: Any, batch_size: int, device: Any) -> Any:
    import torch

    with torch.no_grad():
        parts = [fn(x[i:i + batch_size].to(device)).float().cpu() for i in range(0, len(x), batch_size)]
    return torch.cat(parts) if parts else None


def reconstruction_mse(net: Any, x: Any, batch_size: int, device: Any) -> float | None:
    """Mean squared reconstruction error of the autoencoder on slices ``x``."""
    net.eval()
    rec = _batched(net.reconstruct, x, batch_size, device)
    return None if rec is None else float(((rec - x) ** 2).mean())


def server_features(net: Any, x: Any, batch_size: int, device: Any) -> Any:
    """The encoder's features of slices ``x`` as the server receives them (rounded to the message's dtype)."""
    import torch

    net.eval()
    dtype = getattr(torch, net.message_dtype)
    feats = _batched(lambda b: net.device_half(b).to(dtype), x, batch_size, device)
    return feats if feats is not None else torch.zeros((0, 8, 163))


def slice_probabilities(net: Any, slices: list[np.ndarray], batch_size: int, device: Any) -> list[np.ndarray]:
    """Per recording, (k, n_users + 1) softmax rows of its slices, through the message's dtype."""
    import torch

    if not slices:
        return []
    flat = torch.from_numpy(np.concatenate(slices).astype(np.float32))
    feats = server_features(net, flat, batch_size, device)
    logits = _batched(net.server_half, feats, batch_size, device)
    probs = torch.softmax(logits, dim=1).numpy().astype(np.float64)
    bounds = np.cumsum([0, *[len(s) for s in slices]])
    return [probs[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
