"""The vgg16 detector (DevoX's VGG-16 baseline): the VGG16 layout and sizes counted independently, the log-mel
front end against librosa and NumPy, the input windows, the registry entry, and a tiny real training run that
is stored, loaded back strictly and scores files through bench score's path."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from bench.api import BenchError
from tests.helpers.cli import invoke

CFG_D = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]


pytestmark = pytest.mark.usefixtures("at_most_two_torch_threads")


def _expected_params(width: int, pool: int = 7, in_channels: int = 1, classes: int = 2) -> tuple[int, int]:
    """(convolution, classifier) parameters of VGG16 configuration D, counted from Table 1 of the paper."""
    conv, c = 0, in_channels
    for v in CFG_D:
        if v != "M":
            out = v // width
            conv += c * out * 9 + out
            c = out
    fc = 4096 // width
    head = (c * pool * pool * fc + fc) + (fc * fc + fc) + (fc * classes + classes)
    return conv, head


def _detector():
    from bench.api.registry import DETECTORS

    return DETECTORS.create("vgg16")


def _clip(kind: int, seed: int, seconds: float = 1.0) -> np.ndarray:
    """kind 0 (bona fide): a gliding harmonic tone with a little noise; kind 1 (fake): white noise."""
    rng = np.random.default_rng(seed)
    n = int(seconds * 16_000)
    t = np.arange(n) / 16_000
    if kind == 0:
        f0 = rng.uniform(100, 250) + 15 * np.sin(2 * np.pi * rng.uniform(2, 5) * t)
        phase = 2 * np.pi * np.cumsum(f0) / 16_000
        x = sum(0.3 / k * np.sin(k * phase) for k in range(1, 6)) + 0.01 * rng.standard_normal(n)
    else:
        x = 0.2 * rng.standard_normal(n)
    return x.astype(np.float32)


# ------------------------------------------------------------------ the network
def test_full_width_vgg16_is_configuration_d_with_the_documented_parameter_count():
    """Built on the meta device (no 0.5 GB of weights): 13 3x3 convs, 5 max-pools, no batch norm, FC 4096-4096-2,
    134,267,586 parameters as counted from the paper's table, as the docstring and PluginMeta say."""
    from bench.api.registry import DETECTORS
    from bench.countermeasures.torch_model import n_parameters

    det = _detector()
    with torch.device("meta"):
        net = det.build(det.architectures["vgg16"])
    conv, head = _expected_params(1)
    assert (conv, head) == (14_713_536, 119_554_050)
    assert n_parameters(net.features) == conv and n_parameters(net.classifier) == head
    assert n_parameters(net) == conv + head == 134_267_586 == DETECTORS.meta("vgg16").n_params["vgg16"]
    convs = [m for m in net.features if isinstance(m, torch.nn.Conv2d)]
    assert [m.out_channels for m in convs] == [v for v in CFG_D if v != "M"] and convs[0].in_channels == 1
    assert all(m.kernel_size == (3, 3) and m.padding == (1, 1) and m.stride == (1, 1) for m in convs)
    pools = [m for m in net.features if isinstance(m, torch.nn.MaxPool2d)]
    assert len(pools) == 5 and all(m.kernel_size == 2 and m.stride == 2 for m in pools)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())
    linears = [m for m in net.classifier if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(25_088, 4096), (4096, 4096), (4096, 2)]
    assert [m.p for m in net.classifier if isinstance(m, torch.nn.Dropout)] == [0.5, 0.5]
    assert net.forward_features(torch.empty(2, 1, 128, 401, device="meta")).shape == (2, 2)


