"""The deepdetection detector (DeepDetection's autoencoder + 1-D CNN, split between phone and server): the
paper's layer sizes counted independently, the autoencoder stage, the by-recording split, the users setting,
the authentication report's measures on hand-made numbers, and one tiny real training run on synthetic voices
that is stored, loaded back strictly, identifies its users and scores through the feature message."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from bench.api import BenchError
from tests.helpers.paths import REPO

SR = 16_000
PITCH = {"ann": 110.0, "bob": 190.0, "cat": 300.0, "dan": 150.0, "eve": 240.0, "fay": 135.0}


pytestmark = pytest.mark.usefixtures("at_most_two_torch_threads")


def _detector(**kw):
    from bench.api.registry import DETECTORS

    return DETECTORS.create("deepdetection", **kw)


def _clip(speaker: str, fake: bool, seed: int, seconds: float = 0.5) -> np.ndarray:
    """A "voice": a harmonic tone at the speaker's pitch with a little vibrato and noise, 1/k harmonics; its
    "fake": the same pitch with a flat spectral envelope up to 6 kHz and more noise."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    f0 = PITCH[speaker] * (1 + 0.02 * np.sin(2 * np.pi * rng.uniform(3, 6) * t + rng.uniform(0, 6)))
    phase = 2 * np.pi * np.cumsum(f0) / SR + rng.uniform(0, 6)
    if fake:
        x = sum(0.08 * np.sin(k * phase) for k in range(1, 16) if k * PITCH[speaker] < 6000)
        x = x + 0.03 * rng.standard_normal(n)
    else:
        x = sum(0.3 / k * np.sin(k * phase) for k in range(1, 8)) + 0.005 * rng.standard_normal(n)
    return (x * rng.uniform(0.6, 1.2)).astype(np.float32)


SPLITS = {"train": ["ann", "bob", "cat", "fay"], "val": ["dan"], "test": ["eve"]}


def _training_data(n_orig: int = 10, n_fake: int = 5):
    """TrainingData as bench.runs.train builds it: per split, originals (speaker = source) and fakes (speaker =
    the target, source = the imposter: the next speaker of the split)."""
    from bench.countermeasures.base import TrainingData

    waves, labels, ids, speakers, sources = {}, {}, {}, {}, {}
    seed = 0
    for split, spks in SPLITS.items():
        w, lab, idl, spk, src = [], [], [], [], []
        for j, s in enumerate(spks):
            for fake, n in ((False, n_orig), (True, n_fake)):
                for k in range(n):
                    seed += 1
                    w.append(_clip(s, fake, seed))
                    lab.append(int(fake))
                    idl.append(f"{'fake-' if fake else ''}{s}-{k}")
                    spk.append(s)
                    src.append(spks[(j + 1) % len(spks)] if fake else s)
        waves[split], labels[split], ids[split] = w, np.array(lab), idl
        speakers[split], sources[split] = spk, src
    return TrainingData(waves, labels, ids, dict(SPLITS), speakers, sources)


