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


def test_the_board_crosses_each_trained_model_with_each_generator(two_results, tmp_path):
    """Results of models whose training data evaluate recorded (evaluation_scope.training_data): one row per model,
    one column per tested generator, in-domain cells marked and the others' drop from in-domain in points; a
    published model trained on none of bench's generators has no in-domain cell; rows without training data
    (a rule-based detector) and boards with one generator have no such table."""
    from bench.leaderboard.build import build

    a, _ = two_results
    doc = json.loads(a.read_text())
    plan = [("svm-w-world", "svm", "svm-w", ["world"], "world", 0.97),
            ("svm-w-hifi", "svm", "svm-w", ["world"], "world-hifigan", 0.61),
            ("svm-m-world", "svm", "svm-m", ["world", "world-hifigan"], "world", 0.95),
            ("svm-m-hifi", "svm", "svm-m", ["world", "world-hifigan"], "world-hifigan", 0.90),
            ("aasist-hifi", "aasist", "aasist-asvspoof2019", [], "world-hifigan", 0.55)]
    for folder, det, model, trained, generator, auroc in plan:
        d = json.loads(json.dumps(doc))
        d["detector"] = {"name": det, "version": "1", "config": {"model": model}}
        d["profile"] = None
        d["generator"] = {"name": generator, "version": "1", "config": {}}
        d["fakes"]["content_hash"] = f"{generator}-hash"
        d["evaluation_scope"] = {"excluded_speakers": [], "training_data": {
            "generators": trained, "summary": "ASVspoof 2019 LA train" if not trained else "bench fakes"}}
        d["overall"]["auroc"]["value"] = auroc
        d["per_challenge"][0]["auroc"].update(value=auroc - 0.1, ci_low=auroc - 0.2, ci_high=auroc)
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "result.json").write_text(json.dumps(d))
    board = build([tmp_path / p[0] for p in plan], tmp_path / "lb")
    table = board["cross_generator"]
    assert table["generators"] == ["world", "world-hifigan"]
    rows = {r["system"]: r for r in table["rows"]}
    assert set(rows) == {"svm (svm-w)", "svm (svm-m)", "aasist (aasist-asvspoof2019)"}
    w = rows["svm (svm-w)"]["cells"]
    assert w["world"]["in_domain"] and w["world"]["drop"] is None
    assert not w["world-hifigan"]["in_domain"] and w["world-hifigan"]["drop"] == pytest.approx(0.36)
    m = rows["svm (svm-m)"]["cells"]
    assert m["world"]["in_domain"] and m["world-hifigan"]["in_domain"]
    z = rows["aasist (aasist-asvspoof2019)"]
    assert z["trained_on"] == "ASVspoof 2019 LA train" and z["cells"]["world"] is None
    assert z["cells"]["world-hifigan"]["drop"] is None and not z["cells"]["world-hifigan"]["in_domain"]
    readme = (tmp_path / "lb" / "README.md").read_text()
    assert "## Across generators" in readme and "(drop +36.0)" in readme and "(in-domain)" in readme
    assert "<table id=cross-generator>" in (tmp_path / "lb" / "index.html").read_text()
    # per challenge: each cell's challenge AUROC with its CI, a dash where a generator has no such fakes
    first = doc["per_challenge"][0]["challenge"]
    assert w["world-hifigan"]["per_challenge"][first]["auroc"] == pytest.approx(0.51)
    assert w["world-hifigan"]["per_challenge"][first]["ci"] == pytest.approx([0.41, 0.61])
    name = next(c["name"] for c in table["challenges"] if c["id"] == first)
    assert f"| svm (svm-w) | world | #{first} {name} | 87.0 [77.0, 97.0] | 51.0 [41.0, 61.0] |" in readme
    assert f"| aasist (aasist-asvspoof2019) | ASVspoof 2019 LA train | #{first} {name} | – | 45.0 [35.0, 55.0] |" \
        in readme
    assert "<table id=cross-generator-challenges>" in (tmp_path / "lb" / "index.html").read_text()
    one = build([tmp_path / "svm-w-world", tmp_path / "svm-m-world"], tmp_path / "lb2")
    assert "cross_generator" not in one and "Across generators" not in (tmp_path / "lb2" / "README.md").read_text()


def test_generators_side_by_side_from_pitch_style_results(two_results, tmp_path):
    """Two generators' fakes scored by a Pitch-style detector: one row each with the #0 AUROC beside Pitch's quoted
    56%, the fakes' WIL / MOS / speaker similarity beside the originals' (means of the per-sample columns), and
    the generation speed evaluate recorded; results without those columns make no such table."""
    from bench.evaluation.results import read_scores, write_scores
    from bench.leaderboard.build import build

    for path, wil_fake, speed in ((two_results[0], 0.8, 30.0), (two_results[1], 0.6, None)):
        rows = read_scores(path.parent / "scores.parquet")
        for r in rows:
            r["content"] = wil_fake if r["label"] else 0.5
            r["realism.mos"] = 2.5 if r["label"] else 3.0
            r["speaker.similarity"] = 0.7 if r["label"] else 0.9
        write_scores(path.parent / "scores.parquet", rows)
        if speed:
            doc = json.loads(path.read_text())
            doc["fakes"]["generation"] = {"audio_s": 60.0, "compute_s": 2.0, "x_real_time_per_worker": speed,
                                          "streaming": None}
            path.write_text(json.dumps(doc))
    board = build([p.parent for p in two_results], tmp_path / "lb")
    rows = {g["generator"]: g for g in board["generators"]["rows"]}
    assert set(rows) == {"world", "freevc"}
    w = rows["world"]
    assert w["wil_fake"] == pytest.approx(0.8) and w["wil_orig"] == pytest.approx(0.5)
    assert w["mos_fake"] == pytest.approx(2.5) and w["speaker_orig"] == pytest.approx(0.9)
    assert w["paper_auroc0"] == pytest.approx(0.56) and w["x_real_time"] == 30.0
    assert rows["freevc"]["x_real_time"] is None
    readme = (tmp_path / "lb" / "README.md").read_text()
    assert "## Generators side by side" in readme and "56.0 (quoted)" in readme and "30.00x" in readme
    assert "<table id=generators>" in (tmp_path / "lb" / "index.html").read_text()
    for path in two_results:  # plain detector scores: no Pitch columns
        rows = [{k: v for k, v in r.items() if k not in ("content", "realism.mos", "speaker.similarity")}
                for r in read_scores(path.parent / "scores.parquet")]
        write_scores(path.parent / "scores.parquet", rows)
    assert "generators" not in build([p.parent for p in two_results], tmp_path / "lb2")
