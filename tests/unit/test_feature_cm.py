"""Classical countermeasures (bench.countermeasures.feature_model, its front end bench.countermeasures.cepstral)
and DevoX's baselines svm and xgboost: the features against independent computations, models stored without
pickle and read back to the same scores, one-line errors for bad settings and files (bench train / bench score
end to end: tests/integration/test_feature_cm_training.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bench.api import BenchError
from bench.countermeasures import cepstral
from bench.countermeasures import feature_model as fc
from tests.helpers.cli import assert_bad_input, invoke


def _voice(seconds: float = 1.3, seed: int = 0, noise: float = 0.02) -> np.ndarray:
    """A gliding harmonic tone with a little noise: speech-like enough to have structure in every band."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 16_000)) / 16_000
    f0 = rng.uniform(90, 220) + 20 * np.sin(2 * np.pi * rng.uniform(2, 5) * t)
    phase = 2 * np.pi * np.cumsum(f0) / 16_000
    x = sum(0.3 / k * np.sin(k * phase) for k in range(1, 8)) + noise * rng.standard_normal(len(t))
    return x.astype(np.float32)


# ------------------------------------------------------------------ features
def test_lfcc_matches_the_lfcc_lcnn_front_end_with_a_512_point_full_band_fft():
    """bench's LFCC-LCNN front end (checked against the official baseline) with n_fft=512 and the full
    band computes the same 60 values per frame; the shared constants were copied, not imported."""
    torch = pytest.importorskip("torch")
    from bench.detectors.lfcc_lcnn import network

    copied = (cepstral.FRAME_LENGTH, cepstral.FRAME_SHIFT, cepstral.PRE_EMPHASIS, cepstral.LOG_EPS,
              cepstral.N_LFCC_FILTERS)
    assert copied == (network.FRAME_LENGTH, network.FRAME_SHIFT, network.PRE_EMPHASIS, network.LOG_EPS, network.N_LFCC)
    x = _voice()
    ref = network.LFCCFrontEnd(n_fft=512, max_freq=1.0)(torch.from_numpy(x)[None])[0].double().numpy()
    ours = cepstral.frame_features(x, "lfcc")
    assert ours.shape == ref.shape == (1 + len(x) // 160, 60)
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-4)


