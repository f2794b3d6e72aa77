"""`bench leaderboard build` and `push` (Markdown/HTML/JSON/figures) and `bench gate`, run as whole CLI commands
on results documents made by tests.helpers.results."""

from __future__ import annotations

import json

from tests.helpers.cli import run_bench
from tests.helpers.results import make_result


def test_build_writes_all_outputs(two_results, tmp_path):
    out = tmp_path / "lb"
    res = run_bench("leaderboard", "build", str(two_results[0]), str(two_results[1].parent), "--out", str(out))
    assert res.returncode == 0, res.stderr
    doc = json.loads((out / "leaderboard.json").read_text())
    assert [e["generator"] for e in doc["entries"]] == ["world", "freevc"]  # ranked by AUROC
    assert doc["entries"][0]["rank"] == 1 and doc["entries"][0]["simulated"] is True
    md = (out / "README.md").read_text()
    assert "simulated" in md and "Quoted from the papers" in md and "88.7" in md
    page = (out / "index.html").read_text()
    assert page.count("<svg") >= 4 and "gen-filter" in page and "<script src" not in page
    for fig in ("roc.svg", "det.svg", "latency_cdf.svg"):
        assert (out / "figures" / fig).is_file()
    # quoted rows are never in the ranking
    assert all("quoted" not in e["detector"] for e in doc["entries"])


def test_paper_reference_rows_on_page_and_json(two_results, tmp_path):
    """Pitch Table 3 and Table A.3 are shown as printed; detector columns keyed by detector name; ours on the
    paper's top-10 beside the paper's 88.7."""
    out = tmp_path / "lb"
    assert run_bench("leaderboard", "build", *map(str, two_results), "--out", str(out)).returncode == 0
    doc = json.loads((out / "leaderboard.json").read_text())
    ref = doc["paper_reference"]
    assert ref["pitch_tables"]["Table 3"]["rows"]["3"]["auroc"] == 92
    assert ref["pitch_tables"]["Table A.3"]["rows"]["3"]["lfcc_lcnn"] == 84.8
    assert {"pitch", "lfcc-lcnn", "specrnet"} <= {s["detector"] for s in ref["pitch_series"]}
    assert ref["pitch_top10"] == [1, 2, 3, 5, 9, 12, 14, 18, 19, 20]
    assert all(e["paper_top10_auroc"] is not None and e["paper"]["top10_auroc"] == 0.887 for e in doc["entries"])
    page = (out / "index.html").read_text()
    assert "id='paper-table-3'" in page and "id='paper-table-a3'" in page
    assert "LCNN AUROC (%)" in page and "inferred" in page and "paper's top-10 (#1" in page
    md = (out / "README.md").read_text()
    assert "## Pitch Table 3 (quoted)" in md and "## Pitch Table A.3 (quoted)" in md
    whisper = next(line for line in md.splitlines() if line.startswith("| #3 Whisper |"))
    # the quoted Pitch series sit beside our pitch rows; LCNN and SpecRNet (no row of ours here) come last
    assert whisper.endswith("| 92.0 | 90.7 | 95.9 | 84.8 | 90.1 |")


def test_push_to_folder_and_unreachable_hub(two_results, tmp_path):
    out = tmp_path / "lb"
    run_bench("leaderboard", "build", str(two_results[0]), "--out", str(out))
    res = run_bench("leaderboard", "push", str(out), "--to-folder", str(tmp_path / "space"), "--repo-type", "space")
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "space" / "README.md").read_text().startswith("---\ntitle")
    env = {"HF_ENDPOINT": "http://127.0.0.1:9", "HF_TOKEN": "x"}
    res = run_bench("leaderboard", "push", str(out), "--repo-id", "me/board", env=env)
    assert res.returncode == 2 and "cannot push leaderboard" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_gate_passes_on_baseline_and_fails_on_lowered_auroc(two_results, tmp_path):
    base = two_results[0]
    res = run_bench("gate", "--baseline", str(base), "--current", str(base))
    assert res.returncode == 0 and "PASS" in res.stdout
    doc = json.loads(base.read_text())
    doc["overall"]["auroc"].update(value=doc["overall"]["auroc"]["value"] - 0.15,
                                   ci_low=doc["overall"]["auroc"]["ci_low"] - 0.15,
                                   ci_high=doc["overall"]["auroc"]["ci_high"] - 0.15)
    worse = tmp_path / "worse.json"
    worse.write_text(json.dumps(doc))
    res = run_bench("gate", "--baseline", str(base), "--current", str(worse))
    assert res.returncode == 1 and "FAIL" in res.stdout and "overall AUROC" in res.stdout


