"""What a split detector's features leak: `bench privacy`.

DevoX and DeepDetection send features instead of audio and call that privacy; neither
measures it. This module plays the server operator, who sees only the feature messages (and
knows the model, which it deployed), and measures two things:

- **Speech content.** An inversion network learns features -> audio on the recordings of the
  model's *training* speakers (speech the operator has); it then reconstructs the held-out
  speakers' calls from their messages alone, and the project's ASR (faster-whisper, the
  ``pitch`` content check's) transcribes them. Reported: WIL against the script for the
  original audio, for the audio band-limited as the device half sees it (DevoX: 8 kHz), and
  for the reconstruction. DeepDetection also gets its own decoder run with the pooling indices
  the message does not carry, as an upper bound.
- **Speaker identity.** A linear probe (standardised statistics of each window, multinomial
  logistic regression, window log-probabilities summed per recording) learns the speakers
  from half of each speaker's recordings and names the speaker of the other half (then the
  halves swap). The same probe on the raw audio's log-mel spectrogram (what a server that got
  the audio could do) and chance (1 / speakers) stand beside it.

The numbers describe the corpus they are measured on; on bench's simulated corpus they are
the simulation's, not the papers'.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench import SAMPLE_RATE, __version__
from bench.api.registry import DETECTORS, TOOLS
from bench.api.score_contract import windows
from bench.audio import load_entry, resample, write_wav
from bench.errors import BenchError
from bench.evaluation.results import now
from bench.fileio import write_json

PCM16_8K_BYTES = 16_000  # one second of 16-bit PCM at 8 kHz (the telephone band)
PCM16_16K_BYTES = 32_000


# ------------------------------------------------------------------ what the server sees
def message_windows(scorer: Any, wave: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Seed 0's feature windows of ``wave`` exactly as the server receives them (message bytes parsed back),
    and each window's start sample (the model card's window rule, which the operator knows)."""
    from bench.countermeasures.feature_message import FeatureMessage

    msg = FeatureMessage.from_bytes(scorer.device_messages(wave)[0].to_bytes())
    n, spec = len(wave), scorer.spec
    k = len(windows(wave, spec))
    starts = np.array([min(i * spec.samples, max(n - spec.samples, 0)) for i in range(k)])
    return msg.data.astype(np.float32), starts


def message_bytes_per_second(scorer: Any) -> dict[str, Any]:
    """Size on the wire of one second of audio (one message, seed 0), beside 16-bit PCM."""
    msgs = scorer.device_messages(np.zeros(SAMPLE_RATE, np.float32) + 1e-3 * np.random.default_rng(0).standard_normal(
        SAMPLE_RATE).astype(np.float32))
    m = msgs[0]
    return {"bytes": m.nbytes, "payload_bytes": int(m.data.nbytes), "shape": list(m.shape), "dtype": m.dtype,
            "pcm16_8k_bytes": PCM16_8K_BYTES, "pcm16_16k_bytes": PCM16_16K_BYTES,
            "vs_pcm16_8k": round(m.nbytes / PCM16_8K_BYTES, 3), "seeds_sent": len(msgs)}


# ------------------------------------------------------------------ speaker identity
def _window_stats(frames: np.ndarray) -> np.ndarray:
    """(windows, channels, time) -> (windows, 3 * channels): mean, std and mean |first difference| over time."""
    d = np.abs(np.diff(frames, axis=2)).mean(axis=2) if frames.shape[2] > 1 else np.zeros(frames.shape[:2])
    return np.concatenate([frames.mean(axis=2), frames.std(axis=2), d], axis=1)


def logmel_windows(wave: np.ndarray, starts: np.ndarray, length: int, n_mels: int = 40) -> np.ndarray:
    """The raw-audio reference: a log-mel spectrogram (25 ms / 10 ms) of each window, (windows, n_mels, frames)."""
    import librosa

    out = []
    for s in starts:
        w = wave[s:s + length]
        if len(w) < length:
            w = np.resize(w, length) if len(w) else np.zeros(length, np.float32)
        mel = librosa.feature.melspectrogram(y=w.astype(np.float32), sr=SAMPLE_RATE, n_fft=400, hop_length=160,
                                             n_mels=n_mels, center=length >= 400)
        out.append(np.log(mel + 1e-6))
    return np.stack(out)


