"""Hostile model folders and cards (issue #20): every path a card names stays inside its folder, what a card
declares is checked before anything is allocated or scored, a NaN score is an error and never a bona fide
verdict, and the store stays consistent (promotion checks checksums, a removed version's number is never
given again).

Model folders are written here by hand (random weights of the real networks, a hand-made linear SVM), so no
test trains anything; every command runs through the real CLI (``tests.helpers.cli.invoke``)."""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
from pathlib import Path

import numpy as np
import pytest

from bench.audio import write_wav
from tests.helpers.cli import assert_bad_input, content_snapshot, invoke, run_bench, stat_snapshot


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def _card(folder: Path, **fields) -> None:
    base = {"format": "bench.model/1", "name": "hostile", "detector": "svm", "seeds": [0]}
    (folder / "model.json").write_text(json.dumps({**base, **fields}))


def _svm_folder(folder: Path, scale: float = 1.0, **card) -> Path:
    """A linear-SVM model folder (LinearSVM's file layout) with the given scaler scale."""
    from bench.countermeasures.cepstral import n_features

    d = n_features("mfcc")
    folder.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    np.savez(buf, coef=np.ones((1, d)), intercept=np.zeros(1), mean=np.zeros(d), scale=np.full(d, scale))
    (folder / "svm.npz").write_bytes(buf.getvalue())
    _card(folder, params={"features": "mfcc"}, files={"svm.npz": _sha(folder / "svm.npz")}, **card)
    return folder


def _torch_folder(folder: Path, params_update: dict | None = None, poison: bool = False,
                  detector: str = "lfcc-lcnn", architecture: str = "") -> Path:
    """A model folder of a torch detector holding the real network's randomly initialised weights."""
    import torch

    from bench.api.registry import DETECTORS

    det = DETECTORS.create(detector)
    architecture = architecture or det.default_architecture
    params = det.network_params({**det.training_defaults(), "architecture": architecture})
    torch.manual_seed(0)
    state = det.build(params).state_dict()
    if poison:
        first = next(k for k, v in state.items() if v.is_floating_point() and v.numel())
        state[first] = state[first].clone().fill_(float("nan"))
    folder.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    torch.save(state, buf)
    (folder / "weights.pt").write_bytes(buf.getvalue())
    _card(folder, detector=detector, architecture=architecture,
          params={**params, **(params_update or {})}, files={"weights.pt": _sha(folder / "weights.pt")})
    return folder


@pytest.fixture
def store(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "store"
    monkeypatch.setenv("BENCH_MODEL_STORE", str(root))
    return root


@pytest.fixture(scope="module")
def wav(tmp_path_factory) -> Path:
    rng = np.random.default_rng(0)
    t = np.arange(16_000 * 2) / 16_000
    x = 0.3 * np.sin(2 * np.pi * 220 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t)) + 0.02 * rng.standard_normal(len(t))
    p = tmp_path_factory.mktemp("wav") / "call.wav"
    write_wav(p, x.astype(np.float32))
    return p