# ------------------------------------------------------------------ the network
def test_layers_have_the_papers_lengths_and_the_counted_parameters():
    """Encoder 1000 -> 988 -> 978 -> 163 (8 channels); classifier 163 -> 149 -> 135 -> 121 -> 107, flattened to
    856, FC 64 and 21 (20 users + deep voice, last); the decoder maps back to 1,000 samples."""
    from bench.api.registry import DETECTORS
    from bench.countermeasures.torch_model import n_parameters
    from bench.detectors.deepdetection.network import DeepDetectionNet

    det = _detector()
    torch.manual_seed(0)
    net = det.build(det.architectures["deepdetection"]).eval()
    assert isinstance(net, DeepDetectionNet) and net.n_users == 20 and net.deep_voice_index == 20
    x = torch.randn(3, 1000)
    enc = net.device_half
    with torch.no_grad():
        h1 = enc.conv1(x[:, None])
        h2 = enc.conv2(torch.relu(h1))
        feats, idx = net.encode_with_indices(x)
        lengths, h = [], feats
        for layer in net.server_half.convs:
            h = layer(h)
            if isinstance(layer, torch.nn.Conv1d):
                lengths.append(h.shape[-1])
        logits = net(x)
        rec = net.decode(feats, idx)
    assert (h1.shape, h2.shape, feats.shape) == ((3, 16, 988), (3, 8, 978), (3, 8, 163))
    assert lengths == [149, 135, 121, 107] and h.flatten(1).shape == (3, 856) and h.shape[1] == 8
    assert logits.shape == (3, 21) and rec.shape == (3, 1000) and idx.shape == (3, 8, 163)
    assert net.server_half.fc1.in_features == 856 and net.server_half.fc1.out_features == 64
    convs = [m for m in net.server_half.convs if isinstance(m, torch.nn.Conv1d)]
    assert [m.out_channels for m in convs] == [32, 64, 32, 8]
    assert all(m.kernel_size == (15,) and m.stride == (1,) and m.padding == (0,) for m in convs)
    assert enc.pool.kernel_size == 6 and enc.pool.stride == 6
    # parameters counted from the layer list: weights + biases
    encoder = (1 * 16 * 13 + 16) + (16 * 8 * 11 + 8)
    decoder = (8 * 16 * 11 + 16) + (16 * 1 * 13 + 1)
    classifier = sum(i * o * 15 + o for i, o in ((8, 32), (32, 64), (64, 32), (32, 8))) + (856 * 64 + 64) + (64 * 21
                                                                                                           + 21)
    assert (n_parameters(net.device_half), n_parameters(net.decoder), n_parameters(net.server_half)) == (
        encoder, decoder, classifier) == (1_640, 1_633, 125_469)
    assert n_parameters(net) == 128_742 == DETECTORS.meta("deepdetection").n_params["deepdetection"]
    small = det.build({"n_users": 3, "deep_voice_index": 3})
    assert n_parameters(small) == 128_742 - 65 * 17
    with torch.no_grad():
        p = torch.softmax(logits, dim=1)
        assert torch.allclose(net.window_scores(logits), p[:, 20])  # the deep-voice class is the last
    assert net.feature_rate == 16_000
    with pytest.raises(ValueError, match="last one"):
        DeepDetectionNet(3, deep_voice_index=0)


def test_the_decoder_needs_the_pooling_indices_to_invert_the_encoder():
    """With the encoder's indices the unpooling puts each maximum back where it was; without them (what the
    message carries) every maximum goes to the start of its window."""
    from bench.detectors.deepdetection.network import DeepDetectionNet

    net = DeepDetectionNet(2).eval()
    x = torch.randn(2, 1000)
    with torch.no_grad():
        feats, idx = net.encode_with_indices(x)
        known = net.decoder.unpool(feats, idx, output_size=(2, 8, 978))
        blind = net.decoder.unpool(feats, (torch.arange(163) * 6).expand(2, 8, 163), output_size=(2, 8, 978))
        assert torch.equal(net.decode(feats), net.decoder(feats, None)[:, 0])
    assert torch.equal(known.amax(dim=-1), blind.amax(dim=-1))
    assert (known.reshape(2, 8, 163, 6).argmax(-1) == idx % 6).all()
    assert blind.reshape(2, 8, 163, 6)[..., 1:].abs().sum() == 0


