"""`bench evaluate` end to end on real components, its caches, the hard subset, and bad input."""

from __future__ import annotations

import json
import shutil

import pyarrow.parquet as pq
import pytest

from bench.evaluation.results import load_result
from tests.helpers.cli import run_bench
from tests.helpers.paths import SHARED


@pytest.mark.slow
def test_evaluate_writes_valid_results_and_scores(evaluated):
    root, res = evaluated
    result = load_result(root / "result" / "result.json")  # validates against the schema
    assert result.simulated and result.detector.name == "pitch-lite"
    assert [c.challenge for c in result.per_challenge] == list(range(21))
    assert all(c.auroc.value is not None and c.n_fake > 0 and c.n_bona_fide > 0 for c in result.per_challenge)
    assert result.evaluation_scope["excluded_speakers"]  # the classifiers' training speaker is not scored
    assert {"asr", "realism", "speaker", "compliance"} <= set(result.timings["components"])
    rows = pq.read_table(root / "result" / "scores.parquet").to_pylist()
    assert len(rows) == 84 * 2
    for r in rows:
        assert 0.0 <= r["score"] <= 1.0 and 1.0 <= r["realism.mos"] <= 5.0
        assert (r["compliance.p"] is None) == (r["challenge"] == 0)
        assert (r["content"] is None) == (r["challenge"] == 16)
    assert "AUROC % [95% CI]" in res.stdout and "paper AUROC" in res.stdout
    # the paper beside ours: Pitch Table 3 per challenge, and its top-10 pooled AUROC beside ours on the same ten
    assert result.taxonomy_version == 2 and result.paper.source == "Pitch Table 3"
    by_id = {c.challenge: c for c in result.per_challenge}
    assert by_id[3].key == "whisper" and by_id[3].paper_auroc == pytest.approx(0.92) and by_id[15].paper_auroc is None
    assert result.paper.top10 == [1, 2, 3, 5, 9, 12, 14, 18, 19, 20] and result.paper_top10_auroc.value is not None
    assert "ours pooled" in res.stdout and "vs the paper's 88.7" in res.stdout
    rows = {line.split("│")[2].strip(): line for line in res.stdout.splitlines() if line.count("│") > 9}
    assert rows["Whisper"].rstrip(" │").endswith("92.0") and rows["Cup mouth"].rstrip(" │").endswith("97.0")
    # no conclusions from noise: 1 held-out speaker x 2 sentences per challenge ranks nothing
    assert result.ranking.ranked == [] and result.top_challenges == [] and len(result.ranking.too_wide) == 21
    assert "not ranked" in res.stdout


@pytest.mark.slow
@pytest.mark.weights("models/nisqa/nisqa.tar")
def test_rerun_with_another_realism_model_reuses_the_other_caches(evaluated, sim_corpus):
    root, _ = evaluated
    weights = SHARED / "models" / "nisqa" / "nisqa.tar"
    if not weights.is_file():
        pytest.skip("NISQA weights not in ../shared/models/nisqa")
    cache = root / "result" / "cache"
    before = {p.name: sorted(x.name for x in p.glob("part-*")) for p in cache.iterdir()}
    res = run_bench("evaluate", "--detector", "pitch-lite", "--corpus", str(sim_corpus), "--fakes",
                    str(root / "fakes"), "--compliance", str(root / "compliance"), "--out", str(root / "result2"),
                    "--cache", str(cache), "--param", "realism=nisqa", "--param", f"nisqa_weights={weights}",
                    "--workers", "2", "--bootstrap", "100")
    assert res.returncode == 0, res.stderr
    after = {p.name: sorted(x.name for x in p.glob("part-*")) for p in cache.iterdir()}
    new = set(after) - set(before)
    assert len(new) == 1 and next(iter(new)).startswith("realism-")
    assert all(after[k] == v for k, v in before.items())  # ASR, speaker and compliance were not recomputed
    assert json.loads((root / "result2" / "result.json").read_text())["components"]["realism"]["config"][
        "backend"] == "nisqa"