def probe_accuracy(vectors: list[np.ndarray], speakers: list[str], seed: int = 0) -> dict[str, Any]:
    """Speaker-ID accuracy of the linear probe, 2-fold over each speaker's recordings (one vector set each)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    names = sorted(set(speakers))
    y = np.array([names.index(s) for s in speakers])
    rng = np.random.default_rng(seed)
    fold = np.zeros(len(y), int)
    for c in range(len(names)):
        idx = rng.permutation(np.flatnonzero(y == c))
        fold[idx[: len(idx) // 2]] = 1
    correct = 0
    for f in (0, 1):
        tr, te = np.flatnonzero(fold != f), np.flatnonzero(fold == f)
        x_tr = np.concatenate([vectors[i] for i in tr])
        y_tr = np.concatenate([np.full(len(vectors[i]), y[i]) for i in tr])
        scaler = StandardScaler().fit(x_tr)
        clf = LogisticRegression(max_iter=2000, C=1.0).fit(scaler.transform(x_tr), y_tr)
        for i in te:
            logp = clf.predict_log_proba(scaler.transform(vectors[i])).sum(axis=0)
            correct += int(clf.classes_[int(np.argmax(logp))] == y[i])
    return {"accuracy": correct / len(y), "n_recordings": int(len(y)), "n_speakers": len(names),
            "chance": 1 / len(names), "folds": 2}


# ------------------------------------------------------------------ speech content
def _inversion_net(kind: str, channels: int, frames: int) -> Any:
    """The operator's inversion network: ``slice`` (DeepDetection: (8, 163) -> 1,000 samples, the paper's decoder
    with nearest-neighbour upsampling where MaxUnpool needs indices the message does not carry) or ``spectral``
    (DevoX: (C, T) -> log-magnitude STFT at 8 kHz, 4 STFT frames per feature frame)."""
    from torch import nn

    if kind == "slice":
        return nn.Sequential(nn.Upsample(scale_factor=6, mode="nearest"), nn.ConvTranspose1d(channels, 16, 11),
                             nn.ReLU(), nn.ConvTranspose1d(16, 1, 13))
    return nn.Sequential(nn.Conv1d(channels, 256, 3, padding=1), nn.GELU(), nn.ConvTranspose1d(256, 256, 4, stride=4),
                         nn.GELU(), nn.Conv1d(256, 256, 5, padding=2), nn.GELU(), nn.Conv1d(256, 129, 1))


N_FFT, HOP = 256, 80  # the spectral inversion's STFT at 8 kHz


def _stft_target(wave8k: np.ndarray, n_frames: int) -> np.ndarray:
    import torch

    x = torch.from_numpy(wave8k.astype(np.float32))
    spec = torch.stft(x, N_FFT, HOP, window=torch.hann_window(N_FFT), return_complex=True).abs()
    logmag = torch.log(spec + 1e-5).numpy()  # (129, frames)
    out = np.full((129, n_frames), np.log(1e-5), np.float32)
    m = min(n_frames, logmag.shape[1] - 2)
    out[:, :m] = logmag[:, 2:2 + m]  # feature frame t is centred near STFT frame 4t + 2.5
    return out


def _griffin_lim(logmag: np.ndarray, length: int, iters: int = 48) -> np.ndarray:
    import torch

    mag = torch.from_numpy(np.exp(logmag)).double()
    mag = torch.cat([torch.zeros(129, 2, dtype=mag.dtype) + mag[:, :1], mag], dim=1)  # undo the 2-frame offset
    win = torch.hann_window(N_FFT, dtype=torch.float64)
    rng = torch.Generator().manual_seed(0)
    angles = torch.exp(2j * np.pi * torch.rand(mag.shape, generator=rng, dtype=torch.float64))
    x = torch.istft(mag * angles, N_FFT, HOP, window=win, length=length)
    for _ in range(iters):
        spec = torch.stft(x, N_FFT, HOP, window=win, return_complex=True)
        spec = spec[:, :mag.shape[1]]
        angles = spec / spec.abs().clamp(min=1e-8)
        x = torch.istft(mag * angles, N_FFT, HOP, window=win, length=length)
    return x.float().numpy()


def train_inversion(kind: str, feats: list[np.ndarray], targets: list[np.ndarray], epochs: int, seed: int,
                    say: Callable[[str], None]) -> Any:
    """Fit the inversion network (MSE on waveform slices, or L1 on log-magnitude frames) with Adam."""
    import torch

    torch.manual_seed(seed)
    x = torch.from_numpy(np.concatenate(feats))
    y = torch.from_numpy(np.concatenate(targets))
    net = _inversion_net(kind, x.shape[1], x.shape[2])
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(seed)
    loss_fn = torch.nn.functional.mse_loss if kind == "slice" else torch.nn.functional.l1_loss
    for epoch in range(1, epochs + 1):
        order, total = torch.randperm(len(x), generator=gen), 0.0
        for i in range(0, len(x), 64):
            idx = order[i:i + 64]
            pred = net(x[idx])
            if kind == "slice":
                pred = pred[:, 0]
            else:
                pred = pred[:, :, :y.shape[2]]
            loss = loss_fn(pred, y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        say(f"inversion epoch {epoch}/{epochs}: loss {total / len(x):.5f}")
    return net.eval()


def reconstruct(kind: str, net: Any, feats: np.ndarray, starts: np.ndarray, n: int, window: int) -> np.ndarray:
    """The operator's estimate of a call (16 kHz) from its feature windows."""
    import torch

    with torch.no_grad():
        out = net(torch.from_numpy(feats)).numpy()
    if kind == "slice":
        pieces = [o[0] for o in out]
        rate, win = SAMPLE_RATE, window
    else:
        pieces = [_griffin_lim(o, window // 2) for o in out]
        rate, win = SAMPLE_RATE // 2, window // 2
    step = SAMPLE_RATE // rate
    audio = np.zeros(max(n // step, win), np.float32)
    for s, p in zip(starts, pieces, strict=True):
        audio[s // step:s // step + win] = p[:len(audio) - s // step]
    return resample(audio, rate) if rate != SAMPLE_RATE else audio


# ------------------------------------------------------------------ the inputs
def attack_rows(card: Any, corpus: str | Path) -> tuple[list[dict[str, Any]], set[str], set[str], dict[str, Any]]:
    """The corpus recordings the operator works on, checked before anything is written: original recordings
    (not fakes), the corpus the model was trained on (content hash, when its card records one), recordings of
    its training speakers (the inversion's) and of its held-out speakers (the attacked calls), and at least two
    speakers with two recordings each (the probe's two folds). Returns (rows, training speakers, held-out
    speakers, the corpus manifest)."""
    from bench.data.corpus import known_hashes, open_dataset, read_manifest

    ds = open_dataset(corpus)
    if "generator" in ds.column_names:
        raise BenchError(f"--corpus {corpus} is a fakes dataset; give the original recordings the model was "
                         "trained on")
    manifest = read_manifest(corpus)
    rec = card.training.get("corpus")
    want = rec.get("content_hash") if isinstance(rec, dict) else None
    if want and want not in known_hashes(manifest):
        raise BenchError(f"--corpus {corpus} is not the corpus {card.ref} was trained on (content hash "
                         f"{manifest.get('content_hash') or 'none'}; its card records {want})")
    splits = card.training.get("splits") or {}
    train_spk = set(splits.get("train", [])) | set(splits.get("val", []))
    test_spk = set(splits.get("test", []))
    if not train_spk or not test_spk:
        raise BenchError(f"model {card.ref}: its card names no training and test speakers")
    rows = [r for r in ds.to_list() if not r.get("error")]
    per_speaker = Counter(r["subject"] for r in rows)
    if len(per_speaker) < 2:
        raise BenchError(f"--corpus {corpus} holds {len(per_speaker)} speaker(s); the speaker probe needs at least 2")
    few = sorted(s for s, n in per_speaker.items() if n < 2)
    if few:
        raise BenchError(f"--corpus {corpus}: speaker(s) {', '.join(few[:3])} have one recording; the speaker probe "
                         "needs two per speaker (one to learn, one to test)")
    for what, spk in (("training", train_spk), ("held-out", test_spk)):
        if not any(r["subject"] in spk for r in rows):
            raise BenchError(f"--corpus {corpus} holds no recording of {card.ref}'s {what} speakers "
                             f"({', '.join(sorted(spk))}); give the corpus it was trained on")
    return rows, train_spk, test_spk, manifest


def _check_finite(report: dict[str, Any]) -> None:
    """BenchError when a headline figure is not a number (NaN is never printed as a result)."""
    figures = {f"identity {k}": v["accuracy"] for k, v in report["identity"].items() if isinstance(v, dict)}
    figures.update({f"content {k} WIL": v["wil"] for k, v in report["content"].items()
                    if isinstance(v, dict) and "wil" in v})
    bad = sorted(k for k, v in figures.items() if not (isinstance(v, int | float) and math.isfinite(v)))
    if bad:
        raise BenchError(f"no valid figure for {', '.join(bad)} on {report['corpus']}: check that it is the "
                         "model's corpus, with scripts for its held-out recordings")


# ------------------------------------------------------------------ the report
def privacy_report(model: str, corpus: str | Path, out: str | Path, *, detector: str | None = None,
                   max_recordings: int = 60, epochs: int = 15, asr: str = "faster-whisper", seed: int = 0,
                   threads: int = 2, overwrite: bool = False,
                   progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Measure content and identity leakage of split model ``model`` on ``corpus``; writes ``out/privacy.json``
    and a few reconstructed recordings (``out/audio``) to listen to. ``out`` is owned (``.bench-run.json``):
    every input is checked and ``out`` refused (:func:`bench.outdir.check_output`) before the work, and it is
    claimed only when the figures are known to be numbers."""
    import torch

    from bench.models.store import resolve, store_root
    from bench.outdir import check_output, claim_output

    say = progress or (lambda _m: None)
    torch.set_num_threads(threads)
    entry = resolve(model)
    name = detector or entry.card.detector
    det = DETECTORS.create(name, model=model, threads=threads)
    if not hasattr(det, "split_scorer"):
        raise BenchError(f"detector {name} is not split between a device and a server: nothing to measure")
    scorer = det.split_scorer()
    kind = "slice" if scorer.spec.samples and scorer.spec.samples <= 4000 else "spectral"
    rows, train_spk, test_spk, manifest = attack_rows(entry.card, corpus)
    out = Path(out)
    params = {"model": entry.card.ref, "files": entry.fingerprint(), "detector": name,
              "corpus": manifest.get("content_hash") or str(Path(corpus).resolve()),
              "max_recordings": max_recordings, "epochs": epochs, "asr": asr, "seed": seed}
    inputs = [corpus, entry.folder, store_root()]
    check_output(out, "privacy", params, inputs=inputs, overwrite=overwrite)
    t0 = time.perf_counter()

    say(f"features of {len(rows)} recordings (what the server receives)")
    feats, starts, waves = [], [], []
    for r in rows:
        w = load_entry(r["audio"])
        f, s = message_windows(scorer, w)
        feats.append(f)
        starts.append(s)
        waves.append(w)
    window = int(scorer.spec.samples)

    # identity
    subjects = [r["subject"] for r in rows]
    say("speaker probe on the features and on the raw audio")
    ident_feat = probe_accuracy([_window_stats(f if f.ndim == 3 else f[:, None]) for f in feats], subjects, seed)
    ident_raw = probe_accuracy([_window_stats(logmel_windows(w, s, window)) for w, s in zip(waves, starts,
                                                                                             strict=True)],
                               subjects, seed)

    # content: inversion trained on the training speakers, tested on the held-out ones
    tr = [i for i, r in enumerate(rows) if r["subject"] in train_spk]
    te = [i for i, r in enumerate(rows) if r["subject"] in test_spk][:max_recordings]
    targets = []
    for i in tr:
        w = waves[i]
        if kind == "slice":
            targets.append(np.stack([np.resize(w[s:s + window], window) for s in starts[i]]).astype(np.float32))
        else:
            w8 = resample(w, SAMPLE_RATE, SAMPLE_RATE // 2)
            targets.append(np.stack([_stft_target(np.resize(w8[s // 2:s // 2 + window // 2], window // 2),
                                                  4 * feats[i].shape[2]) for s in starts[i]]))
    say(f"training the inversion network on {len(tr)} recordings of speakers {sorted(train_spk)}")
    inv = train_inversion(kind, [feats[i] for i in tr], targets, epochs, seed, say)
    recon = [reconstruct(kind, inv, feats[i], starts[i], len(waves[i]), window) for i in te]
    band = [resample(resample(waves[i], SAMPLE_RATE, SAMPLE_RATE // 2), SAMPLE_RATE // 2) for i in te] \
        if kind == "spectral" else None
    upper = _decoder_with_indices(scorer, [waves[i] for i in te], window) if kind == "slice" else None
    content_check = TOOLS.create("transcript-wil", asr=asr)
    say(f"transcribing {len(te)} held-out recordings (original, reconstructed{', band-limited' if band else ''}"
        f"{', decoder with indices' if upper else ''})")
    langs = [r.get("language") for r in (rows[i] for i in te)]

    def mean_wil(clips: list[np.ndarray]) -> dict[str, Any]:
        texts, v = content_check.measure(clips, [rows[i]["script"] for i in te], langs)
        return {"wil": float(np.mean(v)), "per_recording": v, "transcripts": texts[:5]}

    content = {"original": mean_wil([waves[i] for i in te]), "reconstructed": mean_wil(recon)}
    if band:
        content["band_limited_8k"] = mean_wil(band)
    if upper:
        content["decoder_with_pooling_indices"] = mean_wil(upper)
    report = {
        "schema": "bench.privacy/1", "created": now(), "bench_version": __version__, "detector": name,
        "model": entry.card.ref, "corpus": str(corpus), "simulated": bool(entry.card.training.get("corpus", {})
                                                                             .get("simulated")),
        "message": message_bytes_per_second(scorer),
        "identity": {"features": ident_feat, "raw_audio_logmel": ident_raw,
                     "probe": "per-window mean/std/mean |diff| over time, standardised, multinomial logistic "
                              "regression; recording = sum of window log-probabilities; 2-fold over each speaker's "
                              "recordings of the corpus (originals)"},
        "content": {**content, "n_recordings": len(te), "test_speakers": sorted(test_spk),
                    "inversion": {"kind": kind, "trained_on_speakers": sorted(train_spk), "epochs": epochs,
                                  "recordings": len(tr)}, "asr": asr},
        "seconds": round(time.perf_counter() - t0, 1),
    }
    _check_finite(report)
    claim_output(out, "privacy", params, inputs=inputs, overwrite=overwrite)
    for j, i in enumerate(te[:3]):
        write_wav(out / "audio" / f"{rows[i]['utterance_id']}-original.wav", waves[i])
        write_wav(out / "audio" / f"{rows[i]['utterance_id']}-reconstructed.wav", recon[j])
    write_json(out / "privacy.json", report)
    return report


def _decoder_with_indices(scorer: Any, waves: list[np.ndarray], window: int) -> list[np.ndarray] | None:
    """DeepDetection's own autoencoder, given the MaxPool indices that never leave the phone: an upper bound."""
    import torch

    net = scorer.modules[0]
    if not hasattr(net, "encode_with_indices"):
        return None
    out = []
    with torch.no_grad():
        for w in waves:
            wins = windows(w, scorer.spec)
            feats, idx = net.encode_with_indices(torch.from_numpy(np.ascontiguousarray(wins)))
            rec = net.decode(feats, idx).reshape(len(wins), -1).numpy()
            audio = np.zeros(max(len(w), window), np.float32)
            for k, piece in enumerate(rec):
                s = min(k * window, max(len(w) - window, 0))
                audio[s:s + window] = piece[:window]
            out.append(audio[:len(w)] if len(w) >= window else audio)
    return out