# ------------------------------------------------------------------ the autoencoder stage
def test_the_autoencoder_stage_lowers_the_reconstruction_error_and_resumes(tmp_path):
    from bench.api.score_contract import InputSpec, windows
    from bench.detectors.deepdetection import reconstruction_mse, train_autoencoder
    from bench.detectors.deepdetection.network import DeepDetectionNet

    spec = InputSpec(samples=1000)
    x = torch.from_numpy(np.concatenate([windows(_clip(s, k % 2 == 1, k), spec)
                                         for k, s in enumerate(["ann", "bob", "cat"] * 4)]))
    assert x.shape == (96, 1000)
    torch.manual_seed(0)
    net = DeepDetectionNet(3)
    before = reconstruction_mse(net, x, 64, "cpu")
    key = {"k": 1}
    info = train_autoencoder(net, x, tmp_path / "ae.pt", key=key, epochs=6, lr=3e-3, batch_size=16, seed=0,
                             device="cpu")
    after = reconstruction_mse(net, x, 64, "cpu")
    assert [h["epoch"] for h in info["history"]] == list(range(1, 7)) and info["resumed_from_epoch"] == 0
    assert after < 0.5 * before, (before, after)
    assert info["history"][-1]["mse"] < info["history"][0]["mse"]
    again = DeepDetectionNet(3)
    skipped = train_autoencoder(again, x, tmp_path / "ae.pt", key=key, epochs=6, lr=3e-3, batch_size=16, seed=0,
                                device="cpu")
    assert skipped["resumed_from_epoch"] == 6 and skipped["history"] == info["history"]
    for a, b in zip(net.device_half.state_dict().values(), again.device_half.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    with pytest.raises(BenchError, match="another training"):
        train_autoencoder(DeepDetectionNet(3), x, tmp_path / "ae.pt", key={"k": 2}, epochs=6, lr=3e-3, batch_size=16,
                          seed=0, device="cpu")


# ------------------------------------------------------------------ enrolment and the split
def test_users_default_to_every_training_speaker_and_the_rest_are_not_trained_on():
    from bench.detectors.deepdetection import enrolment

    data = _training_data(3, 2)
    every = enrolment(data, "")
    assert every["users"] == ["ann", "bob", "cat", "fay"] and every["unenrolled"] == []
    some = enrolment(data, "cat,ann")
    assert some["users"] == ["ann", "cat"]
    lab, spk = data.labels["train"], data.speakers["train"]
    assert sorted(spk[i] for i in some["unenrolled"]) == ["bob"] * 3 + ["fay"] * 3
    assert all(lab[i] == 0 for i in some["unenrolled"])
    # fakes -> the deep-voice class (2, the last), enrolled originals -> their user
    for i, c in zip(some["index"], some["classes"], strict=True):
        assert c == (2 if lab[i] == 1 else some["users"].index(spk[i]))
    assert (some["classes"] == 2).sum() == (lab == 1).sum() == 8


def test_the_split_is_by_recording_stratified_and_seeded():
    from bench.detectors.deepdetection import split_by_recording

    classes = np.repeat([0, 1, 2, 3], [10, 10, 5, 20])
    part = split_by_recording(classes, 0)
    for c, want in ((0, (6, 2, 2)), (1, (6, 2, 2)), (2, (3, 1, 1)), (3, (12, 4, 4))):
        assert tuple(int(((classes == c) & (part == p)).sum()) for p in (0, 1, 2)) == want
    assert np.array_equal(part, split_by_recording(classes, 0))
    assert not np.array_equal(part, split_by_recording(classes, 1))
    tiny = split_by_recording(np.array([0, 0, 1, 2, 2, 2]), 0)
    assert sorted(tiny[:2].tolist()) == [0, 2] and tiny[2] == 0 and sorted(tiny[3:].tolist()) == [0, 1, 2]


@pytest.mark.parametrize("users, message", [
    ("ann,zed", "users zed is not among the training speakers with original recordings (ann, bob, cat, fay)"),
    ("ann,dan,zed", "users dan, zed are not among the training speakers"),
    ("ann", "needs at least 2 enrolled users, got 1 (ann;"),
    ("ann,ann", "users lists a speaker twice"),
    ({"a": 1}, "users must be a comma-separated list"),
])
def test_a_bad_users_setting_is_a_one_line_error(users, message, tmp_path):
    det = _detector()
    with pytest.raises(BenchError) as err:
        det.train(_training_data(3, 2), tmp_path / "m", 0, {"users": users, "ae_epochs": 1, "epochs": 1})
    assert message in str(err.value) and "\n" not in str(err.value) and str(err.value).startswith("deepdetection")
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("settings, message", [
    ({"ae_epochs": -1}, "ae_epochs must be an integer >= 0"),
    ({"ae_lr": 0}, "ae_lr must be a positive number"),
    ({"message_dtype": "int8"}, "message_dtype must be one of float16, float32"),
    ({"crop_seconds": 1.0}, "unknown training setting(s) crop_seconds"),
    ({"architecture": "big"}, "unknown architecture 'big'"),
])
def test_bad_training_settings_are_one_line_errors(settings, message):
    with pytest.raises(BenchError) as err:
        _detector().resolve_settings(settings)
    assert message in str(err.value) and "\n" not in str(err.value)


# ------------------------------------------------------------------ the report's measures
def test_report_measures_on_hand_made_probabilities():
    """Two users (u0, u1) + deep voice; per-user EER with genuine = the user's originals, impostors = everyone
    else (other user, unenrolled speaker, every fake); the vs-imitating-fakes EER; closed/open-set F1."""
    from bench.detectors.deepdetection.report import QUOTED_SOURCE, authentication_report, majority_vote

    def rows(*p):
        return np.array(p, dtype=float)

    probs = [rows([0.9, 0.05, 0.05]),                      # u0 original
             rows([0.6, 0.3, 0.1], [0.2, 0.7, 0.1]),       # u0 original: slices disagree, mean -> u0
             rows([0.1, 0.8, 0.1]),                        # u1 original
             rows([0.3, 0.6, 0.1]),                        # unenrolled original: called u1 (open-set FP)
             rows([0.1, 0.1, 0.8], [0.2, 0.2, 0.6]),       # fake imitating u0
             rows([0.7, 0.1, 0.2])]                        # fake imitating u0, called u0 (a miss)
    true, labels = [0, 0, 1, -1, 2, 2], [0, 0, 0, 0, 1, 1]
    targets = ["u0", "u0", "u1", "zed", "u0", "u0"]
    r = authentication_report(probs, true, labels, targets, ["u0", "u1"], 2)
    utt = r["utterance"]
    # utterance scores P(u0): genuine 0.9, 0.4; impostors 0.1, 0.3, 0.15, 0.7 -> one miss (0.4 < 0.7) each way
    u0 = utt["per_user_eer"]["u0"]
    assert (u0["n_genuine"], u0["n_impostor"], u0["n_fakes_imitating"]) == (2, 4, 2)
    assert u0["eer"] == pytest.approx(0.25)
    # against the two imitating fakes only: genuine 0.9, 0.4; fakes 0.15, 0.7 -> EER 0.5
    assert u0["eer_vs_fakes_imitating"] == pytest.approx(0.5)
    u1 = utt["per_user_eer"]["u1"]
    assert u1["eer"] == 0.0 and u1["n_fakes_imitating"] == 0 and "eer_vs_fakes_imitating" not in u1
    assert utt["mean_user_eer"] == pytest.approx((u0["eer"] + 0.0) / 2)
    # utterance arg-max of the mean: u0, u1 (mean [0.4, 0.5, 0.1]), u1, u1 (unenrolled), deep voice, u0
    ident = utt["user_identification_f1"]
    # closed set (true >= 0): true 0 0 1 2 2, predicted 0 1 1 2 0
    pred = np.array([0, 1, 1, 2, 0])
    t = np.array([0, 0, 1, 2, 2])
    f1s = [2 * ((pred == c) & (t == c)).sum() / ((pred == c).sum() + (t == c).sum()) for c in range(3)]
    assert ident["closed_set"] == pytest.approx(np.mean(f1s), abs=1e-6)
    assert ident["per_class_closed_set"]["deep voice"] == pytest.approx(f1s[2])
    # open set: the unenrolled original called u1 is one more false positive of u1
    f1_u1_open = 2 * 1 / (3 + 1)
    assert ident["open_set"] == pytest.approx(np.mean([f1s[0], f1_u1_open, f1s[2]]), abs=1e-6)
    # deep voice at P >= 0.5: utterances 0.05 0.1 0.1 0.1 0.7 0.2 -> TP 1, FN 1 -> F1 2/3
    assert utt["deep_voice_f1"] == pytest.approx(2 / 3)
    # slice level: one trial per slice (8 slices)
    assert r["slice"]["n"] == 8 and r["counts"]["slices"] == 8 and r["counts"]["recordings"] == 6
    # majority vote: recording 1's slices vote u0 and u1 (tie -> higher mean: u1); fakes: 2/2 and 0/1 slices
    cls, fake = majority_vote(probs, 2)
    assert cls.tolist() == [0, 1, 1, 1, 2, 0] and fake.tolist() == [False] * 4 + [True, False]
    assert r["quoted"]["source"] == QUOTED_SOURCE == "quoted, DeepDetection Sec. 4.3 (ASVspoof 2019)"
    assert r["quoted"]["user_authentication_f1_percent"]["test"] == 99.05
    assert r["quoted"]["average_user_eer"] == 0.15 and r["quoted"]["users"] == 20


# ------------------------------------------------------------------ a real (tiny) training run
# (the tests that use it train a model: they are marked slow)
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Train on 3 of the 4 training speakers (fay is not enrolled), 2 autoencoder and <= 12 classifier epochs,
    then write a model card as bench.runs.train does."""
    from bench.countermeasures.base import card_for
    from bench.models.store import hash_files, write_card

    torch.set_num_threads(min(2, torch.get_num_threads()))
    det = _detector(threads=2)
    data = _training_data()
    folder = tmp_path_factory.mktemp("dd") / "model"
    ticks = []
    info = det.train(data, folder / "seed-0", 0, {"users": "ann,bob,cat", "ae_epochs": 2, "epochs": 12, "lr": 1e-3,
                                                  "batch_size": 32, "patience": 4}, tick=ticks.append)
    files = [f"seed-0/{f}" for f in info["files"]]
    card = card_for(det, "deepdetection", architecture=info["architecture"], params=info["params"],
                    n_params=info["n_params"], seeds=[0], input=info["input"], files=hash_files(folder, files))
    write_card(folder, card)
    return det, data, folder, card, info, ticks


@pytest.mark.slow
def test_training_stores_a_model_that_loads_strictly(trained):
    from bench.api.registry import DETECTORS
    from bench.countermeasures.torch_model import load_state
    from bench.models.store import ModelEntry

    det, _, folder, card, info, ticks = trained
    assert info["files"] == ["weights.pt"] and info["architecture"] == "deepdetection"
    assert info["params"] == {"n_users": 3, "users": ["ann", "bob", "cat"], "deep_voice_index": 3,
                              "message_dtype": "float16"}
    assert info["n_params"] == 128_742 - 65 * 17 and info["input"]["samples"] == 1000
    assert info["settings"]["users"] == "ann,bob,cat"
    assert [(t["stage"], t["epoch"]) for t in ticks[:2]] == [("autoencoder", "1/2"), ("autoencoder", "2/2")]
    assert all("stage" not in t for t in ticks[2:])
    assert [h["epoch"] for h in info["autoencoder"]["history"]] == [1, 2]
    fit = info["fit"]
    assert 1 <= fit["best_epoch"] <= fit["epochs_run"] <= 12 and len(fit["history"]) == fit["epochs_run"]
    assert all(np.isfinite(h["train_loss"]) and np.isfinite(h["val_loss"]) for h in fit["history"])
    assert not (folder / "seed-0" / "checkpoint.pt").exists() and not (folder / "seed-0" / "autoencoder.pt").exists()
    state = load_state(folder / "seed-0" / "weights.pt")
    assert set(state) == set(det.build(info["params"]).state_dict()) and any(k.startswith("decoder.") for k in state)
    json.dumps(info)  # what bench.runs.train writes to done.json and the card
    loaded = DETECTORS.create("deepdetection", model=str(folder))
    loaded.check("")
    assert loaded.score_semantics().threshold == 0.5 and not loaded.scores_are_llrs()
    assert "closed set" in loaded.score_caveats()[0] and "ann, bob, cat" in loaded.score_caveats()[0]
    wrong = card.model_copy(update={"params": {**info["params"], "n_users": 4, "deep_voice_index": 4}})
    with pytest.raises(BenchError, match="does not fit") as err:
        det.build_scorer(ModelEntry(folder, wrong))
    assert "\n" not in str(err.value)


@pytest.mark.slow
def test_the_trained_model_identifies_its_users_on_held_out_recordings(trained):
    """The report (held-out 20 % by recording + the never-enrolled speakers) and fresh clips of the enrolled
    users: well above chance (1 in 4 classes)."""
    from bench.api.score_contract import windows
    from bench.detectors.deepdetection import slice_probabilities
    from bench.models.store import ModelEntry

    det, _, folder, card, info, _ = trained
    rep = info["authentication"]
    c = rep["counts"]
    assert rep["users"] == ["ann", "bob", "cat"] and rep["classes"][-1] == "deep voice"
    assert c["unenrolled_training_speakers"] == ["fay"] and c["validation_speakers"] == ["dan"]
    # fay's 10 originals + dan's 10 originals are impostors never trained on
    assert c["unenrolled_originals"] == 20 and c["enrolled_originals"] == 3 * 2
    assert c["fakes"] == 4 + 5 and c["training"]["per_class_recordings"] == {
        "ann": 6, "bob": 6, "cat": 6, "deep voice": 12}
    for level in ("slice", "utterance"):
        r = rep[level]
        assert r["user_identification_f1"]["accuracy_closed_set"] >= 0.7, level
        for u, row in r["per_user_eer"].items():
            assert 0.0 <= row["eer"] <= 1.0 and row["n_genuine"] > 0, (level, u)
        assert 0.0 <= r["mean_user_eer"] <= 0.5
    assert rep["utterance_majority_vote"]["user_identification_f1"]["closed_set"] is not None
    assert rep["quoted"]["deep_voice_detection_f1_percent"]["test"] == 100.0

    modules, device = det.load_networks(ModelEntry(folder, card))
    fresh = [(u, _clip(u, False, 10_000 + k)) for k, u in enumerate(["ann", "bob", "cat"] * 4)]
    probs = slice_probabilities(modules[0], [windows(w, det.input_spec) for _, w in fresh], 64, device)
    guessed = [info["params"]["users"][int(p.mean(axis=0).argmax())] for p in probs]
    assert np.mean([g == u for g, (u, _) in zip(guessed, fresh, strict=True)]) >= 0.75


@pytest.mark.slow
def test_scores_through_the_message_are_the_mean_slice_probability_of_deep_voice(trained):
    from bench.api.score_contract import windows
    from bench.countermeasures.split_model import SplitScorer
    from bench.evaluation.detection_metrics import auroc
    from bench.models.store import ModelEntry

    det, data, folder, card, _, _ = trained
    scorer = det.build_scorer(ModelEntry(folder, card))
    assert isinstance(scorer, SplitScorer) and scorer.spec.samples == 1000
    waves = data.waves["test"][:3] + data.waves["test"][-2:] + [data.waves["test"][0][:700]]  # last: tiled
    got = scorer.scores(waves)
    net = scorer.modules[0]
    for i, w in enumerate(waves):
        wins = torch.from_numpy(windows(w, det.input_spec))
        assert wins.shape[0] == (8 if i < 5 else 1)
        with torch.no_grad():
            feats = net.device_half(wins).half().float()  # the message's float16 payload
            direct = torch.softmax(net.server_half(feats), dim=1)[:, 3].mean()
            unrounded = torch.softmax(net(wins), dim=1)[:, 3].mean()
        assert got[0, i] == pytest.approx(float(direct), abs=1e-6)
        assert got[0, i] == pytest.approx(float(unrounded), abs=1e-2)
        assert 0.0 <= got[0, i] <= 1.0
    held = scorer.scores(data.waves["test"])
    assert auroc(data.labels["test"], held[0]) >= 0.9  # eve, never seen: her fakes still score above her originals
    msgs = scorer.device_messages(data.waves["test"][0])
    assert msgs[0].shape == (8, 8, 163) and msgs[0].dtype == "float16" and msgs[0].sample_rate == 16_000


def test_the_plugin_is_registered_and_cheap_to_import():
    from bench.api.registry import DETECTORS
    from bench.countermeasures.split_model import SplitTorchCMDetector

    assert issubclass(DETECTORS.factory("deepdetection"), SplitTorchCMDetector)
    meta = DETECTORS.meta("deepdetection")
    assert meta.input_seconds == 1000 / 16_000 and meta.score["threshold"] == 0.5 and meta.score["llr"] is False
    assert meta.score["polarity"] == "higher = more likely fake"
    det = _detector()
    assert det.input_spec.samples == 1000 and det.input_spec.shorter == "tile" and det.input_spec.longer == "windows"
    assert det.training_defaults() == {"architecture": "deepdetection", "users": "", "ae_epochs": 10, "ae_lr": 1e-3,
                                       "epochs": 50, "batch_size": 128, "lr": 1e-4, "weight_decay": 0.0,
                                       "patience": 5, "message_dtype": "float16"}
    assert det.resolve_settings({"users": ["bob", "ann"]})["users"] == "bob,ann"
    code = ("import sys, bench.detectors.deepdetection as d\n"
            "print(sorted(m for m in ('torch', 'scipy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip() == "[]", out.stdout


@pytest.mark.slow
def test_the_authentication_report_is_printed_from_the_card(trained):
    """bench train and bench models show print the report through the detector's training_report hook."""
    from bench.cli.output import training_report_lines

    _, _, _, card, info, _ = trained
    record = card.model_copy(update={"training": {"per_seed": {"0": {k: v for k, v in info.items() if k != "files"}}}})
    lines = training_report_lines(record)
    auth = info["authentication"]
    assert lines[0].startswith("seed 0 authentication (3 enrolled users + deep voice;")
    assert f"{auth['slice']['user_identification_f1']['closed_set']:.3f}" in lines[1]
    assert f"{auth['utterance']['mean_user_eer']:.3f}" in lines[1]
    assert lines[2].startswith("  per-user EER (utterance): ann ") and "cat" in lines[2]
    assert "quoted" in lines[3] and "99.05" in lines[3]
    assert training_report_lines(card) == []  # a card without the report prints nothing more


@pytest.mark.slow
def test_bench_score_scores_a_file_and_says_the_score_is_closed_set(trained, tmp_path):
    from bench.audio import write_wav
    from tests.helpers.cli import run_bench

    _, _, folder, _, _, _ = trained
    wav = tmp_path / "call.wav"
    write_wav(wav, _clip("ann", False, 7, seconds=1.0).astype(np.float32))
    res = run_bench("score", str(wav), "--detector", "deepdetection", "--model", str(folder))
    assert res.returncode == 0, res.stderr
    assert "caveat: closed set" in res.stdout and "ann, bob, cat" in res.stdout and "call.wav: score" in res.stdout
