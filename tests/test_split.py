"""Privacy-split detectors: the feature message, DevoX's two halves, and the two ends in separate processes."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO, run_bench

from bench.api import BenchError
from bench.countermeasures.feature_message import FeatureMessage, MessageError, model_version


def _msg(**kw) -> FeatureMessage:
    base = {"detector": "devox", "model": "devox-small@1", "model_version": model_version("a:1"), "seed": 0,
            "sample_rate": 8000, "data": np.arange(24, dtype=np.float16).reshape(1, 4, 6)}
    return FeatureMessage(**{**base, **kw})


def test_feature_message_round_trips_exactly_and_is_compact():
    m = _msg(seq=3, extra={"note": "x"})
    raw = m.to_bytes()
    back = FeatureMessage.from_bytes(raw)
    assert back.header() == m.header() and back.data.dtype == np.float16
    assert np.array_equal(back.data, m.data)
    assert len(raw) == m.nbytes == 8 + len(raw[8:]) and len(raw) - 24 * 2 < 300  # header + 48 payload bytes


@pytest.mark.parametrize("mangle, message", [
    (lambda r: b"XXXX" + r[4:], "magic"),
    (lambda r: r[:-2], "payload bytes"),
    (lambda r: r[:6], "does not start"),
    (lambda r: r[:8] + b"[" + r[9:], "not a JSON object"),
    (lambda r: r.replace(b"bench.features/1", b"bench.features/9"), "schema"),
    (lambda r: r.replace(b'"float16"', b'"int64__"'), "not allowed"),
])
def test_malformed_messages_are_one_line_errors(mangle, message):
    raw = mangle(_msg().to_bytes())
    with pytest.raises(MessageError) as err:
        FeatureMessage.from_bytes(raw)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_non_finite_features_and_odd_dtypes_are_refused():
    bad = _msg(data=np.array([[np.nan, 1.0]], dtype=np.float32)).to_bytes()
    with pytest.raises(MessageError, match="NaN"):
        FeatureMessage.from_bytes(bad)
    with pytest.raises(MessageError, match="dtype"):
        _msg(data=np.zeros((1, 2), dtype=np.int16))
    with pytest.raises(MessageError, match="expected bytes"):
        FeatureMessage.from_bytes("text")


# ------------------------------------------------------------------ DevoX's network
def test_devox_halves_shapes_and_sizes():
    import torch

    from bench.api.registry import DETECTORS
    from bench.detectors.devox.network import BASE, SMALL, DevoXNet

    torch.manual_seed(0)
    n_params = DETECTORS.meta("devox").n_params
    small = DevoXNet(SMALL).eval()
    assert sum(p.numel() for p in small.parameters()) == n_params["devox-small"]
    with torch.no_grad():
        feats = small.device_half(torch.randn(3, 16_000))
        logits = small.server_half(feats)
    # 16 kHz -> 8 kHz -> one 64-channel frame per 320 samples: 24 frames for one second
    assert feats.shape == (3, 64, 24) == (3, 64, small.frames(16_000)) and logits.shape == (3, 2)
    base = DevoXNet(BASE)
    assert sum(p.numel() for p in base.parameters()) == n_params["devox-base"]
    assert base.device_half.feature_extractor.conv_layers[-1].conv.out_channels == 512
    assert len(base.server_half.encoder.layers) == 12 and base.server_half.config.hidden_size == 768


@pytest.mark.parametrize("factor", [2, 3])
@pytest.mark.parametrize("n", [1, 63, 100, 16_000, 16_001, 64_600])
def test_devox_block_decimation_equals_the_strided_filter(factor, n):
    """The device half's low-pass + decimation, computed over blocks (fast in ONNX Runtime), gives the strided
    one-channel convolution's outputs, whatever the length."""
    import torch

    from bench.detectors.devox.network import block_filter, decimate, halfband_filter

    h = halfband_filter()
    x = torch.randn(3, n, generator=torch.Generator().manual_seed(n))
    want = torch.nn.functional.conv1d(x[:, None], torch.from_numpy(h).view(1, 1, -1), stride=factor,
                                      padding=len(h) // 2)[:, 0]
    got = decimate(x, block_filter(h, factor), len(h), factor)
    assert got.shape == want.shape
    assert torch.allclose(got, want, atol=1e-6, rtol=1e-5)


def test_devox_contrastive_term_trains_the_quantiser_only_in_training():
    import torch

    from bench.detectors.devox.network import SMALL, DevoXNet

    torch.manual_seed(0)
    net = DevoXNet(SMALL, contrastive_weight=0.5).train()
    logits = net(torch.randn(4, 16_000))
    aux = net.auxiliary_loss()
    assert aux is not None and aux.item() > 0 and net.auxiliary_loss() is None  # cleared after reading
    (torch.nn.functional.cross_entropy(logits, torch.tensor([0, 1, 0, 1])) + aux).backward()
    assert net.server_half.quantizer.codevectors.grad is not None
    net.eval()
    with torch.no_grad():
        net(torch.randn(2, 16_000))
    assert net.auxiliary_loss() is None
    off = DevoXNet(SMALL, contrastive_weight=0.0).train()
    off(torch.randn(2, 16_000))
    assert off.auxiliary_loss() is None


def test_devox_loads_a_local_wav2vec2_checkpoint(tmp_path):
    import torch
    from transformers.models.wav2vec2.modeling_wav2vec2 import Wav2Vec2ForPreTraining

    from bench.api.registry import DETECTORS
    from bench.detectors.devox.network import SMALL, wav2vec2_config

    torch.manual_seed(1)
    Wav2Vec2ForPreTraining(wav2vec2_config(SMALL)).save_pretrained(tmp_path / "w2v")
    ref = Wav2Vec2ForPreTraining.from_pretrained(tmp_path / "w2v")
    det = DETECTORS.create("devox")
    s = det.resolve_settings({"pretrained": str(tmp_path / "w2v")})
    params = det.network_params(s)
    assert params["wav2vec2"]["hidden_size"] == 128 and params["wav2vec2"]["conv_dim"] == [64] * 7
    net = det.build(params)
    info = det.load_pretrained(net, s)
    assert torch.equal(net.device_half.feature_extractor.conv_layers[0].conv.weight,
                       ref.wav2vec2.feature_extractor.conv_layers[0].conv.weight)
    assert torch.equal(net.server_half.quantizer.codevectors, ref.quantizer.codevectors)
    assert torch.equal(net.server_half.encoder.layers[1].feed_forward.output_dense.weight,
                       ref.wav2vec2.encoder.layers[1].feed_forward.output_dense.weight)
    assert set(info["files"]) >= {"config.json"}
    with pytest.raises(BenchError, match="not a local wav2vec 2.0 checkpoint"):
        det.resolve_settings({"pretrained": str(tmp_path / "nothing")})
    with pytest.raises(BenchError, match="message_dtype"):
        det.resolve_settings({"message_dtype": "int8"})


# ------------------------------------------------------------------ trained: one process and two
def _ends(*args: str, env: dict) -> subprocess.CompletedProcess:
    import os

    return subprocess.run([sys.executable, str(REPO / "examples" / "split_ends.py"), *args], capture_output=True,
                          text=True, env={**os.environ, **env}, cwd=REPO, timeout=300)


@pytest.mark.slow
def test_device_and_server_in_separate_processes_give_the_whole_models_scores(devox_model):
    root, env, wav = devox_model
    whole = run_bench("score", str(wav), "--detector", "devox", "--model", "devox-small@1", "--json", env=env)
    assert whole.returncode == 0, whole.stderr
    row = json.loads(whole.stdout)[0]
    dev = _ends("device", str(wav), "--detector", "devox", "--model", "devox-small@1", "--out", str(root / "msgs"),
                env=env)
    assert dev.returncode == 0, dev.stderr
    files = sorted((root / "msgs").glob("*.bin"))
    assert [f.name for f in files] == ["msg-seed0.bin", "msg-seed1.bin"]
    msg = FeatureMessage.from_bytes(files[0].read_bytes())
    assert msg.sample_rate == 8000 and msg.dtype == "float16" and msg.shape[1:] == (64, 24)
    srv = _ends("server", str(root / "msgs"), "--detector", "devox", "--model", "devox-small@1", env=env)
    assert srv.returncode == 0, srv.stderr
    got = json.loads(srv.stdout)
    assert got["seed_scores"] == row["seed_scores"] and got["score"] == row["score"]


@pytest.mark.slow
def test_the_server_refuses_foreign_and_broken_messages(devox_model, tmp_path):
    root, env, wav = devox_model
    import os

    os.environ["BENCH_MODEL_STORE"] = env["BENCH_MODEL_STORE"]
    try:
        from bench.api.registry import DETECTORS
        from bench.audio import load

        det = DETECTORS.create("devox", model="devox-small@1")
        msgs = det.device_messages(load(wav))
        ok = det.server_score([m.to_bytes() for m in msgs])
        assert len(ok["seed_scores"]) == 2
        with pytest.raises(MessageError, match="one feature message per seed"):
            det.server_score([msgs[0].to_bytes()])
        forged = [FeatureMessage(**{**m.__dict__, "model_version": "0" * 16}) for m in msgs]
        with pytest.raises(MessageError, match="weights"):
            det.server_score(forged)
        wrong_rate = [FeatureMessage(**{**m.__dict__, "sample_rate": 16000}) for m in msgs]
        with pytest.raises(MessageError, match="8000 Hz"):
            det.server_score(wrong_rate)
        wrong_shape = [FeatureMessage(**{**m.__dict__, "data": m.data[:, :10]}) for m in msgs]
        with pytest.raises(MessageError, match="does not fit"):
            det.server_score(wrong_shape)
    finally:
        os.environ.pop("BENCH_MODEL_STORE", None)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "msg-seed0.bin").write_bytes(b"garbage")
    srv = _ends("server", str(bad), "--detector", "devox", "--model", "devox-small@1", env=env)
    assert srv.returncode == 2 and "magic" in srv.stderr and len(srv.stderr.strip().splitlines()) == 1


