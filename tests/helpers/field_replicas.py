"""Small local replicas of the field's dataset layouts, built by the tests (no real dataset is needed).

Each builder writes a few short 16 kHz clips where the official distribution puts them, and the protocol or
metadata file in the official format, and returns the root folder. Every clip is a wavering harmonic tone with noise;
spoofs are cleaner and have fewer harmonics, which the published AASIST scores as more fake. The content
does not matter for the format tests.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import soundfile as sf

SR = 16_000


def clip(i: int, spoof: bool, seconds: float = 1.0) -> np.ndarray:
    """A deterministic short clip (float32)."""
    rng = np.random.default_rng(1000 + i)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    f0 = 110 + 15 * (i % 7) + 20 * np.sin(2 * np.pi * 2.5 * t)
    phase = 2 * np.pi * np.cumsum(f0) / SR
    harmonics = sum((0.9 if spoof else 0.5) ** k * np.sin(k * phase) for k in range(1, 5 if spoof else 9))
    x = 0.15 * harmonics + (0.005 if spoof else 0.02) * rng.standard_normal(n)
    return x.astype(np.float32)


def write_flac(path: Path, x: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, x, SR, format="FLAC", subtype="PCM_16")


def asvspoof2019_la(root: Path, n_bona: int = 4, attacks: tuple[str, ...] = ("A07", "A08"), per_attack: int = 2,
                    splits: tuple[str, ...] = ("dev", "eval")) -> Path:
    """``LA/`` with ``ASVspoof2019_LA_cm_protocols/`` and one ``ASVspoof2019_LA_<split>/flac`` per split."""
    la = root / "LA"
    suffix = {"train": "train.trn", "dev": "dev.trl", "eval": "eval.trl"}
    letter = {"train": "T", "dev": "D", "eval": "E"}
    i = 0
    for split in splits:
        lines = []
        for b in range(n_bona):
            utt = f"LA_{letter[split]}_{1000000 + i}"
            # the first bona fide clip of a split sounds like the spoofs: the metrics are not all 0 or 1
            write_flac(la / f"ASVspoof2019_LA_{split}" / "flac" / f"{utt}.flac", clip(i, b == 0, 0.8 + 0.5 * (b % 3)))
            lines.append(f"LA_{b:04d} {utt} - - bonafide")
            i += 1
        for a in attacks:
            for k in range(per_attack):
                utt = f"LA_{letter[split]}_{1000000 + i}"
                write_flac(la / f"ASVspoof2019_LA_{split}" / "flac" / f"{utt}.flac", clip(i, True, 0.7 + 0.6 * k))
                lines.append(f"LA_{k:04d} {utt} - {a} spoof")
                i += 1
        proto = la / "ASVspoof2019_LA_cm_protocols" / f"ASVspoof2019.LA.cm.{suffix[split]}.txt"
        proto.parent.mkdir(parents=True, exist_ok=True)
        proto.write_text("\n".join(lines) + "\n")
        if split != "train":  # the organisers' ASV scores (CM_KEY ASV_KEY SCORE), for the tandem t-DCF
            rng = np.random.default_rng(len(lines))
            asv = [f"bonafide target {rng.normal(3, 1.5):.6f}" for _ in range(30)]
            asv += [f"bonafide nontarget {rng.normal(-2, 1.5):.6f}" for _ in range(60)]
            asv += [f"spoof spoof {rng.normal(1, 2):.6f}" for _ in range(40)]
            scores = la / "ASVspoof2019_LA_asv_scores" / f"ASVspoof2019.LA.asv.{split}.gi.trl.scores.txt"
            scores.parent.mkdir(parents=True, exist_ok=True)
            scores.write_text("\n".join(asv) + "\n")
    return la


def in_the_wild(root: Path, n_bona: int = 4, n_spoof: int = 4) -> Path:
    """``release_in_the_wild/`` with ``meta.csv`` (file, speaker, label) and ``N.wav`` files."""
    rel = root / "release_in_the_wild"
    rel.mkdir(parents=True)
    rows = ["file,speaker,label"]
    for i in range(n_bona + n_spoof):
        spoof = i >= n_bona
        sf.write(rel / f"{i}.wav", clip(i, spoof), SR, subtype="FLOAT")
        rows.append(f"{i}.wav,Speaker {i % 2},{'spoof' if spoof else 'bona-fide'}")
    (rel / "meta.csv").write_text("\n".join(rows) + "\n")
    return rel


def asvspoof2021(root: Path, track: str = "LA") -> Path:
    """``keys/<track>/CM/trial_metadata.txt`` beside ``ASVspoof2021_<track>_eval/flac``."""
    lines = []
    for i in range(8):
        spoof = i % 2 == 1
        utt = f"{track}_E_{2000000 + i}"
        write_flac(root / f"ASVspoof2021_{track}_eval" / "flac" / f"{utt}.flac", clip(i, spoof))
        label, attack = ("spoof", f"A{7 + i % 3:02d}") if spoof else ("bonafide", "bonafide")
        subset = "eval" if i < 6 else "progress"
        if track == "LA":
            lines.append(f"LA_{i:04d} {utt} {'alaw' if i % 4 < 2 else 'none'} ita_tx {attack} {label} notrim {subset}")
        else:
            lines.append(f"LA_{i:04d} {utt} {'low_mp3' if i % 4 < 2 else 'nocodec'} asvspoof {attack} {label} notrim "
                         f"{subset} {'traditional_vocoder' if spoof else 'bonafide'} - - - -")
    keys = root / "keys" / track / "CM" / "trial_metadata.txt"
    keys.parent.mkdir(parents=True)
    keys.write_text("\n".join(lines) + "\n")
    return root


def asvspoof5(root: Path) -> Path:
    """``ASVspoof5.eval.track_1.tsv`` (ten space-separated columns) beside ``flac_E_eval``."""
    lines = []
    for i in range(8):
        spoof = i % 2 == 1
        utt = f"E_{i:010d}"
        write_flac(root / "flac_E_eval" / f"{utt}.flac", clip(i, spoof))
        lines.append(f"E_{i % 3:04d} {utt} {'F' if i % 2 else 'M'} {'C01' if i < 4 else '-'} - - "
                     f"{'AC1' if spoof else '-'} {'A17' if spoof else 'bonafide'} {'spoof' if spoof else 'bonafide'} -")
    (root / "ASVspoof5.eval.track_1.tsv").write_text("\n".join(lines) + "\n")
    return root


def mlaad(root: Path) -> Path:
    """``fake/<lang>/<model>/*.wav`` and M-AILABS-style bona fide under ``real/``."""
    for i in range(4):
        model = "tts_models_en_ljspeech_vits" if i % 2 else "tts_models_de_thorsten_tacotron2-DDC"
        lang = "en" if i % 2 else "de"
        p = root / "fake" / lang / model / f"clip_{i}.wav"
        p.parent.mkdir(parents=True, exist_ok=True)
        sf.write(p, clip(i, True), SR)
        r = root / "real" / lang / "by_book" / "female" / f"reader{i % 2}" / "book" / "wavs" / f"r_{i}.wav"
        r.parent.mkdir(parents=True, exist_ok=True)
        sf.write(r, clip(100 + i, False), SR)
    return root


def arena_parquet(root: Path, n: int = 8, split: str = "test", label_as: str = "classlabel") -> Path:
    """An arena-ready repo folder: ``data/<split>-00000-of-00001.parquet`` with path, audio (FLAC bytes), label
    (a ClassLabel bonafide/spoof, or strings with ``label_as="string"``) and notes (JSON), written by ``datasets``
    as the Hub copies are."""
    from datasets import Audio, ClassLabel, Features, Value

    from bench.data.corpus import build_dataset

    rows = {"path": [], "audio": [], "label": [], "notes": []}
    for i in range(n):
        spoof = i % 2 == 1
        buf = io.BytesIO()
        sf.write(buf, clip(i, spoof), SR, format="FLAC")
        rows["path"].append(f"utt{i}.flac")
        rows["audio"].append({"bytes": buf.getvalue(), "path": f"utt{i}.flac"})
        rows["label"].append((1 if spoof else 0) if label_as == "classlabel" else ("spoof" if spoof else "bonafide"))
        rows["notes"].append(json.dumps({"utterance_id": f"ARENA_{i}", "speaker_id": f"spk{i % 3}",
                                         **({"attack_id": f"A{10 + i % 3}"} if spoof else {})}))
    label = ClassLabel(names=["bonafide", "spoof"]) if label_as == "classlabel" else Value("string")
    features = Features({"path": Value("string"), "audio": Audio(decode=False), "label": label,
                         "notes": Value("string")})
    ds = build_dataset([dict(zip(rows, values, strict=True)) for values in zip(*rows.values(), strict=True)], features)
    (root / "data").mkdir(parents=True, exist_ok=True)
    ds.to_parquet(str(root / "data" / f"{split}-00000-of-00001.parquet"))
    return root
