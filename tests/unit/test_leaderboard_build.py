"""The leaderboard's building blocks in this process: a results document's schema round trip, a detector's score
caveats on its row, and the quoted papers' series beside our system of the same paper name."""

from __future__ import annotations

import json

import pytest

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
    doc["corpus"]["content_hash"] = "pstn-hash"
    (tmp_path / "pstn").mkdir()
    (tmp_path / "pstn" / "result.json").write_text(json.dumps(doc))
    build([tmp_path / "pstn", b], tmp_path / "lb")
    entries = json.loads((tmp_path / "lb" / "leaderboard.json").read_text())["entries"]
    assert sorted(e["channel"] for e in entries) == ["clean", "pstn-g711u"]


def test_the_board_shows_each_system_per_channel_with_its_drop_from_clean(two_results, tmp_path):
    """Results on the same data through telephone channels: a table per (system, generator) with clean and each
    channel, the drop from clean in points; a board of clean results only has no such table."""
    from bench.leaderboard.build import build

    a, _ = two_results
    doc = json.loads(a.read_text())
    for name, profile, auroc in (("clean", None, 0.90), ("pstn", "pstn-g711u", 0.75), ("amr", "mobile-amr-nb", 0.6)):
        d = json.loads(json.dumps(doc))
        if profile:
            d["corpus"]["channel"] = {"profile": profile, "chain": {}, "seed": 0}
            d["corpus"]["content_hash"] = f"{profile}-hash"  # a channel makes other recordings
        d["overall"]["auroc"]["value"] = auroc
        (tmp_path / name).mkdir()
        (tmp_path / name / "result.json").write_text(json.dumps(d))
    board = build([tmp_path / n for n in ("clean", "pstn", "amr")], tmp_path / "lb")
    table = board["channels"]
    assert table["channels"] == ["clean", "mobile-amr-nb", "pstn-g711u"] and len(table["rows"]) == 1
    cells = table["rows"][0]["cells"]
    assert cells["clean"]["drop"] is None
    assert cells["pstn-g711u"]["drop"] == pytest.approx(0.15) and cells["mobile-amr-nb"]["drop"] == pytest.approx(0.3)
    readme = (tmp_path / "lb" / "README.md").read_text()
    assert "## Over the phone" in readme and "(drop +15.0)" in readme and "(drop +30.0)" in readme
    page = (tmp_path / "lb" / "index.html").read_text()
    assert "<table id=channels>" in page and " via pstn-g711u" in page and " / mobile-amr-nb</small>" in page
    # the ranking and the per-challenge grid tell the channels apart: which challenges survive the phone line
    header = next(line for line in readme.splitlines() if line.startswith("| challenge |"))
    assert header.count(" / pstn-g711u") == 1 and header.count(" / mobile-amr-nb") == 1
    assert sum(" via pstn-g711u" in line for line in readme.splitlines() if line.startswith("| ")) == 1
    clean_only = build([tmp_path / "clean"], tmp_path / "lb2")
    assert "channels" not in clean_only and "Over the phone" not in (tmp_path / "lb2" / "README.md").read_text()
