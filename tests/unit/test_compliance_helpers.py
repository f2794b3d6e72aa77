"""Pitch's challenge-compliance classifiers without a simulated corpus: the pure helpers (centre crop, AUROC,
the speaker split), a missing checkpoint, and a run on a tiny hand-made corpus that can train nothing."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from bench.api import BenchError
from bench.data.corpus import save
from bench.detectors.pitch.compliance import (
    ComplianceModel,
    TrainConfig,
    auroc,
    centre_crop,
    split_speakers,
    train_compliance,
)
from tests.helpers.paths import REPO


# ----------------------------------------------------------------------------- pure helpers
def test_centre_crop_and_repeat_padding():
    x = np.arange(10, dtype=np.float32)
    assert centre_crop(x, 4).tolist() == [3, 4, 5, 6]
    assert centre_crop(x[:3], 7).tolist() == [0, 1, 2, 0, 1, 2, 0]
    assert centre_crop(np.zeros(0, np.float32), 5).shape == (5,)


@pytest.mark.parametrize("first", ["bench.detectors.pitch.backbones", "bench.detectors.pitch.compliance.model",
                                   "bench.detectors.pitch.compliance"])
def test_the_compliance_modules_import_in_any_order(first):
    """A fresh process may import any of them first (a spawned worker unpickling a crop starts with
    backbones, which imports the subpackage's config): no circular import, the package's names resolve."""
    code = (f"import {first}\n"
            "from bench.detectors.pitch.compliance import ComplianceModel, TrainConfig, centre_crop, train_compliance\n"
            "print(ComplianceModel.__module__, TrainConfig.__module__, centre_crop.__module__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False,
                         cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["bench.detectors.pitch.compliance.model", "bench.detectors.pitch.compliance.config",
                                  "bench.detectors.pitch.backbones"]


def test_auroc_matches_definition():
    assert auroc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)
    assert auroc([0, 1], [0.5, 0.5]) == pytest.approx(0.5)
    assert auroc([1, 1], [0.2, 0.3]) is None


def test_split_speakers_is_disjoint_and_deterministic():
    subjects = [f"spk{i:03d}" for i in range(12)]
    s = split_speakers(subjects * 3, None, 5, seed=1)
    assert len(s["test"]) == 2 and len(s["train"]) == 10  # ~20% held out
    assert not set(s["test"]) & set(s["train"])
    assert len(s["folds"]) == 5 and sorted(sum(s["folds"], [])) == s["train"]
    assert s == split_speakers(subjects, None, 5, seed=1)
    assert split_speakers(subjects, None, 5, seed=2) != s
    two = split_speakers(["a", "b"], None, 5, seed=0)
    assert len(two["test"]) == 1 and two["folds"] == []  # one training speaker: no cross-validation
    assert len(split_speakers(subjects[:4], None, 5, 0)["folds"]) == 3  # folds capped at training speakers
    with pytest.raises(BenchError, match="test-speakers"):
        split_speakers(subjects[:4], 4, 5, 0)


def test_load_errors(tmp_path):
    with pytest.raises(BenchError, match="no compliance.json"):
        ComplianceModel.load(tmp_path)


def test_a_run_that_trains_nothing_fails(tmp_path):
    """Every requested classifier failed (the training speaker never did the challenge): exit 1, not 0."""
    import numpy as np

    from bench.audio import encode_wav
    from bench.data.corpus import build_dataset
    from bench.detectors.pitch.compliance import split_speakers
    from bench.errors import RunFailed

    t = np.arange(32000) / 16000
    rows = []
    for subject, challenges in (("s1", (0,)), ("s2", (0, 3))):
        for c in challenges:
            for k in range(3):
                wav = encode_wav((0.3 * np.sin(2 * np.pi * (150 + 40 * k + 100 * c) * t)).astype(np.float32))
                rows.append({"utterance_id": f"{subject}-{c}-{k}", "subject": subject, "challenge": c,
                             "sentence_id": k, "script": "hello", "device": "desktop",
                             "audio": {"bytes": wav, "path": None}, "sample_rate": 16000, "duration_s": 2.0})
    save(build_dataset(rows), tmp_path / "c", {"kind": "corpus", "name": "lopsided"})
    seed = next(s for s in range(50) if split_speakers(["s1", "s2"], 1, 2, s)["test"] == ["s2"])
    with pytest.raises(RunFailed, match="no classifier could be trained"):
        train_compliance(tmp_path / "c", tmp_path / "out", challenges=[3],
                         config=TrainConfig(epochs=1, folds=2, test_speakers=1, seed=seed, workers=1))
    assert (tmp_path / "out" / "compliance.json").is_file()  # the failures are recorded
