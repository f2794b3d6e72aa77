"""Privacy-split detectors: the feature message and DevoX's two halves (the two ends of a trained model in separate
processes: tests/integration/test_split_trained.py)."""

from __future__ import annotations

import numpy as np
import pytest

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