@pytest.mark.slow
def test_hard_subset_is_balanced(evaluated, sim_corpus):
    root, _ = evaluated
    res = run_bench("data", "subset", "--hard", "--result", str(root / "result"), "--corpus", str(sim_corpus),
                    "--fakes", str(root / "fakes"), "--out", str(root / "hard"), "--match", "0.25",
                    "--per-challenge", "2")
    assert res.returncode == 0, res.stderr
    real = json.loads(run_bench("data", "info", str(root / "hard" / "corpus"), "--json").stdout)
    fake = json.loads(run_bench("data", "info", str(root / "hard" / "fakes"), "--json").stdout)
    assert real["per_challenge"] == fake["per_challenge"] and fake["rows"] > 0


@pytest.mark.slow
def test_evaluate_bad_input(evaluated, sim_corpus, tmp_path):
    root, _ = evaluated
    other = tmp_path / "other"
    shutil.copytree(sim_corpus, other)
    manifest = json.loads((other / "bench.json").read_text())
    manifest["content_hash"] = "0000000000000000"
    (other / "bench.json").write_text(json.dumps(manifest))
    cases = [
        (("--corpus", str(other), "--fakes", str(root / "fakes")), "generated from another corpus"),
        (("--corpus", str(root / "fakes"), "--fakes", str(root / "fakes")), "is a fakes dataset"),
        (("--corpus", str(sim_corpus), "--fakes", str(sim_corpus)), "not a fakes dataset"),
        (("--corpus", str(tmp_path / "none"), "--fakes", str(root / "fakes")), "no such directory"),
        (("--corpus", str(sim_corpus), "--fakes", str(root / "fakes"), "--detector", "nope"), "unknown detector"),
    ]
    for args, needle in cases:
        res = run_bench("evaluate", *args, "--out", str(tmp_path / "r"))
        lines = res.stderr.strip().splitlines()
        assert res.returncode == 2 and len(lines) == 1 and needle in lines[0], (args, res.stderr)


@pytest.mark.slow
def test_an_undecodable_fake_is_left_out_and_reported(evaluated, sim_corpus, tmp_path):
    """One corrupt row is reported on stderr and in the result, the rest is scored (from the shared cache)."""
    from bench.data.corpus import FAKE_FEATURES, build_dataset, open_dataset, read_manifest, save

    root, _ = evaluated
    rows = open_dataset(root / "fakes").to_list()
    bad_id = rows[0]["utterance_id"]
    rows[0] = {**rows[0], "audio": {"bytes": b"RIFF-not-audio", "path": None}}
    manifest = read_manifest(root / "fakes")
    save(build_dataset(rows, FAKE_FEATURES), tmp_path / "fakes", {**manifest, "name": "one-corrupt"})
    res = run_bench("evaluate", "--detector", "pitch-lite", "--corpus", str(sim_corpus), "--fakes",
                    str(tmp_path / "fakes"), "--compliance", str(root / "compliance"), "--out", str(tmp_path / "r"),
                    "--cache", str(root / "result" / "cache"), "--workers", "2", "--bootstrap", "50")
    assert res.returncode == 0, res.stderr
    assert "1 sample(s) left out (undecodable)" in res.stderr and bad_id in res.stderr
    result = load_result(tmp_path / "r" / "result.json")
    assert [s["utterance_id"] for s in result.evaluation_scope["skipped_samples"]] == [bad_id]
    assert "1 sample(s) could not be decoded and were left out (evaluation_scope)" in result.notes
    assert "score_caveats" not in result.evaluation_scope  # pitch-lite declares none
    scored = {r["utterance_id"] for r in pq.read_table(tmp_path / "r" / "scores.parquet").to_pylist()}
    assert bad_id not in scored and len(scored) == 84 * 2 - 1