def test_mfcc_matches_librosa_end_to_end():
    import librosa

    x = _voice(seed=2)
    pre = np.concatenate([x[:1], x[1:] - 0.97 * x[:-1]]).astype(np.float64)
    mel = librosa.feature.melspectrogram(y=pre, sr=16_000, n_fft=512, hop_length=160, win_length=320,
                                         window="hamming", center=True, pad_mode="constant", power=2.0, n_mels=40,
                                         fmin=0.0, fmax=8000.0)
    ref = librosa.feature.mfcc(S=librosa.power_to_db(mel, top_db=None), n_mfcc=20).T
    ours = cepstral.frame_features(x, "mfcc")
    assert ours.shape == (1 + len(x) // 160, 60)
    np.testing.assert_allclose(ours[:, :20], ref, rtol=1e-5, atol=1e-3)
    d1 = ours[:, :20][2:] - ours[:, :20][:-2]  # the deltas: x[t+1] - x[t-1], edges repeated
    np.testing.assert_allclose(ours[1:-1, 20:40], d1)
    np.testing.assert_allclose(ours[0, 20:40], ours[1, :20] - ours[0, :20])


def test_utterance_vector_is_the_mean_then_the_std_of_each_front_end(monkeypatch):
    x = _voice(seed=1)
    whole = cepstral.power_spectrum(x)
    monkeypatch.setattr(cepstral, "CHUNK_FRAMES", 7)  # long audio is transformed in blocks of frames: same values
    assert np.array_equal(cepstral.power_spectrum(x), whole)
    v = cepstral.utterance_features(x, "both")
    assert v.shape == (240,) and len(cepstral.feature_names("both")) == 240 and cepstral.n_features("lfcc") == 120
    m, f = cepstral.frame_features(x, "mfcc"), cepstral.frame_features(x, "lfcc")
    np.testing.assert_array_equal(v, np.concatenate([m.mean(0), m.std(0), f.mean(0), f.std(0)]))
    np.testing.assert_array_equal(cepstral.utterance_features(x, "lfcc"), v[120:])
    names = cepstral.feature_names("both")
    assert names[0] == "mfcc_mean_c0" and names[60] == "mfcc_std_c0" and names[120 + 59] == "lfcc_mean_dd19"
    assert cepstral.feature_matrix([], "mfcc").shape == (0, 120)
    assert np.isfinite(cepstral.utterance_features(np.zeros(400, np.float32))).all()  # digital silence: finite


def test_the_scorer_scores_whole_utterances_of_any_length():
    from bench.api.score_contract import InputSpec

    waves = [_voice(0.9, 0), _voice(2.0, 1), _voice(0.01, 2)]  # the last one is shorter than a frame
    scorer = fc.FeatureScorer([lambda x: x[:, 0], lambda x: -x[:, 1]], InputSpec(), [0, 1], "lfcc")
    out = scorer.scores(waves)
    assert out.shape == (2, 3)
    np.testing.assert_array_equal(out[0, :2], [cepstral.utterance_features(w, "lfcc")[0] for w in waves[:2]])
    tiled = np.tile(waves[2], 3)[:400]  # shorter than min_samples: tiled, as the InputSpec says
    assert out[1, 2] == -cepstral.utterance_features(tiled, "lfcc")[1]


# ------------------------------------------------------------------ classifiers: stored without pickle
def _blobs(n=60, d=240, seed=0):
    rng = np.random.default_rng(seed)
    y = (np.arange(n) % 3 == 0).astype(np.int64)  # unbalanced: a third are fakes
    x = rng.normal(size=(n, d)) * rng.uniform(0.1, 20, size=d) + rng.normal(size=d) * 5
    x[y == 1, :10] += 1.5
    return x, y


def test_linear_svm_npz_scores_exactly_as_sklearn(tmp_path):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    x, y = _blobs()
    info = fc.LinearSVM.fit(x[:40], y[:40], x[40:], y[40:], {"C": 0.5, "max_iter": 10_000}, seed=3, threads=1,
                            path=tmp_path / "svm.npz")
    assert info["n_params"] == 241 and info["fit"]["converged"] and 0 <= info["fit"]["val_auroc"] <= 1
    with np.load(tmp_path / "svm.npz", allow_pickle=False) as z:
        assert sorted(z.files) == ["coef", "intercept", "mean", "scale"]
        assert all(z[k].dtype == np.float64 for k in z.files)
    decide = fc.LinearSVM.load(tmp_path / "svm.npz", 240, 1)
    ref = make_pipeline(StandardScaler(), LinearSVC(C=0.5, max_iter=10_000, class_weight="balanced", dual="auto",
                                                    random_state=3)).fit(x[:40], y[:40])
    assert np.array_equal(decide(x), ref.decision_function(x))


def test_xgboost_json_round_trip_gives_the_margin_and_keeps_only_the_best_rounds(tmp_path):
    import xgboost as xgb

    x, y = _blobs(seed=1)
    settings = {**fc.XGBoost.defaults, "n_estimators": 40, "max_depth": 3}
    info = fc.XGBoost.fit(x[:40], y[:40], x[40:], y[40:], settings, seed=0, threads=1, path=tmp_path / "a.json")
    booster = xgb.Booster(model_file=str(tmp_path / "a.json"))
    assert booster.num_boosted_rounds() == info["fit"]["best_round"] == info["fit"]["n_trees"]
    assert info["fit"]["rounds_run"] >= info["fit"]["best_round"] and "val_logloss" in info["fit"]
    decide = fc.XGBoost.load(tmp_path / "a.json", 240, 1)
    margin = decide(x)
    assert np.array_equal(margin, booster.predict(xgb.DMatrix(x), output_margin=True).astype(np.float64))
    np.testing.assert_allclose(1 / (1 + np.exp(-margin)), booster.predict(xgb.DMatrix(x)), rtol=1e-5)
    fc.XGBoost.fit(x[:40], y[:40], x[40:], y[40:], settings, seed=0, threads=1, path=tmp_path / "b.json")
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()  # deterministic
    assert json.loads((tmp_path / "a.json").read_text())["learner"]["objective"]["name"] == "binary:logistic"
    no_val = fc.XGBoost.fit(x, y, None, None, settings, seed=0, threads=1, path=tmp_path / "c.json")
    assert no_val["fit"]["n_trees"] == 40 and not no_val["fit"]["stopped_early"]  # nothing to stop on


def _score_in_a_forked_child(path, x, out):
    out.put(fc.XGBoost.load(path, 240, 1)(x).tolist())


def test_an_xgboost_model_loaded_before_a_fork_scores_in_the_forked_workers(tmp_path):
    """bench evaluate loads the model and then forks its workers, which load and score it again: libgomp is not
    fork-safe, and an OpenMP team started in the parent used to deadlock the children (it hung evaluate)."""
    import multiprocessing as mp
    import time

    x, y = _blobs(seed=2)
    settings = {**fc.XGBoost.defaults, "n_estimators": 20, "max_depth": 3}
    fc.XGBoost.fit(x[:40], y[:40], x[40:], y[40:], settings, seed=0, threads=2, path=tmp_path / "m.json")
    want = fc.XGBoost.load(tmp_path / "m.json", 240, 1)(x)  # the parent loads and scores first
    ctx = mp.get_context("fork")
    out = ctx.Queue()
    children = [ctx.Process(target=_score_in_a_forked_child, args=(tmp_path / "m.json", x, out)) for _ in range(2)]
    for c in children:
        c.start()
    deadline = time.monotonic() + 60
    for c in children:
        c.join(timeout=max(0.0, deadline - time.monotonic()))
    hung = [c for c in children if c.is_alive()]
    for c in hung:
        c.kill()
    assert not hung, "a forked worker deadlocked loading the XGBoost model"
    assert all(np.array_equal(np.asarray(out.get(timeout=5)), want) for _ in children)


def _training_data(n_per_class=8):
    """Bona fide: clean tones; fakes: the same tones low-passed and noisier (a vocoder-ish difference)."""
    from scipy.signal import lfilter

    from bench.countermeasures.base import TrainingData

    waves, labels, ids = {}, {}, {}
    for split, offset in (("train", 0), ("val", 100), ("test", 200)):
        ws, ls = [], []
        for i in range(n_per_class):
            clean = _voice(0.8 + 0.05 * i, offset + i)
            ws.append(clean)
            ls.append(0)
            fake = lfilter([0.25, 0.5, 0.25], [1.0], _voice(0.8 + 0.05 * i, offset + i, noise=0.06))
            ws.append(fake.astype(np.float32))
            ls.append(1)
        waves[split], labels[split], ids[split] = ws, np.asarray(ls), [f"{split}{k}" for k in range(len(ws))]
    return TrainingData(waves, labels, ids, {"train": ["a"], "val": ["b"], "test": ["c"]})


@pytest.mark.parametrize("name, settings", [("svm", {"C": 0.1}),
                                            ("xgboost", {"n_estimators": 20, "features": "lfcc"})])
def test_a_stored_model_scores_the_same_after_loading_again(name, settings, tmp_path, monkeypatch):
    """train() per seed -> a model folder with its card -> two fresh loads give identical scores, and
    bench score's path (score_files) agrees with the scorer."""
    from bench.api.registry import DETECTORS
    from bench.audio import decode, write_wav
    from bench.countermeasures.base import card_for
    from bench.models.store import ModelEntry, hash_files, write_card

    calls = []
    real = cepstral.feature_matrix
    monkeypatch.setattr(cepstral, "feature_matrix",
                        lambda waves, features: calls.append(len(waves)) or real(waves, features))
    det = DETECTORS.create(name)
    data = _training_data()
    infos = [det.train(data, tmp_path / f"seed-{s}", s, settings) for s in (0, 1)]
    assert infos[0]["settings"]["features"] == settings.get("features", "both")
    assert infos[0]["fit"]["seconds"] >= infos[0]["fit"]["fit_seconds"] >= 0 and "val_auroc" in infos[0]["fit"]
    assert len(calls) == 2  # train and validation features computed once, shared by both seeds
    files = [f"seed-{s}/{f}" for s, i in zip((0, 1), infos, strict=True) for f in i["files"]]
    card = card_for(det, name, architecture=infos[0]["architecture"], params=infos[0]["params"],
                    n_params=infos[0]["n_params"], seeds=[0, 1], input=infos[0]["input"],
                    files=hash_files(tmp_path, files))
    write_card(tmp_path, card)
    entry = ModelEntry(tmp_path, card)
    first = det.build_scorer(entry).scores(data.waves["test"])
    again = DETECTORS.create(name, model=str(tmp_path)).load_scorer().scores(data.waves["test"])
    assert first.shape == (2, 16) and np.array_equal(first, again)
    from bench.evaluation.detection_metrics import auroc

    assert auroc(data.labels["test"], first.mean(0)) > 0.5
    write_wav(tmp_path / "t.wav", data.waves["test"][1])
    row = DETECTORS.create(name, model=str(tmp_path)).score_files([str(tmp_path / "t.wav")])[0]
    assert row["threshold"] == 0.0 and row["meaning"] == det.semantics.scale
    decoded, _ = decode(tmp_path / "t.wav")
    assert row["score"] == det.build_scorer(entry).scores([decoded]).mean()
    assert row["score"] == pytest.approx(first[:, 1].mean(), abs=0.02)  # the same audio, through a 16-bit WAV


def test_crop_seconds_trains_on_every_consecutive_crop_labelled_as_its_recording(tmp_path, monkeypatch):
    """crop_seconds > 0: one training row per whole crop of each recording (a short recording is one crop), each
    with its recording's label; 0 (the default): one row per recording."""
    import bench.countermeasures.feature_model as fcm
    from bench.api.registry import DETECTORS

    seen = {}
    real = fcm.LinearSVM.fit

    def spy(x, y, x_val, y_val, settings, seed, threads, path):
        seen.update(x=x, y=y, y_val=y_val)
        return real(x, y, x_val, y_val, settings, seed, threads, path)

    monkeypatch.setattr(fcm.LinearSVM, "fit", spy)
    data = _training_data()
    lengths = [len(w) for w in data.waves["train"]]
    det = DETECTORS.create("svm")
    info = det.train(data, tmp_path / "whole", 0, {})
    assert len(seen["y"]) == len(lengths) and info["settings"]["crop_seconds"] == 0.0
    info = det.train(data, tmp_path / "crops", 0, {"crop_seconds": 0.25})
    per = [max(1, n // 4000) for n in lengths]
    want = np.repeat(data.labels["train"], per)
    assert len(seen["x"]) == sum(per) == info["fit"]["n_train"] and np.array_equal(seen["y"], want)
    assert info["fit"]["n_train_recordings"] == len(lengths) and info["settings"]["crop_seconds"] == 0.25
    assert len(seen["y_val"]) == sum(max(1, len(w) // 4000) for w in data.waves["val"])
    assert [len(c) for c in cepstral.crops(np.zeros(9000), 4000)] == [4000, 4000]
    assert [len(c) for c in cepstral.crops(np.zeros(3000), 4000)] == [3000]


# ------------------------------------------------------------------ one-line errors
@pytest.mark.parametrize("name, settings, message", [
    ("svm", {"C": 0}, "C must be above 0"),
    ("svm", {"C": "big"}, "C must be a number"),
    ("svm", {"features": "mel"}, "features must be one of mfcc, lfcc, both"),
    ("svm", {"gamma": 1}, "unknown training setting(s) gamma"),
    ("svm", {"max_iter": 0.5}, "max_iter must be an integer"),
    ("xgboost", {"n_estimators": 2.5}, "n_estimators must be an integer"),
    ("xgboost", {"max_depth": True}, "max_depth must be an integer"),
    ("xgboost", {"learning_rate": 2}, "learning_rate must be above 0 and at most 1"),
    ("xgboost", {"subsample": 0}, "subsample must be above 0"),
    ("xgboost", {"early_stopping_rounds": -1}, "early_stopping_rounds must be at least 0"),
    ("svm", {"crop_seconds": -1}, "crop_seconds must be"),
    ("svm", {"crop_seconds": 0.05}, "crop_seconds must be 0 (whole recordings) or at least 0.1"),
])
def test_bad_settings_are_one_line_errors(name, settings, message):
    from bench.api.registry import DETECTORS

    with pytest.raises(BenchError) as err:
        DETECTORS.create(name).resolve_settings(settings)
    assert message in str(err.value) and str(err.value).startswith(name) and "\n" not in str(err.value)


def test_bench_train_with_a_bad_setting_stops_before_anything_is_written(tmp_path, capfd):
    res = invoke(["train", "--detector", "xgboost", "--corpus", str(tmp_path / "c"), "--fakes", str(tmp_path / "f"),
                  "--out", str(tmp_path / "m"), "--set", "learning_rate=0"], capfd,
                 env={"BENCH_MODEL_STORE": str(tmp_path / "store")})
    assert_bad_input(res, "learning_rate must be above 0")
    assert not (tmp_path / "m").exists() and not (tmp_path / "store").exists()


def test_unreadable_or_mismatched_model_files_are_one_line_errors(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(BenchError, match="not a bench linear-SVM model"):
        fc.LinearSVM.load(bad, 240, 1)
    np.savez(tmp_path / "obj.npz", coef=np.array([object()]), intercept=np.zeros(1), mean=np.zeros(1),
             scale=np.ones(1))
    with pytest.raises(BenchError, match="not a bench linear-SVM model"):  # pickled objects are never loaded
        fc.LinearSVM.load(tmp_path / "obj.npz", 1, 1)
    np.savez(tmp_path / "small.npz", coef=np.zeros((1, 120)), intercept=np.zeros(1), mean=np.zeros(120),
             scale=np.ones(120))
    with pytest.raises(BenchError, match="120 features, the model card says 240"):
        fc.LinearSVM.load(tmp_path / "small.npz", 240, 1)
    (tmp_path / "bad.json").write_text("{\"learner\": 3}")
    with pytest.raises(BenchError, match="not an XGBoost JSON model") as err:
        fc.XGBoost.load(tmp_path / "bad.json", 240, 1)
    assert "\n" not in str(err.value)