def test_gate_ignores_drops_inside_the_ci(two_results, tmp_path):
    base = two_results[0]
    doc = json.loads(base.read_text())
    a = doc["overall"]["auroc"]
    a.update(value=a["value"] - 0.03, ci_high=a["value"] + 0.01)
    noisy = tmp_path / "noisy.json"
    noisy.write_text(json.dumps(doc))
    res = run_bench("gate", "--baseline", str(base), "--current", str(noisy), "--json")
    checks = {c["metric"]: c for c in json.loads(res.stdout)["checks"]}
    assert checks["overall AUROC"]["status"] == "noise" and res.returncode == 0
    res = run_bench("gate", "--baseline", str(base), "--current", str(noisy), "--no-ci-aware")
    assert res.returncode == 1


def test_gate_config_file_and_bad_input(two_results, tmp_path):
    base, other = two_results
    cfg = tmp_path / "gate.toml"
    cfg.write_text("[gate]\nauroc_drop = 0.5\neer_rise = 0.5\nper_challenge = false\n")
    assert run_bench("gate", "--baseline", str(base), "--current", str(other), "--config", str(cfg)).returncode == 0
    cfg.write_text("[gate]\nauroc_dorp = 0.5\n")
    res = run_bench("gate", "--baseline", str(base), "--current", str(other), "--config", str(cfg))
    assert res.returncode == 2 and "unknown gate setting" in res.stderr
    third = make_result(tmp_path / "c", separation=2.0, corpus_hash="zzz")
    res = run_bench("gate", "--baseline", str(base), "--current", str(third))
    assert res.returncode == 2 and "different corpora" in res.stderr
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**json.loads(base.read_text()), "schema_version": "0.1"}))
    res = run_bench("gate", "--baseline", str(bad), "--current", str(base))
    assert res.returncode == 2 and "schema version" in res.stderr
    res = run_bench("gate", "--baseline", str(tmp_path / "missing.json"), "--current", str(base))
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1


def test_in_sample_results_keep_their_caveat_and_are_not_ranked(two_results, tmp_path):
    """A result whose metrics include the detector's training speakers is shown with that caveat on every
    page and never ranked above (or among) results on held-out speakers."""
    a, b = two_results
    doc = json.loads(a.read_text())
    doc["evaluation_scope"] = {"excluded_speakers": [], "in_sample": True}
    doc["detector"]["name"] = "trained-on-test"
    (tmp_path / "insample").mkdir()
    (tmp_path / "insample" / "result.json").write_text(json.dumps(doc))
    out = tmp_path / "lb"
    res = run_bench("leaderboard", "build", str(tmp_path / "insample"), str(b), "--out", str(out))
    assert res.returncode == 0, res.stderr
    entries = json.loads((out / "leaderboard.json").read_text())["entries"]
    flagged = next(e for e in entries if e["detector"] == "trained-on-test")
    clean = next(e for e in entries if e["detector"] != "trained-on-test")
    assert flagged["auroc"] > clean["auroc"]  # it would have ranked first
    assert clean["rank"] == 1 and flagged["rank"] is None and "in-sample" in flagged["caveats"][0]
    assert entries[0]["detector"] != "trained-on-test"
    for page in ("README.md", "index.html"):
        text = (out / page).read_text()
        assert "in-sample: metrics include speakers the detector was trained on" in text and "unranked" in text
