"""Privacy-split detectors on the session's trained devox-small@1: the two ends in separate processes give the
whole model's scores, the server refuses foreign and broken messages, the privacy report and its leaderboard
table, and window batches score like the utterance path."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from bench.api import BenchError
from bench.countermeasures.feature_message import FeatureMessage, MessageError
from tests.helpers.cli import run_bench
from tests.helpers.paths import REPO


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