# ------------------------------------------------------------------ what the features leak
@pytest.mark.slow
def test_privacy_report_and_its_leaderboard_table(devox_model, zoo_inputs, tmp_path):
    root, env, _ = devox_model
    out = tmp_path / "priv"
    res = run_bench("privacy", "--model", "devox-small@1", "--corpus", str(zoo_inputs / "corpus"), "--out", str(out),
                    "--max-recordings", "3", "--epochs", "1", "--threads", "1", env=env)
    assert res.returncode == 0, res.stderr
    rep = json.loads((out / "privacy.json").read_text())
    assert rep["schema"] == "bench.privacy/1" and rep["model"] == "devox-small@1"
    # one second of audio: one float16 (64, 24) window per seed, plus the header
    m = rep["message"]
    assert m["payload_bytes"] == 64 * 24 * 2 and m["shape"] == [1, 64, 24] and m["bytes"] < m["pcm16_8k_bytes"]
    ident = rep["identity"]
    assert ident["features"]["n_speakers"] == 4 and ident["features"]["chance"] == 0.25
    assert 0 <= ident["features"]["accuracy"] <= 1 and 0 <= ident["raw_audio_logmel"]["accuracy"] <= 1
    c = rep["content"]
    assert c["n_recordings"] == 3 and c["inversion"]["kind"] == "spectral"
    assert not set(c["test_speakers"]) & set(c["inversion"]["trained_on_speakers"])
    for k in ("original", "reconstructed", "band_limited_8k"):
        assert len(c[k]["per_recording"]) == 3 and 0 <= c[k]["wil"] <= 1
    assert len(list((out / "audio").glob("*-reconstructed.wav"))) == 3
    assert "reconstructed from the features" in res.stdout and "chance 25.0%" in res.stdout
    from bench.leaderboard.build import build, load_privacy

    ev = run_bench("evaluate", "--detector", "devox", "--param", "model=devox-small@1", "--corpus",
                   str(zoo_inputs / "corpus"), "--fakes", str(zoo_inputs / "fakes"), "--out", str(tmp_path / "ev"),
                   "--bootstrap", "50", env=env)
    assert ev.returncode == 0, ev.stderr
    doc = build([tmp_path / "ev"], tmp_path / "lb", privacy=[out])
    assert doc["entries"][0]["privacy"]["model"] == "devox-small@1"
    readme = (tmp_path / "lb" / "README.md").read_text()
    assert "What the features leak" in readme and "devox (devox-small@1)" in readme
    assert "id=privacy" in (tmp_path / "lb" / "index.html").read_text()
    (tmp_path / "junk.json").write_text("{}")
    with pytest.raises(BenchError, match="not a bench.privacy/1 report"):
        load_privacy([tmp_path / "junk.json"])


@pytest.mark.slow
def test_privacy_of_an_unsplit_model_is_a_one_line_error(zoo_inputs, tmp_path):
    res = run_bench("privacy", "--model", "aasist-asvspoof2019", "--corpus", str(zoo_inputs / "corpus"), "--out",
                    str(tmp_path / "p"))
    assert res.returncode == 2 and "not split" in res.stderr and len(res.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_window_batches_score_like_the_utterance_path(devox_model):
    import os

    from bench.api.registry import DETECTORS
    from bench.api.score_contract import windows
    from bench.audio import load

    root, env, wav = devox_model
    os.environ["BENCH_MODEL_STORE"] = env["BENCH_MODEL_STORE"]
    try:
        sc = DETECTORS.create("devox", model="devox-small@1").split_scorer()
        x = load(wav)
        per_window = sc.score_windows(windows(x, sc.spec))
        assert per_window.shape[0] == 2
        assert np.allclose(per_window.mean(axis=1), sc.scores([x])[:, 0], atol=1e-6)
    finally:
        os.environ.pop("BENCH_MODEL_STORE", None)