# ------------------------------------------------------------------ paths a card names
def _escaping_cards(tmp_path: Path) -> list[tuple[str, Path]]:
    """Model folders whose card names a file outside the folder, each with a matching checksum."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "evil.txt").write_text("payload")
    digest = _sha(outside / "evil.txt")
    cases = []
    for label, rel in (("dotdot", "../outside/evil.txt"), ("absolute", str(outside / "evil.txt")),
                       ("nested-dotdot", "sub/../../outside/evil.txt"), ("backslash", "..\\outside\\evil.txt")):
        f = _svm_folder(tmp_path / f"m-{label}")
        card = json.loads((f / "model.json").read_text())
        card["files"][rel] = digest
        (f / "model.json").write_text(json.dumps(card))
        cases.append((label, f))
    f = _svm_folder(tmp_path / "m-symlink")  # a listed file that is a symbolic link leading out
    (f / "link.txt").symlink_to(outside / "evil.txt")
    card = json.loads((f / "model.json").read_text())
    card["files"]["link.txt"] = digest
    (f / "model.json").write_text(json.dumps(card))
    cases.append(("symlink", f))
    g = _svm_folder(tmp_path / "m-card-symlink")  # the card itself a link to a card outside the folder
    (outside / "model.json").write_text((g / "model.json").read_text())
    (g / "model.json").unlink()
    (g / "model.json").symlink_to(outside / "model.json")
    cases.append(("card-symlink", g))
    return cases


def test_cards_naming_files_outside_their_folder_are_refused_everywhere(tmp_path, store, wav, capfd):
    cases = _escaping_cards(tmp_path)
    before = stat_snapshot(tmp_path)
    for label, folder in cases:
        target = tmp_path / f"export-{label}"
        for args in (["models", "pull", str(folder)], ["models", "show", str(folder)],
                     ["models", "push", str(folder), "--to-folder", str(target)],
                     ["score", str(wav), "--detector", "svm", "--model", str(folder)]):
            res = invoke(args, capfd)
            assert_bad_input(res, "", f"{label}: {' '.join(args[:2])}")
            assert any(w in res.lines[0] for w in ("outside", "leads out", "relative", "refused")), res.lines[0]
        assert not target.exists()
    assert stat_snapshot(tmp_path) == before  # nothing written anywhere, the store never created
    assert not store.exists()


def test_a_pulled_model_is_copied_whole_and_stays_inside_the_store(tmp_path, store, capfd):
    folder = _svm_folder(tmp_path / "good")
    res = invoke(["models", "pull", str(folder), "--json"], capfd)
    assert res.code == 0, res.stderr
    stored = store / "hostile" / "1"
    assert sorted(p.name for p in stored.iterdir()) == ["model.json", "svm.npz"]
    assert json.loads((stored / "model.json").read_text())["source"] == "pulled"


def test_a_card_with_no_files_is_not_registered(tmp_path, store, capfd):
    folder = tmp_path / "empty"
    folder.mkdir()
    _card(folder, files={})
    assert_bad_input(invoke(["models", "pull", str(folder)], capfd), "lists no files")
    assert not (store / "hostile").exists() or not any((store / "hostile").iterdir())


@pytest.mark.parametrize("field,value,needle", [
    ("name", "../evil", "name"),
    ("name", "UPPER", "name"),
    ("version", "1/../../x", "version"),
    ("seeds", [], "seeds"),
    ("seeds", [2 ** 40], "seeds"),
    ("fake_index", 7, "fake_index"),
    ("input", {"samples": 10 ** 12}, "samples"),
    ("input", {"sample_rate": 0}, "sample_rate"),
    ("input", {"shorter": "explode"}, "shorter"),
    ("input", {"bogus": 1}, "unknown"),
    ("semantics", {"scale": "x", "threshold": "nan", "threshold_source": "y"}, "threshold"),
    ("files", {"svm.npz": "not-a-digest"}, "sha-256"),
])
def test_declared_values_are_checked_before_use(tmp_path, store, wav, field, value, needle, capfd):
    folder = _svm_folder(tmp_path / "m")
    card = json.loads((folder / "model.json").read_text())
    card[field] = value
    (folder / "model.json").write_text(json.dumps(card))
    before = content_snapshot(tmp_path)
    for args in (["models", "show", str(folder)], ["score", str(wav), "--detector", "svm", "--model", str(folder)],
                 ["models", "pull", str(folder)]):
        res = invoke(args, capfd)
        assert_bad_input(res, "not a valid model card", f"{field}={value!r}: {args[1]}")
        assert needle.lower() in res.lines[0].lower(), res.lines[0]
    assert content_snapshot(tmp_path) == before


def test_an_oversized_card_is_refused_before_it_is_parsed(tmp_path, store, capfd):
    from bench.models.store import MAX_CARD_BYTES

    folder = _svm_folder(tmp_path / "m")
    card = json.loads((folder / "model.json").read_text())
    card["metrics"] = {"pad": "x" * (MAX_CARD_BYTES + 1)}
    (folder / "model.json").write_text(json.dumps(card))
    assert_bad_input(invoke(["models", "show", str(folder)], capfd), "too large for a model card")


# ------------------------------------------------------------------ what a model computes
def test_a_zero_scale_never_becomes_a_bona_fide_verdict(tmp_path, store, wav, capfd):
    folder = _svm_folder(tmp_path / "m", scale=0.0)
    res = invoke(["score", str(wav), "--detector", "svm", "--model", str(folder)], capfd)
    assert_bad_input(res, "scale <= 0")
    assert "bona fide" not in (res.stdout + res.stderr).lower()


def test_nan_scores_are_errors_not_verdicts():
    from bench.api.score_contract import LOG_ODDS, check_finite_scores
    from bench.errors import BenchError

    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(BenchError, match="not a finite number"):
            LOG_ODDS.verdict(bad)
        with pytest.raises(BenchError, match="not a finite number"):
            check_finite_scores(np.array([[0.5, bad]]), "a score")
    assert LOG_ODDS.verdict(-1.0) == "bona fide" and LOG_ODDS.verdict(1.0) == "fake"


def test_a_scorer_producing_nan_stops_instead_of_scoring():
    from bench.api.score_contract import InputSpec
    from bench.countermeasures.base import Scorer
    from bench.errors import BenchError

    class NaNScorer(Scorer):  # the contract every model's scorer goes through, fed a broken model's output
        def score_windows(self, batch):
            return np.full((1, len(batch)), np.nan)

    with pytest.raises(BenchError, match="not a finite number"):
        NaNScorer(InputSpec(), [0]).scores([np.ones(16_000, np.float32)])


def test_torch_weights_with_nan_are_refused_before_scoring(tmp_path, store, wav, capfd, at_most_two_torch_threads):
    folder = _torch_folder(tmp_path / "m", poison=True)
    res = invoke(["score", str(wav), "--detector", "lfcc-lcnn", "--model", str(folder)], capfd)
    assert_bad_input(res, "NaN or infinite")


def test_declared_sizes_are_checked_before_anything_is_allocated(tmp_path, store, wav, capfd,
                                                                  at_most_two_torch_threads):
    """A card declaring a network of billions of parameters (AASIST-L's last blocks 20,000 channels wide: 14 GB)
    is refused from the meta-device build, whose shapes the (small) weights file does not match, before a real
    network is built; params that build no network are one line too."""
    huge = {"filts": [70, [1, 32], [32, 32], [32, 20_000], [20_000, 20_000]]}
    folder = _torch_folder(tmp_path / "m", params_update=huge, detector="aasist", architecture="aasist-l")
    res = invoke(["score", str(wav), "--detector", "aasist", "--model", str(folder)], capfd)
    assert_bad_input(res, "has shape")
    folder = _torch_folder(tmp_path / "m2", params_update={"no_such_argument": 1})
    assert_bad_input(invoke(["score", str(wav), "--detector", "lfcc-lcnn", "--model", str(folder)], capfd),
                     "do not describe")


def test_a_sound_handmade_model_still_scores(tmp_path, store, wav, capfd, at_most_two_torch_threads):
    """The checks refuse only what is wrong: the same folders, untampered, score."""
    for det, folder in (("svm", _svm_folder(tmp_path / "svm")), ("lfcc-lcnn", _torch_folder(tmp_path / "lcnn"))):
        res = invoke(["score", str(wav), "--detector", det, "--model", str(folder), "--json"], capfd)
        assert res.code == 0, res.stderr
        assert math.isfinite(json.loads(res.stdout)[0]["score"])


# ------------------------------------------------------------------ the store
def test_promote_checks_checksums(tmp_path, store, capfd):
    for _ in range(2):
        assert invoke(["models", "pull", str(_svm_folder(tmp_path / "m"))], capfd).code == 0
    assert invoke(["models", "promote", "hostile@1"], capfd).code == 0
    weights = store / "hostile" / "2" / "svm.npz"
    weights.write_bytes(weights.read_bytes() + b"tampered")
    assert_bad_input(invoke(["models", "promote", "hostile@2"], capfd), "does not match its checksum")
    assert (store / "hostile" / "PROMOTED").read_text().strip() == "1"


def test_a_removed_version_number_is_never_given_again(tmp_path, store, capfd):
    folder = _svm_folder(tmp_path / "m")
    for _ in range(2):
        assert invoke(["models", "pull", str(folder)], capfd).code == 0
    assert invoke(["models", "remove", "hostile@2"], capfd).code == 0
    assert invoke(["models", "pull", str(folder)], capfd).code == 0
    versions = sorted(p.name for p in (store / "hostile").iterdir() if p.name.isdigit())
    assert versions == ["1", "3"]
    assert invoke(["models", "remove", "hostile@3"], capfd).code == 0
    assert invoke(["models", "remove", "hostile@1"], capfd).code == 0
    assert invoke(["models", "pull", str(folder)], capfd).code == 0
    assert sorted(p.name for p in (store / "hostile").iterdir() if p.name.isdigit()) == ["4"]


def test_no_leftovers_in_the_store_after_a_refused_pull(tmp_path, store, capfd):
    good = _svm_folder(tmp_path / "good")
    assert invoke(["models", "pull", str(good)], capfd).code == 0
    before = stat_snapshot(store)
    bad = _svm_folder(tmp_path / "bad")
    (bad / "svm.npz").write_bytes(b"changed after the card was written")
    assert_bad_input(invoke(["models", "pull", str(bad)], capfd), "does not match its checksum")
    assert stat_snapshot(store) == before
    assert not [p for p in os.listdir(store / "hostile") if p.startswith(".adding-")]


def _hub_cache(cache: Path, repo: str, files: dict[str, bytes]) -> Path:
    """The Hub cache layout huggingface_hub leaves after a download: snapshot files are links into blobs/."""
    base = cache / f"models--{repo.replace('/', '--')}"
    snap = base / "snapshots" / "0123abcd"
    snap.mkdir(parents=True)
    (base / "blobs").mkdir()
    for name, data in files.items():
        blob = base / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        (snap / name).symlink_to(os.path.relpath(blob, snap))
    (base / "refs").mkdir()
    (base / "refs" / "main").write_text("0123abcd")
    return snap


def test_a_hub_snapshot_pulls_offline_but_its_links_must_stay_in_the_repo_cache(tmp_path, store):
    """(In subprocesses: huggingface_hub reads HF_HUB_CACHE and HF_HUB_OFFLINE once, when it is imported.)"""
    folder = _svm_folder(tmp_path / "m")
    files = {n: (folder / n).read_bytes() for n in ("model.json", "svm.npz")}
    cache = tmp_path / "hf"
    _hub_cache(cache, "acme/good", files)
    env = {"HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1", "BENCH_MODEL_STORE": str(store)}
    res = run_bench("models", "pull", "acme/good", env=env)
    assert res.returncode == 0, res.stderr
    assert (store / "hostile" / "1" / "svm.npz").read_bytes() == files["svm.npz"]

    outside = tmp_path / "secret.npz"  # a snapshot file linking out of its repo's cache folder
    outside.write_bytes(files["svm.npz"])
    snap = _hub_cache(cache, "acme/evil", {"model.json": files["model.json"]})
    (snap / "svm.npz").symlink_to(outside)
    res = run_bench("models", "pull", "acme/evil", env=env)
    assert res.returncode == 2 and "leads out" in res.stderr and len(res.stderr.strip().splitlines()) == 1, \
        res.stderr
    assert sorted(p.name for p in (store / "hostile").iterdir() if p.name.isdigit()) == ["1"]
