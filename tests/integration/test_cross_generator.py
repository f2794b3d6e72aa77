"""Training on several generators' fakes together (the cross-generator matrix's mixed row), and what bench
evaluate then records of a model's training data."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.signal import butter, sosfilt

from bench.api import GENERATORS, Generator, PluginMeta
from tests.helpers.cli import invoke


@GENERATORS.register(PluginMeta(name="test-lowpass", version="0", license="test"))
class LowpassGenerator(Generator):
    """A second, cheap 'generator' for the tests: the source low-passed at 3 kHz (no target at all)."""

    def prepare_target(self, reference):
        return None

    def convert(self, source, target):
        return sosfilt(butter(8, 3000, fs=16000, output="sos"), source).astype(np.float32)


@pytest.fixture(scope="module")
def two_generators(zoo_inputs, tmp_path_factory):
    from bench.runs.generate import generate

    root = tmp_path_factory.mktemp("lowpass")
    generate(zoo_inputs / "corpus", root / "fakes", generator="test-lowpass", pairs_per_source=2, workers=1)
    return zoo_inputs / "corpus", zoo_inputs / "fakes", root / "fakes"


def test_a_model_trained_on_two_generators_records_both(two_generators, tmp_path, monkeypatch):
    from bench.runs.evaluate import evaluate
    from bench.runs.train import train_detector

    corpus, world, lowpass = two_generators
    monkeypatch.setenv("BENCH_MODEL_STORE", str(tmp_path / "store"))
    alone = train_detector("svm", corpus, world, tmp_path / "alone", name="svm-world").card
    mixed = train_detector("svm", corpus, [world, lowpass], tmp_path / "mixed", name="svm-mixed").card
    assert alone.training["fakes"]["generator"] == "world" and alone.training_generators() == ["world"]
    assert [f["generator"] for f in mixed.training["fakes"]] == ["world", "test-lowpass"]
    assert mixed.training_generators() == ["test-lowpass", "world"]
    assert "world-fakes + " in mixed.trained_on
    # both generators' fakes were used: twice the training fakes, the same originals
    assert mixed.training["counts"]["train"]["fake"] == 2 * alone.training["counts"]["train"]["fake"]
    assert mixed.training["counts"]["train"]["bona_fide"] == alone.training["counts"]["train"]["bona_fide"]
    result = evaluate("svm", corpus, lowpass, tmp_path / "ev", config={"model": "svm-world@1"}, n_boot=20,
                      held_out_only=True)
    assert result.evaluation_scope["training_data"]["generators"] == ["world"]
    assert result.generator.name == "test-lowpass"  # tested on a generator it never saw


def test_the_same_fakes_twice_is_one_line_and_writes_nothing(two_generators, tmp_path, capfd):
    corpus, world, _ = two_generators
    res = invoke(["train", "--detector", "svm", "--corpus", str(corpus), "--fakes", str(world), "--fakes",
                  str(world), "--out", str(tmp_path / "m")], capfd)
    lines = res.stderr.strip().splitlines()
    assert res.code == 2 and len(lines) == 1 and "given twice" in lines[0], res.stderr
    assert not (tmp_path / "m").exists()
    assert json.loads((world / "bench.json").read_text())["kind"] == "fakes"  # the input is untouched
