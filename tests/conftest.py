"""Fixtures shared by every layer (session ones, each made once per session: a small simulated corpus, its
evaluation, the detector zoo's corpus with fakes, one trained devox-small model), and the markers' rules.

The markers (registered in pyproject.toml):

- ``slow``: every test under ``tests/integration`` and ``tests/e2e``, and every test elsewhere that uses a
  fixture of ``CORPUS_FIXTURES`` (directly or through another fixture): ``-m "not slow"`` builds no
  simulated corpus. In tests/unit and tests/contract a test is also marked by hand when it trains a model
  (a tiny run on synthetic clips) or runs a pretrained network on many clips;
- ``weights("models/nisqa/nisqa.tar")``: needs that file under ``../shared`` (beside the repository),
  skipped with the path when it is absent;
- ``network``: would reach the network; skipped unless ``BENCH_TEST_NETWORK=1``;
- ``browser``: needs Chromium and its driver (the test skips itself without them).

Helpers are imported from ``tests.helpers``, never from this file.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers.cli import evaluate_args, run_bench
from tests.helpers.paths import SHARED, TESTS
from tests.helpers.results import make_result

#: layers whose every test is slow (several parts together, whole CLI runs)
SLOW_LAYERS = frozenset({"integration", "e2e"})
#: the session fixtures below that simulate a corpus or train a model: a test using one is slow
CORPUS_FIXTURES = frozenset({"sim_corpus", "evaluated", "zoo_inputs", "devox_model"})


def _layer(item: pytest.Item) -> str | None:
    """``unit``, ``integration``, ``e2e`` or ``contract``: the tests folder an item lives in."""
    try:
        return item.path.relative_to(TESTS).parts[0]
    except ValueError:
        return None


@pytest.hookimpl(tryfirst=True)  # before -m deselects: the slow marks added here count
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark slow tests by layer and fixture; skip ``weights`` tests without their files and ``network`` tests
    offline. A unit test that uses a corpus fixture is an error: it belongs in tests/integration."""
    online = os.environ.get("BENCH_TEST_NETWORK") == "1"
    for item in items:
        layer, corpus = _layer(item), sorted(CORPUS_FIXTURES.intersection(item.fixturenames))
        if layer == "unit" and corpus:
            raise pytest.UsageError(f"{item.nodeid} uses {', '.join(corpus)}: unit tests use no simulated corpus "
                                    "and no session-trained model (move it to tests/integration)")
        if layer in SLOW_LAYERS or corpus:
            item.add_marker(pytest.mark.slow)
        for mark in item.iter_markers("weights"):
            for path in (SHARED / p for p in (mark.args or ("",))):
                if not path.exists():
                    item.add_marker(pytest.mark.skip(reason=f"needs weights from ../shared: {path} is absent"))
        if item.get_closest_marker("network") and not online:
            item.add_marker(pytest.mark.skip(reason="reaches the network (offline here; BENCH_TEST_NETWORK=1 runs it)"))


@pytest.fixture(scope="session")
def sim_corpus(tmp_path_factory) -> Path:
    """2 speakers x 21 challenges x 2 sentences, desktop; the real simulator."""
    from bench.runs.simulate_corpus import simulate_corpus

    out = tmp_path_factory.mktemp("sim") / "corpus"
    simulate_corpus(out, speakers=2, sentences=2, seed=0, workers=2)
    return out


@pytest.fixture(scope="session")
def evaluated(sim_corpus, tmp_path_factory):
    """world fakes + compliance classifiers + an uninterrupted pitch-lite evaluation of the 2-speaker corpus."""
    root = tmp_path_factory.mktemp("eval")
    assert run_bench("generate", "--corpus", str(sim_corpus), "--out", str(root / "fakes"),
                     "--workers", "2").returncode == 0
    res = run_bench("train", "compliance", "--corpus", str(sim_corpus), "--out", str(root / "compliance"),
                    "--epochs", "3", "--test-speakers", "1")
    assert res.returncode == 0, res.stderr
    res = run_bench(*evaluate_args(sim_corpus, root, root / "result"))
    assert res.returncode == 0, res.stderr
    return root, res


@pytest.fixture(scope="session")
def zoo_inputs(tmp_path_factory):
    """4 speakers x 3 challenges x 2 sentences and their WORLD fakes: enough for train/val/test speakers."""
    from bench.runs.generate import generate
    from bench.runs.simulate_corpus import simulate_corpus

    root = tmp_path_factory.mktemp("zoo")
    simulate_corpus(root / "corpus", speakers=4, sentences=2, challenges=[0, 1, 3], seed=0, workers=2)
    generate(root / "corpus", root / "fakes", pairs_per_source=2, workers=2)
    return root


@pytest.fixture
def two_results(tmp_path) -> tuple[Path, Path]:
    """Two results documents (world and freevc fakes, fakes well and less well separated) for leaderboard tests."""
    a = make_result(tmp_path / "a", separation=2.0, generator="world", seed=1)
    b = make_result(tmp_path / "b", separation=1.0, generator="freevc", seed=2)
    return a, b


@pytest.fixture
def at_most_two_torch_threads():
    """At most 2 torch threads while a test runs (the machine is shared); restored afterwards."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(min(2, before))
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def devox_model(zoo_inputs, tmp_path_factory):
    """devox-small@1 (2 seeds, 2 epochs) trained by the CLI on zoo_inputs in its own store; a call recording."""
    root = tmp_path_factory.mktemp("devox")
    env = {"BENCH_MODEL_STORE": str(root / "store")}
    res = run_bench("train", "--detector", "devox", "--corpus", str(zoo_inputs / "corpus"), "--fakes",
                    str(zoo_inputs / "fakes"), "--out", str(root / "m"), "--seeds", "0,1", "--set", "epochs=2",
                    env=env)
    assert res.returncode == 0, res.stderr
    from bench.audio import load_entry, write_wav
    from bench.data.corpus import open_dataset

    wav = root / "call.wav"
    write_wav(wav, load_entry(open_dataset(zoo_inputs / "corpus")[5]["audio"]))
    return root, env, wav
