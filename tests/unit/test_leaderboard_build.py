"""The leaderboard's building blocks in this process: a results document's schema round trip, a detector's score
caveats on its row, and the quoted papers' series beside our system of the same paper name."""

from __future__ import annotations

import json

from bench.evaluation.results import load_result


def test_results_schema_roundtrip(two_results):
    r = load_result(two_results[0])
    assert r.schema_version == "1.2" and r.taxonomy_version == 2 and r.per_challenge[0].challenge == 0


def test_a_detectors_score_caveats_are_shown_on_its_row(two_results, tmp_path):
    """bench evaluate records Detector.score_caveats() in evaluation_scope; the row shows them as caveats
    (still ranked: they qualify what the score means, unlike in-sample metrics)."""
    from bench.leaderboard.build import build

    a, b = two_results
    doc = json.loads(a.read_text())
    doc["evaluation_scope"] = {"excluded_speakers": [], "score_caveats": ["closed set: unenrolled voices score high"]}
    (tmp_path / "closed").mkdir()
    (tmp_path / "closed" / "result.json").write_text(json.dumps(doc))
    build([tmp_path / "closed", b], tmp_path / "lb")
    entries = json.loads((tmp_path / "lb" / "leaderboard.json").read_text())["entries"]
    flagged = next(e for e in entries if e["caveats"])
    assert flagged["caveats"] == ["closed set: unenrolled voices score high"] and flagged["rank"] is not None
    assert "closed set: unenrolled voices score high" in (tmp_path / "lb" / "README.md").read_text()


def test_quoted_series_sit_beside_our_system_of_the_same_paper_name():
    from bench.leaderboard.build import heatmap_columns

    rows = [{"system": "lfcc-lcnn (m@1)", "paper_name": "lfcc-lcnn"}, {"system": "pitch-lite", "paper_name": "pitch"},
            {"system": "lfcc-lcnn (m@2)", "paper_name": "lfcc-lcnn"}, {"system": "svm", "paper_name": None}]
    series = [{"detector": "pitch", "system": "P"}, {"detector": "lfcc-lcnn", "system": "L"},
              {"detector": "specrnet", "system": "S"}]
    order = [c["system"] for _, c in heatmap_columns(rows, series)]
    assert order == ["lfcc-lcnn (m@1)", "pitch-lite", "P", "lfcc-lcnn (m@2)", "L", "svm", "S"]


def test_a_row_names_the_telephone_channel_its_recordings_went_through(two_results, tmp_path):
    from bench.leaderboard.build import build

    a, b = two_results
    doc = json.loads(a.read_text())
    doc["corpus"]["channel"] = {"profile": "pstn-g711u", "chain": {"codec": "g711u"}, "seed": 0}
    (tmp_path / "pstn").mkdir()
    (tmp_path / "pstn" / "result.json").write_text(json.dumps(doc))
    build([tmp_path / "pstn", b], tmp_path / "lb")
    entries = json.loads((tmp_path / "lb" / "leaderboard.json").read_text())["entries"]
    assert sorted(e["channel"] for e in entries) == ["clean", "pstn-g711u"]
