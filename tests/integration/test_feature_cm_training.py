"""DevoX's classical baselines svm and xgboost trained by `bench train`'s path on the session's small simulated
corpus (tests/conftest.py's zoo_inputs), then `bench score` on the held-out speakers' files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.cli import invoke


# ------------------------------------------------------------------ bench train / bench score, end to end
@pytest.fixture(scope="session")
def feature_inputs(zoo_inputs):
    """The session's zoo_inputs (4 speakers x 3 challenges x 2 sentences and their WORLD fakes: train, validation
    and test speakers); this module simulated the same corpus a second time before."""
    return zoo_inputs


def _held_out_files(inputs: Path, splits: dict, out: Path) -> tuple[list[str], np.ndarray]:
    """The test speakers' originals and fakes (as bench train scopes them), written as 16 kHz WAV files."""
    from bench.audio import load_entry, write_wav
    from bench.data.corpus import unusable_references
    from bench.runs.evaluate import build_samples, open_inputs
    from bench.runs.train import split_samples

    corpus, fakes, _, _ = open_inputs(inputs / "corpus", inputs / "fakes")
    rows = corpus.to_list()
    test = split_samples(build_samples(rows, fakes.to_list(), unusable_references(rows)), splits)["test"]
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, s in enumerate(test):
        paths.append(str(out / f"{i:03d}-{s.label}.wav"))
        write_wav(paths[-1], load_entry(s.audio))
    return paths, np.array([s.label for s in test])


@pytest.mark.slow
def test_train_both_baselines_then_bench_score_the_held_out_speakers(feature_inputs, tmp_path, monkeypatch, capfd):
    from bench.evaluation.detection_metrics import auroc
    from bench.runs.train import train_detector

    store = tmp_path / "store"
    monkeypatch.setenv("BENCH_MODEL_STORE", str(store))
    for name, file, settings in (("svm", "svm.npz", {}), ("xgboost", "xgboost.json", {"features": "both"})):
        entry = train_detector(name, feature_inputs / "corpus", feature_inputs / "fakes", tmp_path / name,
                               seeds=[0, 1], settings=settings)
        card = entry.card
        assert card.ref == f"{name}@1" and card.seeds == [0, 1]
        assert set(card.files) == {f"seed-0/{file}", f"seed-1/{file}"}
        assert card.semantics["threshold"] == 0.0 and card.params["n_features"] == 240 and card.n_params > 0
        assert card.input["samples"] is None and card.training["seconds"] > 0
        assert all("val_auroc" in s["fit"] for s in card.training["per_seed"].values())
        splits = card.training["splits"]
        paths, labels = _held_out_files(feature_inputs, splits, tmp_path / f"{name}-test")
        assert len(set(labels.tolist())) == 2
        res = invoke(["score", *paths, "--detector", name, "--model", card.ref, "--json"], capfd)
        assert res.code == 0, res.stderr
        rows = json.loads(res.stdout)
        scores = np.array([r["score"] for r in rows])
        assert [r["file"] for r in rows] == paths and all(len(r["seed_scores"]) == 2 for r in rows)
        held_out = auroc(labels, scores)
        assert held_out > 0.5, f"{name}: held-out AUROC {held_out:.3f}"
        assert held_out == pytest.approx(card.metrics["test_summary"]["auroc_mean"], abs=0.05)
