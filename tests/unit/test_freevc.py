"""The ``freevc`` generator: the official FreeVC code from a checkout, end to end.

No pretrained FreeVC weights can be fetched here, so the checkpoints are built at test
time from the checkout's own classes, with random weights, in the real file formats
(``bench.generators.freevc.make_random_assets``): FreeVC-s (configs/freevc-s.json) and FreeVC
(configs/freevc.json + a speaker-encoder checkpoint), each with a 2-layer WavLM of
WavLM-Large's width. The checkout is found through ``BENCH_FREEVC_REPO`` or at
``third_party/FreeVC``; without one the tests that need it are skipped.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

from bench.api import GENERATORS, SAMPLE_RATE, BenchError, Generator
from bench.audio import resample
from bench.generators.freevc import ENV_CKPT, ENV_REPO, ENV_WAVLM, FreeVCGenerator, FreeVCTarget, make_random_assets
from tests.helpers.paths import REPO


def _checkout() -> Path | None:
    path = Path(os.environ.get(ENV_REPO) or REPO / "third_party" / "FreeVC")
    return path if (path / "models.py").is_file() and (path / "wavlm").is_dir() else None


CHECKOUT = _checkout()
needs_checkout = pytest.mark.skipif(
    CHECKOUT is None,
    reason=f"no FreeVC checkout: set {ENV_REPO} or `git clone https://github.com/OlaWod/FreeVC third_party/FreeVC`")


# ------------------------------------------------------------------ without a checkout
def test_registered_with_metadata():
    meta = GENERATORS.meta("freevc")
    assert meta.name == "freevc" and meta.reference == "https://github.com/OlaWod/FreeVC"
    assert meta.sample_rate == 16_000 and meta.devices == ["cpu", "cuda"] and meta.offline
    assert "WavLM-Large.pt" in meta.assets and {"repo", "checkpoint", "wavlm", "device"} <= set(meta.parameters)
    assert issubclass(FreeVCGenerator, Generator) and FreeVCGenerator.lookahead_ms > 0


def test_default_paths_follow_flags_then_env(tmp_path, monkeypatch):
    for var in (ENV_REPO, ENV_CKPT, ENV_WAVLM):
        monkeypatch.delenv(var, raising=False)
    cfg = FreeVCGenerator(repo=tmp_path, checkpoint=tmp_path / "ckpts" / "freevc-s.pth").config
    assert cfg["config"] == str(tmp_path / "configs" / "freevc-s.json")
    assert cfg["wavlm"] == str(tmp_path / "wavlm" / "WavLM-Large.pt")
    assert cfg["speaker_encoder"] == str(tmp_path / "speaker_encoder" / "ckpt" / "pretrained_bak_5805000.pt")
    assert FreeVCGenerator(repo=tmp_path, checkpoint="freevc.pth").config["config"].endswith("configs/freevc.json")
    monkeypatch.setenv(ENV_REPO, str(tmp_path))
    monkeypatch.setenv(ENV_CKPT, "/models/freevc-s.pth")
    monkeypatch.setenv(ENV_WAVLM, "/models/WavLM-Large.pt")
    cfg = FreeVCGenerator().config
    assert (cfg["repo"], cfg["checkpoint"], cfg["wavlm"]) == (str(tmp_path), "/models/freevc-s.pth",
                                                              "/models/WavLM-Large.pt")
    assert cfg["config"].endswith("freevc-s.json") and cfg["device"] == "cpu" and cfg["seed"] == 0
    assert FreeVCGenerator(checkpoint="/x/freevc.pth", wavlm="/w.pt").config["wavlm"] == "/w.pt"


def test_bad_setup_is_one_clear_bench_error(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_REPO, raising=False)
    monkeypatch.delenv(ENV_CKPT, raising=False)
    with pytest.raises(BenchError, match=f"no FreeVC checkout given.*{ENV_REPO}"):
        FreeVCGenerator().load()
    with pytest.raises(BenchError, match="not a FreeVC checkout"):
        FreeVCGenerator(repo=tmp_path, checkpoint=tmp_path / "x.pth").load()
    with pytest.raises(BenchError, match="FreeVC checkout .*nowhere not found"):
        FreeVCGenerator(repo=tmp_path / "nowhere").load()
    with pytest.raises(BenchError, match="unknown option.*volume"):
        FreeVCGenerator(volume=3)
    with pytest.raises(BenchError, match="device must be"):
        FreeVCGenerator(device="tpu")


# ------------------------------------------------------------------ with the real code
@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """Small convolutions run far faster on one torch thread on a 2-core machine."""
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def speech() -> dict[str, np.ndarray]:
    """A source sentence and two reference speakers (real espeak-ng speech at 16 kHz)."""
    from bench.challenges.espeak import Espeak, Voice

    engine = Espeak.get()

    def say(text: str, voice: Voice) -> np.ndarray:
        return resample(engine.synth(text, voice), engine.sample_rate, SAMPLE_RATE).astype(np.float32)

    return {
        "source": say("Please call me back about my account.", Voice(variant="m1", pitch=45)),
        "ref_a": say("My voice is my password, verify me.", Voice(variant="f2", pitch=75, pitch_range=70)),
        "ref_b": say("The weather was grey and windy all day.", Voice(variant="m3", pitch=25)),
    }


@pytest.fixture(scope="module")
def freevc_s(tmp_path_factory) -> tuple[FreeVCGenerator, dict]:
    """FreeVC-s, random weights, sampling noise as in the real model."""
    opts = make_random_assets(CHECKOUT, tmp_path_factory.mktemp("freevc-s"), variant="freevc-s", wavlm_layers=2)
    gen = FreeVCGenerator(**opts)
    gen.load()
    return gen, opts


@pytest.fixture(scope="module")
def freevc(tmp_path_factory) -> tuple[FreeVCGenerator, dict]:
    """FreeVC (use_spk), random weights, noise-free prior so batching can be compared exactly."""
    opts = make_random_assets(CHECKOUT, tmp_path_factory.mktemp("freevc"), variant="freevc", wavlm_layers=2,
                              seed=1, quiet_prior=True)
    gen = FreeVCGenerator(**opts, batch_size=3)
    gen.load()
    return gen, opts


@needs_checkout
def test_freevc_s_converts_speech_end_to_end(freevc_s, speech):
    gen, opts = freevc_s
    assert not gen.use_spk
    path_before = list(sys.path)
    target = gen.prepare_target(speech["ref_a"])
    assert target.embedding is None and target.mel.shape[0] == 80 and np.isfinite(target.mel).all()
    src = speech["source"]
    y = gen.convert(src, target)
    assert y.dtype == np.float32 and y.ndim == 1 and len(y) == len(src)
    assert np.isfinite(y).all() and 0 < np.abs(y).max() <= 1.0 and y.std() > 1e-4
    # the checkout's generic module names (models, modules, commons...) are not left behind
    generic = ("commons", "modules", "models", "mel_processing", "wavlm", "speaker_encoder")
    assert not [m for m in sys.modules if m.split(".")[0] in generic] and sys.path == path_before
    # with the same seed a conversion is reproducible; the target changes it
    assert np.array_equal(gen.convert(src, target), y)
    y_b = gen.convert(src, gen.prepare_target(speech["ref_b"]))
    assert np.abs(y_b - y).max() > 1e-3 * np.abs(y).max()
    # registry entry builds the same thing and records its configuration
    made = GENERATORS.create("freevc", **opts)
    assert isinstance(made, FreeVCGenerator)
    assert made.describe()["name"] == "freevc" and made.describe()["checkpoint"] == opts["checkpoint"]


@needs_checkout
def test_sampling_noise_is_seeded(freevc_s, speech):
    gen, opts = freevc_s
    target = gen.prepare_target(speech["ref_a"])
    clip = speech["source"][: SAMPLE_RATE]
    other = FreeVCGenerator(**opts, seed=7)
    unseeded = FreeVCGenerator(**opts, seed=None)
    y0, y7 = gen.convert(clip, target), other.convert(clip, target)
    assert not np.allclose(y0, y7)  # the posterior noise really is drawn (as in FreeVC)
    assert np.array_equal(y7, other.convert(clip, target))
    assert not np.array_equal(unseeded.convert(clip, target), unseeded.convert(clip, target))


@needs_checkout
def test_reference_is_trimmed_like_convert_py(freevc_s, speech):
    gen, _ = freevc_s
    ref = speech["ref_a"]
    silence = np.zeros(SAMPLE_RATE, np.float32)
    padded = gen.prepare_target(np.concatenate([silence, ref, silence]))
    plain = gen.prepare_target(ref)
    # trim(top_db=20) drops the added second of silence on each side (50 mel frames each)
    assert abs(padded.mel.shape[1] - plain.mel.shape[1]) <= 3
    with pytest.raises(BenchError, match="after trimming silence"):
        gen.prepare_target(np.zeros(SAMPLE_RATE, np.float32))
    with pytest.raises(BenchError, match="mono"):
        gen.prepare_target(np.stack([ref, ref]))


@needs_checkout
def test_freevc_with_speaker_encoder(freevc, speech):
    import torch

    gen, opts = freevc
    assert gen.use_spk
    saved = torch.load(opts["speaker_encoder"], weights_only=True)["model_state"]
    assert torch.equal(gen._smodel.lstm.weight_ih_l0.cpu(), saved["lstm.weight_ih_l0"])  # really loaded
    t_a, t_b = gen.prepare_target(speech["ref_a"]), gen.prepare_target(speech["ref_b"])
    assert t_a.mel is None and t_a.embedding.shape == (256,)
    assert np.isclose(np.linalg.norm(t_a.embedding), 1.0, atol=1e-5)
    src = speech["source"]
    y_a = gen.convert(src, t_a)
    assert y_a.dtype == np.float32 and len(y_a) == len(src) and np.isfinite(y_a).all() and y_a.std() > 1e-4
    # random speaker-encoder weights give near-identical embeddings for any two voices, so
    # the dependence on g is checked with the target above and an orthogonal one
    e = np.zeros(256, np.float32)
    e[int(np.argmin(np.abs(t_a.embedding)))] = 1.0
    assert not np.allclose(gen.convert(src, t_b), y_a, rtol=0, atol=1e-7)
    assert np.abs(gen.convert(src, FreeVCTarget(embedding=e)) - y_a).max() > 1e-2 * np.abs(y_a).max()
    with pytest.raises(BenchError, match="other FreeVC variant"):
        gen.convert(src, FreeVCTarget(mel=np.zeros((80, 50), np.float32)))


@needs_checkout
def test_convert_batch_matches_one_by_one(freevc, speech):
    gen, _ = freevc
    target = gen.prepare_target(speech["ref_a"])
    src = speech["source"]
    sources = [src, src[:9001], np.zeros(0, np.float32), src[:4000], src[:321], src[3000:]]
    batched = gen.convert_batch(sources, target)
    assert [len(y) for y in batched] == [len(s) for s in sources]
    for s, y in zip(sources, batched, strict=True):
        single = gen.convert(s, target)
        assert y.dtype == np.float32
        # identical but for the last ~0.1 s, where the decoder sees the batch's zero padding
        head = max(0, len(s) - 2400)
        np.testing.assert_allclose(y[:head], single[:head], rtol=0, atol=1e-6)
        np.testing.assert_allclose(y, single, rtol=0, atol=0.2 * np.abs(single).max(initial=1e-6))


@needs_checkout
def test_stream_emits_every_chunk(freevc, speech):
    gen, _ = freevc
    target = gen.prepare_target(speech["ref_b"])
    src = speech["source"][: int(1.2 * SAMPLE_RATE)]
    y, stats = gen.stream(src, target, chunk_ms=500)
    assert y.dtype == np.float32 and len(y) == len(src) and np.isfinite(y).all()
    summary = stats.summary()
    assert summary["chunks"] == 3 and summary["algorithmic_delay_ms"] == 500 + gen.lookahead_ms


@needs_checkout
def test_missing_or_mismatched_files_raise_bench_errors(freevc_s, freevc, tmp_path):
    _, s_opts = freevc_s
    _, opts = freevc
    with pytest.raises(BenchError, match=f"checkpoint .*nope.pth not found.*{ENV_CKPT}"):
        FreeVCGenerator(**{**s_opts, "checkpoint": str(tmp_path / "nope.pth")}).load()
    with pytest.raises(BenchError, match=f"WavLM checkpoint .*WavLM-Large.pt not found.*{ENV_WAVLM}"):
        FreeVCGenerator(**{**s_opts, "wavlm": str(tmp_path / "WavLM-Large.pt")}).load()
    with pytest.raises(BenchError, match="speaker encoder checkpoint .*not found.*speaker_encoder=PATH"):
        FreeVCGenerator(**{**opts, "speaker_encoder": str(tmp_path / "spk.pt")}).load()
    with pytest.raises(BenchError, match="does not match config .*freevc.json"):
        FreeVCGenerator(**{**s_opts, "config": str(CHECKOUT / "configs" / "freevc.json")}).load()
    junk = tmp_path / "freevc-s.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(BenchError, match="not a readable torch checkpoint"):
        FreeVCGenerator(**{**s_opts, "checkpoint": str(junk)}).load()