def test_small_network_size_and_the_batch_norm_variant():
    from bench.api.registry import DETECTORS
    from bench.countermeasures.torch_model import n_parameters
    from bench.detectors.vgg16.network import VGG16

    det = _detector()
    small = det.build(det.architectures["vgg16-small"])
    assert n_parameters(small) == sum(_expected_params(8)) == 2_100_250 == DETECTORS.meta("vgg16").n_params[
        "vgg16-small"]
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in small.modules())
    assert set(small.state_dict()) == {k for k, _ in small.named_parameters()}  # front end: no stored buffers
    torch.manual_seed(0)
    fresh = det.build(det.architectures["vgg16-small"])
    conv = [m for m in fresh.features if isinstance(m, torch.nn.Conv2d)][7]  # 32 -> 64: Kaiming normal, fan-out
    assert (conv.in_channels, conv.out_channels) == (32, 64)
    assert float(conv.weight.detach().std()) == pytest.approx((2 / (64 * 9)) ** 0.5, rel=0.05)
    assert float(fresh.classifier[0].weight.detach().std()) == pytest.approx(0.01, rel=0.05)  # N(0, 0.01)
    assert all(not m.bias.any() for m in fresh.modules() if isinstance(m, torch.nn.Conv2d | torch.nn.Linear))
    bn = VGG16(width=8, batch_norm=True)
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in bn.modules()) == 13
    assert n_parameters(bn) == 2_100_250 + 2 * sum(v // 8 for v in CFG_D if v != "M")
    for bad in ({"width": 3}, {"n_mels": 16}, {"pool": 0}):
        with pytest.raises(ValueError):
            VGG16(**bad)


def test_small_network_maps_4s_windows_to_two_logits_independently_of_batch_mates():
    from bench.detectors import vgg16
    from bench.detectors.vgg16.network import MIN_SAMPLES

    det = _detector()
    torch.manual_seed(0)
    net = det.build(det.architectures["vgg16-small"]).eval()
    x = torch.from_numpy(np.stack([_clip(k % 2, k, 4.0) for k in range(3)]))
    assert x.shape == (3, 64_000)
    with torch.no_grad():
        out = net(x)
        alone = net(x[1:2])
        shortest = net(x[:2, :MIN_SAMPLES])
    assert out.shape == (3, 2) and torch.isfinite(out).all()
    assert not torch.allclose(out[0], out[1])
    torch.testing.assert_close(alone[0], out[1], rtol=1e-4, atol=1e-5)  # per-utterance normalisation
    assert shortest.shape == (2, 2)
    assert vgg16.MIN_SAMPLES == MIN_SAMPLES == det.input_spec.min_samples
    with pytest.raises(ValueError, match="needs >= 4960 samples"):
        net(x[:, :MIN_SAMPLES - 1])


def test_mel_filterbank_is_librosas_htk_filterbank():
    import librosa

    from bench.detectors.vgg16.network import mel_filterbank

    for n_mels in (64, 128):
        ref = librosa.filters.mel(sr=16_000, n_fft=512, n_mels=n_mels, fmin=0.0, fmax=8000.0, htk=True, norm=None).T
        ours = mel_filterbank(n_mels)
        assert ours.shape == ref.shape == (257, n_mels)
        np.testing.assert_allclose(ours, ref, atol=1e-6)


def test_log_mel_front_end_matches_a_numpy_computation():
    """Centred reflect-padded frames, a 400-point periodic Hann window centred in 512 points, |rfft|^2, mel
    filters, log(1e-6 + .), then zero mean and unit variance over the whole utterance."""
    from bench.detectors.vgg16.network import LogMel, mel_filterbank

    x = _clip(0, 3, 0.5) + 0.05 * _clip(1, 4, 0.5)
    image = LogMel(128)(torch.from_numpy(x)[None])[0, 0].double().numpy()
    padded = np.pad(x.astype(np.float64), 256, mode="reflect")
    window = np.zeros(512)
    window[56:456] = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(400) / 400)
    frames = np.stack([padded[i * 160:i * 160 + 512] * window for i in range(1 + len(x) // 160)])
    logmel = np.log(1e-6 + (np.abs(np.fft.rfft(frames, axis=1)) ** 2) @ mel_filterbank(128)).T
    ref = (logmel - logmel.mean()) / np.sqrt(logmel.var() + 1e-5)
    assert image.shape == ref.shape == (128, 51)
    np.testing.assert_allclose(image, ref, atol=2e-3)
    assert abs(image.mean()) < 1e-4 and abs(image.std() - 1) < 1e-3


def test_shorter_and_longer_audio_go_through_the_4s_windows():
    """1 s is tiled to one 4 s window; 9 s is three windows (0-4, 4-8 and 5-9 s) whose scores are averaged."""
    from bench.api.score_contract import windows
    from bench.countermeasures.torch_model import TorchScorer

    det = _detector()
    torch.manual_seed(1)
    net = det.build(det.architectures["vgg16-small"]).eval()
    scorer = TorchScorer([net], det.input_spec, [0], 1, torch.device("cpu"))
    short, long = _clip(0, 5, 1.0), _clip(1, 6, 9.0)
    got = scorer.scores([short, long])
    assert got.shape == (1, 2)
    with torch.no_grad():
        logits = net(torch.from_numpy(np.tile(short, 4)[None]))
    assert got[0, 0] == pytest.approx(float(logits[0, 1] - logits[0, 0]), abs=1e-5)
    wins = windows(long, det.input_spec)
    assert wins.shape == (3, 64_000) and np.array_equal(wins[2], long[-64_000:])
    with torch.no_grad():
        per_window = net(torch.from_numpy(wins))
    assert got[0, 1] == pytest.approx(float((per_window[:, 1] - per_window[:, 0]).mean()), abs=1e-5)


# ------------------------------------------------------------------ the plugin
def test_the_registry_finds_vgg16_with_its_metadata(capfd):
    from bench.api.registry import DETECTORS
    from bench.countermeasures.torch_model import TorchCMDetector

    assert "vgg16" in DETECTORS.names()
    assert issubclass(DETECTORS.factory("vgg16"), TorchCMDetector)
    meta = DETECTORS.meta("vgg16")
    assert meta.input_seconds == 4.0 and meta.devices == ["cpu", "cuda"] and meta.sample_rate == 16_000
    assert meta.score["polarity"] == "higher = more likely fake" and meta.score["llr"] is True
    assert meta.score["threshold"] == 0.0 and "DevoX" in meta.reference and "configuration D" in meta.reference
    det = _detector()
    assert set(det.architectures) == set(meta.n_params) == {"vgg16", "vgg16-small"}
    assert det.input_spec.samples == 64_000 and det.input_spec.shorter == "tile"
    assert det.input_spec.longer == "windows"
    res = invoke(["plugins", "show", "vgg16", "--json"], capfd)
    assert res.code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["training_settings"] == {"architecture": "vgg16-small", "epochs": 15, "batch_size": 16, "lr": 1e-4,
                                        "weight_decay": 1e-4, "patience": 4, "crop_seconds": 4.0, "init": "",
                                        "augment": ""}
    assert doc["n_params"] == {"vgg16": 134_267_586, "vgg16-small": 2_100_250}


@pytest.mark.parametrize("settings, message", [
    ({"architecture": "vgg19"}, "unknown architecture 'vgg19'; choose one of vgg16, vgg16-small"),
    ({"crop_seconds": 0.2}, "crop_seconds must be at least 0.31"),
    ({"depth": 19}, "unknown training setting(s) depth"),
])
def test_bad_training_settings_are_one_line_errors(settings, message, tmp_path):
    det = _detector()
    with pytest.raises(BenchError) as err:
        det.resolve_settings(settings)
    assert message in str(err.value) and str(err.value).startswith("vgg16") and "\n" not in str(err.value)
    with pytest.raises(BenchError, match="vgg16"):
        det.train(_training_data(2), tmp_path / "m", 0, settings)
    assert not (tmp_path / "m").exists()


def _training_data(n: int):
    from bench.countermeasures.base import TrainingData

    waves, labels, ids = {}, {}, {}
    for split, offset, count in (("train", 0, n), ("val", 1000, n // 2), ("test", 2000, n // 2)):
        waves[split] = [_clip(k % 2, offset + k) for k in range(count)]
        labels[split] = np.array([k % 2 for k in range(count)])
        ids[split] = [f"{split}{k}" for k in range(count)]
    return TrainingData(waves, labels, ids, {"train": ["a"], "val": ["b"], "test": ["c"]})


@pytest.mark.slow  # trains a model
def test_a_tiny_training_run_loads_back_strictly_and_scores_files(tmp_path):
    """vgg16-small, 2 epochs on 16 one-second clips (tones = bona fide, noise = fake): a model folder that loads
    strictly, separates the held-out clips, and scores WAV files through score_files (bench score's path)."""
    from bench.api.registry import DETECTORS
    from bench.audio import decode, write_wav
    from bench.countermeasures.base import card_for
    from bench.countermeasures.torch_model import load_state
    from bench.evaluation.detection_metrics import auroc
    from bench.models.store import ModelEntry, hash_files, write_card

    det = _detector()
    data = _training_data(16)
    folder = tmp_path / "model"
    info = det.train(data, folder / "seed-0", 0, {"epochs": 2, "batch_size": 8, "crop_seconds": 1.0})
    assert info["architecture"] == "vgg16-small" and info["params"] == det.architectures["vgg16-small"]
    assert info["n_params"] == 2_100_250 and info["input"]["samples"] == 16_000
    assert [h["epoch"] for h in info["fit"]["history"]] == [1, 2] and info["files"] == ["weights.pt"]
    assert all(np.isfinite(h["train_loss"]) and np.isfinite(h["val_loss"]) for h in info["fit"]["history"])
    assert not (folder / "seed-0" / "checkpoint.pt").exists()
    state = load_state(folder / "seed-0" / "weights.pt")
    assert set(state) == set(det.build(info["params"]).state_dict())

    files = [f"seed-0/{f}" for f in info["files"]]
    card = card_for(det, "vgg16-small", architecture=info["architecture"], params=info["params"],
                    n_params=info["n_params"], seeds=[0], input=info["input"], files=hash_files(folder, files))
    write_card(folder, card)
    scorer = det.build_scorer(ModelEntry(folder, card))
    test = scorer.scores(data.waves["test"])
    assert test.shape == (1, 8) and np.isfinite(test).all()
    assert auroc(data.labels["test"], test[0]) >= 0.9  # tones against noise: an easy task, learnt in 2 epochs

    write_wav(tmp_path / "a.wav", data.waves["test"][1])
    write_wav(tmp_path / "b.wav", np.concatenate([data.waves["test"][0]] * 3))  # 3 s: windows of 1 s
    loaded = DETECTORS.create("vgg16", model=str(folder))
    rows = loaded.score_files([str(tmp_path / "a.wav"), str(tmp_path / "b.wav")])
    assert [Path(r["file"]).name for r in rows] == ["a.wav", "b.wav"]
    for r, name in zip(rows, ("a.wav", "b.wav"), strict=True):
        decoded, _ = decode(tmp_path / name)
        assert r["score"] == pytest.approx(float(scorer.scores([decoded])[0, 0]), abs=1e-6)
        assert r["threshold"] == 0.0 and r["verdict"] == ("fake" if r["score"] >= 0 else "bona fide")
        assert r["detector"] == "vgg16" and r["input"].startswith("16000 samples (1.00 s)")
    assert rows[0]["score"] == pytest.approx(test[0, 1], abs=0.05)  # the same clip, through a 16-bit WAV
    assert rows[0]["score"] > rows[1]["score"]  # noise scores above a tone

    wrong = card.model_copy(update={"params": {**info["params"], "width": 4}})
    write_card(folder, wrong)
    with pytest.raises(BenchError, match="does not fit the vgg16-small architecture") as err:
        DETECTORS.create("vgg16", model=str(folder)).load_scorer()
    assert "\n" not in str(err.value)
