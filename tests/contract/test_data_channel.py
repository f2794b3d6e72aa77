"""`bench data channel` on a tiny hand-made corpus and its fakes: same schema at the line's rate, the channel
recorded, originals and fakes through the same chain, byte-identical for a seed whatever the workers, resumed
from finished recordings, refused when stacked or when corpus and fakes went through different channels; bad
settings are one line, exit 2, nothing written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from bench.audio import encode_wav, load_entry
from bench.data.corpus import FAKE_FEATURES, build_dataset, open_dataset, read_manifest, save
from tests.helpers.cli import invoke


def _rows(fake: bool) -> list[dict]:
    t = np.arange(24000) / 16000
    rows = []
    for s, subject in enumerate(("s1", "s2", "s3")):
        for c in (0, 3):
            x = (0.2 * np.sin(2 * np.pi * (400 + 60 * s + 100 * c) * t) * (1 + 0.3 * np.sin(2 * np.pi * 3 * t)))
            x = x + 0.02 * np.random.default_rng(s * 10 + c + fake).standard_normal(len(t))
            row = {"utterance_id": f"{'f-' if fake else ''}{subject}-{c}", "subject": subject, "challenge": c,
                   "sentence_id": 0, "script": "hello there", "device": "desktop",
                   "audio": {"bytes": encode_wav(x.astype(np.float32)), "path": None}, "sample_rate": 16000,
                   "duration_s": 1.5}
            if fake:
                row.update(target=subject, imposter="s9", source_id=f"s9-{c}", reference_id=f"{subject}-0",
                           generator="world", generator_config="{}", status="ok", error="", seconds=0.1)
            rows.append(row)
    return rows


@pytest.fixture
def inputs(tmp_path) -> tuple[Path, Path]:
    corpus = save(build_dataset(_rows(False)), tmp_path / "corpus", {"kind": "corpus", "name": "tiny"})
    save(build_dataset(_rows(True), FAKE_FEATURES), tmp_path / "fakes",
         {"kind": "fakes", "name": "tiny-fakes", "corpus": {"content_hash": corpus["content_hash"]}})
    return tmp_path / "corpus", tmp_path / "fakes"


def _channel(capfd, corpus, fakes, out, *args):
    return invoke(["data", "channel", str(corpus), str(out), "--fakes", str(fakes), *args], capfd)


def test_a_profile_makes_a_corpus_of_the_same_schema_at_the_lines_rate(inputs, tmp_path, capfd):
    corpus, fakes = inputs
    res = _channel(capfd, corpus, fakes, tmp_path / "out", "--profile", "mobile-amr-nb", "--workers", "1")
    assert res.code == 0, (res.stdout + res.stderr)
    for name, src in (("corpus", corpus), ("fakes", fakes)):
        ds, before = open_dataset(tmp_path / "out" / name), open_dataset(src)
        assert ds.column_names == before.column_names and len(ds) == len(before)
        row = ds[0]
        assert row["sample_rate"] == 8000 and row["duration_s"] == before[0]["duration_s"]
        y = load_entry(row["audio"], sr=8000)
        assert len(y) == 12000 and np.std(y) > 0.01
        m = read_manifest(tmp_path / "out" / name)
        assert m["channel"]["profile"] == "mobile-amr-nb" and m["channel"]["chain"]["bitrate"] == 12200
        assert m["channel"]["parent_hash"] == read_manifest(src)["content_hash"]
    assert read_manifest(tmp_path / "out" / "fakes")["corpus"]["content_hash"] == \
        read_manifest(tmp_path / "out" / "corpus")["content_hash"]
    from bench.runs.evaluate import open_inputs  # what bench evaluate checks first: this pair is accepted

    assert open_inputs(tmp_path / "out" / "corpus", tmp_path / "out" / "fakes")[2]["channel"]["seed"] == 0


@pytest.mark.slow
def test_the_output_depends_on_the_seed_not_on_the_workers_and_a_run_resumes(inputs, tmp_path, capfd):
    corpus, fakes = inputs
    args = ("--profile", "voip-opus-loss5", "--noise", "babble", "--snr-db", "20")
    assert _channel(capfd, corpus, fakes, tmp_path / "a", *args, "--workers", "1").code == 0
    assert _channel(capfd, corpus, fakes, tmp_path / "b", *args, "--workers", "2").code == 0
    assert _channel(capfd, corpus, fakes, tmp_path / "c", *args, "--seed", "1").code == 0
    hashes = {k: read_manifest(tmp_path / k / "fakes")["content_hash"] for k in "abc"}
    assert hashes["a"] == hashes["b"] != hashes["c"]
    # an interrupted run: the finished recordings are kept in the work folder and reused as they are
    shutil.copytree(tmp_path / "a", tmp_path / "d")
    work = tmp_path / "d" / ".channel-work" / "corpus"
    work.mkdir(parents=True)
    first = open_dataset(tmp_path / "a" / "corpus")[0]
    import hashlib

    (work / f"{hashlib.sha256(first['utterance_id'].encode()).hexdigest()[:24]}.wav").write_bytes(
        first["audio"]["bytes"])
    assert _channel(capfd, corpus, fakes, tmp_path / "d", *args, "--workers", "1").code == 0
    assert read_manifest(tmp_path / "d" / "corpus")["content_hash"] == read_manifest(tmp_path / "a" / "corpus")[
        "content_hash"] and not (tmp_path / "d" / ".channel-work").exists()


@pytest.mark.slow
def test_channels_do_not_stack_and_evaluate_refuses_mixed_channels(inputs, tmp_path, capfd):
    corpus, fakes = inputs
    assert _channel(capfd, corpus, fakes, tmp_path / "p", "--profile", "pstn-g711u").code == 0
    again = invoke(["data", "channel", str(tmp_path / "p" / "corpus"), str(tmp_path / "q"), "--profile", "hd-g722"],
                   capfd)
    assert again.code == 2 and "channels do not stack" in again.stderr and not (tmp_path / "q").exists()
    mixed = invoke(["evaluate", "--detector", "pitch-lite", "--corpus", str(tmp_path / "p" / "corpus"), "--fakes",
                    str(fakes), "--out", str(tmp_path / "ev")], capfd)
    assert mixed.code == 2 and "different telephone channels" in mixed.stderr
    assert not (tmp_path / "ev").exists()


@pytest.mark.parametrize("args, message", [
    (("--profile", "pstn-g729"), "unknown channel profile 'pstn-g729'"),
    (("--codec", "gsm"), "unknown codec 'gsm'"),
    (("--codec", "opus", "--loss", "1.5"), "loss rate must be a number in [0, 1)"),
    (("--profile", "pstn-g711u", "--snr-db", "loud"), "SNR"),
    (("--profile", "pstn-g711u", "--noise", "pink"), "give noise and an SNR together"),
    ((), "give a channel"),
])
def test_bad_settings_are_one_line_exit_2_and_write_nothing(inputs, tmp_path, capfd, args, message):
    corpus, fakes = inputs
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    res = _channel(capfd, corpus, fakes, tmp_path / "new", *args)
    assert res.code == 2 and message in (res.stdout + res.stderr), (res.stdout + res.stderr)
    assert len(res.lines) == 1 and not res.stdout and not (tmp_path / "new").exists()
    user = invoke(["data", "channel", str(corpus), str(out), "--profile", "pstn-g711u"], capfd)
    assert user.code == 2 and (out / "keep.txt").read_text() == "mine"


def test_channels_lists_the_profiles(capfd):
    res = invoke(["data", "channels", "--json"], capfd)
    assert res.code == 0, res.stderr
    profiles = json.loads(res.stdout)
    assert {"pstn-g711u", "pstn-g711a", "mobile-amr-nb", "voip-opus-nb", "voip-opus-loss5", "hd-g722"} <= set(profiles)
    text = invoke(["data", "channels"], capfd)
    codecs = {line.split()[0]: line for line in text.stdout.splitlines() if line.startswith("  ")}
    assert set(codecs) == {"g711u", "g711a", "amr-nb", "opus", "g722"}  # what this build has, and losses
    assert "own concealment" in codecs["opus"] and "half level" in codecs["amr-nb"]
    assert all(line.split(";")[2].strip().startswith("yes") for line in codecs.values())


@pytest.mark.slow
def test_a_result_on_a_channel_corpus_names_the_channel_and_the_upsampling(inputs, tmp_path, capfd):
    corpus, fakes = inputs
    assert _channel(capfd, corpus, fakes, tmp_path / "p", "--profile", "pstn-g711u", "--workers", "1").code == 0
    res = invoke(["evaluate", "--detector", "aasist", "--param", "model=aasist-asvspoof2019", "--corpus",
                  str(tmp_path / "p" / "corpus"), "--fakes", str(tmp_path / "p" / "fakes"), "--out",
                  str(tmp_path / "r"), "--workers", "1", "--bootstrap", "50"], capfd)
    assert res.code == 0, res.stderr
    got = json.loads((tmp_path / "r" / "result.json").read_text())["corpus"]
    assert got["channel"]["profile"] == "pstn-g711u" and got["channel"]["chain"]["rate"] == 8000
    assert got["resampled"]["stored_hz"] == 8000 and got["resampled"]["read_at_hz"] == 16000
