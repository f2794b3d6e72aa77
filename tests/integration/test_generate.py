"""`bench generate`: pairing, the WORLD converter, streaming, failures, resume after kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from bench.api import GENERATORS, FatalError, Generator, PluginMeta, RunFailed
from bench.audio import encode_wav, load_entry
from bench.data.corpus import build_dataset, content_hash, open_dataset, read_manifest, save
from bench.dsp import acoustics as ac
from bench.dsp.world import analyze, f0_track
from bench.dsp.world_conversion import lt_envelope as _lt_envelope
from bench.generators.world_vc import WorldVC
from bench.runs.generate import generate, make_pairs
from tests.helpers.cli import run_bench
from tests.helpers.paths import REPO


@pytest.fixture(scope="module")
def rows(sim_corpus):
    return open_dataset(sim_corpus).to_list()


def test_pitch_pairing_rules(rows):
    pairs, unpaired = make_pairs(rows, "world", pairs_per_source=None)
    by_id = {r["utterance_id"]: r for r in rows}
    assert not unpaired and len(pairs) == len(rows)  # 2 subjects: each source has exactly one target
    for p in pairs:
        src, ref = by_id[p.source_id], by_id[p.reference_id]
        assert p.imposter == src["subject"] != p.target == ref["subject"]
        assert ref["challenge"] == 0 and ref["sentence_id"] != src["sentence_id"]
    one, _ = make_pairs(rows, "world", max_targets=1, seed=3)
    assert len({p.target for p in one}) == 1


def _utt(rows, subject, challenge, sentence):
    return next(load_entry(r["audio"]) for r in rows
                if (r["subject"], r["challenge"], r["sentence_id"]) == (subject, challenge, sentence))


def test_world_conversion_moves_pitch_and_envelope_to_the_target(rows):
    g = WorldVC()
    src = _utt(rows, "spk000", 0, 0)  # a male voice
    ref = _utt(rows, "spk001", 0, 4)  # a female voice, another sentence
    held = _utt(rows, "spk001", 0, 3)
    y = g.convert(src, g.prepare_target(ref))
    assert y.dtype == np.float32 and len(y) == len(src) and np.isfinite(y).all()
    f_src, f_out, f_held = (np.median(f[f > 0]) for f in map(f0_track, (src, y, held)))
    assert abs(np.log(f_out / f_held)) < 0.25 < abs(np.log(f_src / f_held))

    def env_dist(x):
        f0, sp, _ = analyze(x, with_ap=False)
        a, b = _lt_envelope(f0, sp), _lt_envelope(*analyze(held, with_ap=False)[:2])
        return float(np.mean(((a - a.mean()) - (b - b.mean()))[10:400] ** 2))
    assert env_dist(y) < 0.5 * env_dist(src)


def test_world_conversion_raises_speaker_similarity(rows):
    torch = pytest.importorskip("torch")
    resemblyzer = pytest.importorskip("resemblyzer")
    torch.set_num_threads(1)
    enc = resemblyzer.VoiceEncoder("cpu", verbose=False)
    g = WorldVC()
    gains = []
    for imposter, target in (("spk000", "spk001"), ("spk001", "spk000")):
        t = g.prepare_target(_utt(rows, target, 0, 4 if target == "spk001" else 1))
        held = enc.embed_utterance(_utt(rows, target, 0, 3 if target == "spk001" else 0))
        src = _utt(rows, imposter, 0, 0 if imposter == "spk000" else 3)
        before = float(np.dot(enc.embed_utterance(src), held))
        after = float(np.dot(enc.embed_utterance(g.convert(src, t)), held))
        gains.append(after - before)
    assert min(gains) > 0.05


def test_streaming_keeps_length_and_reports_latency(rows):
    g = WorldVC()
    src = _utt(rows, "spk000", 0, 0)
    y, stats = g.stream(src, g.prepare_target(_utt(rows, "spk001", 0, 4)), chunk_ms=250)
    s = stats.summary()
    assert len(y) == len(src) and s["chunks"] == int(np.ceil(len(src) / 4000))
    assert s["algorithmic_delay_ms"] == 250 and s["compute_ms_mean"] > 0
    assert ac.median_f0(y) > 1.3 * ac.median_f0(src)  # converted towards the female target


def test_generate_records_failures_without_stopping(tmp_path, rows):
    keep = [r for r in rows if r["challenge"] in (0, 1)]
    keep[-1] = {**keep[-1], "audio": {"bytes": b"RIFFbroken", "path": "x.wav"}}
    save(build_dataset(keep), tmp_path / "c", {"kind": "corpus", "name": "broken"})
    manifest = generate(tmp_path / "c", tmp_path / "f", workers=1)
    ds = open_dataset(tmp_path / "f")
    bad = [r for r in ds if r["status"] == "failed"]
    assert len(bad) == 1 and "cannot decode" in bad[0]["error"] and bad[0]["audio"] is None
    assert manifest["failed"] == 1 and manifest["finished"] == len(keep)


@GENERATORS.register(PluginMeta(name="test-flaky", version="0", license="test"))
class FlakyGenerator(Generator):
    """Fails every conversion while its ``blocker`` file exists and cannot load while its ``broken`` file
    exists (run in-process: workers=1)."""

    def __init__(self, blocker: str = "", broken: str = "") -> None:
        super().__init__(blocker=blocker, broken=broken)

    def load(self) -> None:
        if self.config["broken"] and Path(self.config["broken"]).exists():
            raise RuntimeError("weights are corrupt")

    def prepare_target(self, reference):
        return None

    def convert(self, source, target):
        if self.config["blocker"] and Path(self.config["blocker"]).exists():
            raise RuntimeError("transient failure")
        return source


def test_failed_rows_are_retried_and_all_failed_is_an_error(sim_corpus, tmp_path):
    blocker = tmp_path / "blocker"
    blocker.touch()
    config = {"blocker": str(blocker)}
    with pytest.raises(RunFailed, match="all 8 conversions failed"):
        generate(sim_corpus, tmp_path / "f", generator="test-flaky", config=config, challenges=[0, 1])
    assert read_manifest(tmp_path / "f")["failed"] == 8  # the failures are saved, not lost
    blocker.unlink()
    manifest = generate(sim_corpus, tmp_path / "f", generator="test-flaky", config=config, challenges=[0, 1])
    assert manifest["failed"] == 0 and manifest["finished"] == 8  # the same command retried them


@pytest.mark.parametrize("workers", [1, 2])
def test_a_generator_that_cannot_load_stops_the_run_once(sim_corpus, tmp_path, workers):
    """In-process and through the worker pool (forked workers inherit the test generator)."""
    broken = tmp_path / "broken"
    broken.touch()
    with pytest.raises(FatalError, match="weights are corrupt"):
        generate(sim_corpus, tmp_path / "f", generator="test-flaky", config={"broken": str(broken)},
                 challenges=[0, 1], workers=workers)
    assert not list((tmp_path / "f").glob("journal/*.json"))  # no row was marked failed: a rerun does all
    broken.unlink()
    manifest = generate(sim_corpus, tmp_path / "f", generator="test-flaky", config={"broken": str(broken)},
                        challenges=[0, 1], workers=workers)
    assert manifest["finished"] == 8 and manifest["failed"] == 0


def test_corrupt_journal_records_are_redone(sim_corpus, tmp_path):
    first = generate(sim_corpus, tmp_path / "f", challenges=[0], workers=1)
    records = sorted((tmp_path / "f" / "journal").glob("*.json"))
    records[0].write_text("{ torn")
    records[1].write_text("[]")
    again = generate(sim_corpus, tmp_path / "f", challenges=[0], workers=1)
    assert again["content_hash"] == first["content_hash"] and again["failed"] == 0


def test_silent_references_are_never_used(rows):
    from bench.data.corpus import unusable_references
    from bench.runs.evaluate import build_samples

    silent = {**rows[0], "audio": {"bytes": encode_wav(np.zeros(32000, np.float32)), "path": None}}
    assert silent["challenge"] == 0
    table = [silent, *rows[1:]]
    bad = unusable_references(table)
    assert bad == {silent["utterance_id"]: "silent (every sample is zero)"}
    pairs, _ = make_pairs(table, "world", pairs_per_source=None, bad_references=bad)
    assert pairs and all(p.reference_id != silent["utterance_id"] for p in pairs)
    samples = build_samples(table, [], bad)
    assert all(s.match_audio is not silent["audio"] for s in samples)


def test_cli_generate_every_challenge_and_info(sim_corpus, tmp_path):
    out = tmp_path / "run"
    res = run_bench("generate", "--corpus", str(sim_corpus), "--out", str(out), "--workers", "2")
    assert res.returncode == 0, res.stderr
    info = json.loads(run_bench("data", "info", str(out), "--json").stdout)
    assert set(info["per_challenge"]) == {str(c) for c in range(21)}
    assert info["per_status"] == {"ok": 84} and info["sample_rates"] == {"16000": 84}
    manifest = read_manifest(out)
    assert manifest["kind"] == "fakes" and manifest["complete"] and manifest["simulated"]
    assert manifest["corpus"]["content_hash"] == read_manifest(sim_corpus)["content_hash"]


def test_cli_streaming_run_reports_chunks(sim_corpus, tmp_path):
    out = tmp_path / "stream"
    res = run_bench("generate", "--corpus", str(sim_corpus), "--out", str(out), "--challenges", "0",
                    "--streaming", "--chunk-ms", "200", "--workers", "1")
    assert res.returncode == 0, res.stderr
    s = read_manifest(out)["streaming"]
    assert s["chunk_ms"] == 200 and s["algorithmic_delay_ms"] == 200 and s["chunks"] > 10
    assert "streaming: 200 ms chunks" in res.stdout


@pytest.mark.parametrize("args, needle", [
    (("--corpus", "/nonexistent/c"), "no such directory"),
    (("--generator", "nope"), "unknown generator 'nope'"),
    (("--pairs-per-source", "many"), "--pairs-per-source"),
    (("--streaming", "--chunk-ms", "0"), "--chunk-ms"),
    (("--param", "novalue"), "KEY=VALUE"),
])
def test_cli_generate_bad_input(sim_corpus, tmp_path, args, needle):
    base = {"--corpus": str(sim_corpus), "--out": str(tmp_path / "o")}
    argv = ["generate"]
    for k, v in base.items():
        if k not in args:
            argv += [k, v]
    res = run_bench(*argv, *args)
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 2 and len(lines) == 1 and needle in lines[0], res.stderr


def test_fakes_are_refused_as_corpus(sim_corpus, tmp_path):
    generate(sim_corpus, tmp_path / "f", challenges=[0])
    res = run_bench("generate", "--corpus", str(tmp_path / "f"), "--out", str(tmp_path / "g"))
    assert res.returncode == 2 and "fakes dataset" in res.stderr


@pytest.mark.slow
def test_resume_after_kill_9_equals_uninterrupted_run(sim_corpus, tmp_path):
    common = ["--corpus", str(sim_corpus), "--pairs-per-source", "all", "--workers", "2"]
    reference = tmp_path / "reference"
    assert run_bench("generate", *common, "--out", str(reference)).returncode == 0

    out = tmp_path / "interrupted"
    proc = subprocess.Popen([sys.executable, "-m", "bench", "generate", *common, "--out", str(out)], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and len(list((out / "journal").glob("*.json"))) < 20:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = len(list((out / "journal").glob("*.json")))
    assert 0 < done_before < 84, "the kill should land mid-run"
    assert not (out / "state.json").exists()

    res = run_bench("generate", *common, "--out", str(out))
    assert res.returncode == 0, res.stderr
    a, b = open_dataset(reference), open_dataset(out)
    assert len(b) == 84 and len(set(b["utterance_id"])) == 84
    assert content_hash(a) == content_hash(b)
    assert not list(out.rglob("*.tmp"))
    by_id = {r["utterance_id"]: r for r in a}
    for rb in b:
        ra = by_id[rb["utterance_id"]]
        assert ra["audio"]["bytes"] == rb["audio"]["bytes"]


def test_more_reference_audio_adds_the_targets_other_sentences_never_the_sources(rows, tmp_path):
    """--reference-seconds: the target's other challenge-0 recordings join the reference (recorded per fake),
    none of a sentence the source says; the converter then hears more of the target (other output)."""
    from bench.runs.generate import Pair, extra_references

    by_id = {r["utterance_id"]: r for r in rows}
    ref = next(r for r in rows if (r["subject"], r["challenge"], r["sentence_id"]) == ("spk001", 0, 4))
    src = next(r for r in rows if (r["subject"], r["challenge"], r["sentence_id"]) == ("spk000", 0, 0))
    pair = Pair("x", src["utterance_id"], ref["utterance_id"], "spk000", "spk001")
    other = next(r["utterance_id"] for r in rows
                 if (r["subject"], r["challenge"], r["sentence_id"]) == ("spk001", 0, 3))
    assert list(extra_references([pair], by_id, 30.0)) == [other]
    assert extra_references([pair], by_id, 1.0) == {}  # one sentence is already long enough
    said = {**by_id, src["utterance_id"]: {**src, "sentence_id": 3}}  # the source now says the target's sentence 3
    assert extra_references([pair], said, 30.0) == {}
    assert extra_references([pair], by_id, 30.0, bad_references={other: "clipped"}) == {}

    keep = [r for r in rows if r["challenge"] == 0]
    save(build_dataset(keep), tmp_path / "c", {"kind": "corpus", "name": "zero"})
    one = generate(tmp_path / "c", tmp_path / "one", workers=1)
    more = generate(tmp_path / "c", tmp_path / "more", workers=1, reference_seconds=30.0)
    assert "extra_references" not in one and more["params"]["reference_seconds"] == 30.0
    assert set(more["extra_references"]) == {r["utterance_id"] for r in open_dataset(tmp_path / "more")}
    a = {r["utterance_id"]: load_entry(r["audio"]) for r in open_dataset(tmp_path / "one")}
    b = {r["utterance_id"]: load_entry(r["audio"]) for r in open_dataset(tmp_path / "more")}
    assert a.keys() == b.keys() and any(not np.array_equal(a[k], b[k]) for k in a)
    bad = run_bench("generate", "--corpus", str(tmp_path / "c"), "--out", str(tmp_path / "x"), "--reference-seconds",
                    "0")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and not (tmp_path / "x").exists()
