"""`bench human simulate` and `bench human report` through the real CLI (issue #25): simulated ratings of a
result's calls, the report with Pitch's numbers quoted beside ours, cross-fitting, and bad input."""

from __future__ import annotations

import json
import os
import stat

import pandas as pd
import pytest

from bench.evaluation.results import read_scores, write_scores
from bench.human.ratings import read_ratings
from bench.runs.human_report import machine_view
from tests.helpers.cli import assert_bad_input, invoke
from tests.helpers.results import make_result


@pytest.fixture
def result(tmp_path):
    return make_result(tmp_path / "result", separation=2.0).parent


def test_simulate_then_report(result, tmp_path, capfd):
    res = invoke(["human", "simulate", "--result", str(result), "--out", str(tmp_path / "sim")], capfd)
    assert res.code == 0, res.stderr
    ratings = tmp_path / "sim" / "ratings.csv"
    rows = read_ratings(ratings)
    assert len(rows) == 3 * 320 and all(r.simulated == 1 for r in rows)
    assert stat.S_IMODE(os.stat(ratings).st_mode) == 0o600
    res = invoke(["human", "report", "--result", str(result), "--ratings", str(ratings), "--out",
                  str(tmp_path / "rep"), "--target-accuracy", "0.5", "--json"], capfd)
    assert res.code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["simulated_ratings"] and doc["samples"] == 320 and doc["raters"] == 12
    assert [f["calls"] for f in doc["calibration"]["folds"]] == [160, 160]
    assert 0 <= doc["calibration"]["pooled"]["ece"] <= 1 and doc["routing"]["best"]["accuracy"] > 0.5
    assert sum(r["count"] for r in doc["scenarios"]["rows"]) == doc["scenarios"]["responses"] == 960
    assert {t["challenge"] for t in doc["per_challenge"]} == {0, 3, 5, 19}
    readme = (tmp_path / "rep" / "README.md").read_text()
    assert "SIMULATED raters" in readme and "simulated speech" in readme
    assert "(Pitch, 20 challenges: 74.7, quoted)" in readme and 0.5 < doc["human_auroc"]["all"] <= 1
    assert "| Pitch, quoted | 44 | 56 | 84.5 |" in readme and "[52.2]" in readme  # Table 4 #0 vanilla, quoted
    assert "| Correct Agreement | ✓ | ✓ | ✓ |" in readme and "| 5362 |" in readme
    assert doc["routing"]["at_accuracy"]["accuracy"] >= 0.5 and "| accuracy >= 50.0 % |" in readme
    row0 = next(line for line in readme.splitlines() if line.startswith("| #0 |") and "[0.22]" in line)
    assert "[0.17]" in row0  # Table A.3's #0: NISQA vs human 0.17, human vs human 0.22, quoted


def test_each_fold_is_fitted_without_its_own_calls(result, tmp_path):
    """Changing the scores of fold 0's speakers leaves fold 0's threshold and temperature as they were (they
    were fitted on fold 1) and changes fold 1's."""
    before = machine_view(result).groupby("fold")[["threshold", "temperature"]].first()
    rows = read_scores(result / "scores.parquet")
    for r in rows:
        if r["source_subject"] in ("s0", "s2"):  # sorted speakers s0..s3: fold 0 holds s0 and s2
            r["score"] = r["score"] * 0.5 + (0.3 if r["label"] else 0.0)
    write_scores(result / "scores.parquet", rows)
    after = machine_view(result).groupby("fold")[["threshold", "temperature"]].first()
    pd.testing.assert_series_equal(before.loc[0], after.loc[0])
    assert not before.loc[1].equals(after.loc[1])


def test_bad_input_is_one_line_and_writes_nothing(result, tmp_path, capfd):
    ratings = tmp_path / "ratings.csv"
    header = ("sample_id,rater,compliance,realism,initial_decision,initial_confidence,machine_verdict,"
              "rationale_shown,final_decision,final_confidence,simulated\n")
    cases = [("unknown sample", "nope,a,1,3,real,70,,0,,,0\n", "not in the rated subset"),
             ("realism out of range", "0-0-0,a,1,9,real,70,,0,,,0\n", "line 2, realism"),
             ("verdict without a final decision", "0-0-0,a,1,3,real,70,fake,0,,,0\n", "given together")]
    for label, line, needle in cases:
        ratings.write_text(header + line)
        res = invoke(["human", "report", "--result", str(result), "--ratings", str(ratings), "--out",
                      str(tmp_path / "rep")], capfd)
        assert_bad_input(res, needle, label)
        assert not (tmp_path / "rep").exists(), label
    res = invoke(["human", "simulate", "--result", str(tmp_path), "--out", str(tmp_path / "sim")], capfd)
    assert_bad_input(res, "not a bench evaluate result")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    res = invoke(["human", "simulate", "--result", str(result), "--out", str(tmp_path / "mine")], capfd)
    assert res.code == 2 and (tmp_path / "mine" / "notes.txt").read_text() == "keep"
    assert not (tmp_path / "mine" / "ratings.csv").exists()


def test_the_leaderboard_shows_the_report_and_refuses_a_malformed_one(result, tmp_path, capfd):
    assert invoke(["human", "simulate", "--result", str(result), "--out", str(tmp_path / "sim")], capfd).code == 0
    assert invoke(["human", "report", "--result", str(result), "--ratings", str(tmp_path / "sim" / "ratings.csv"),
                   "--out", str(tmp_path / "rep")], capfd).code == 0
    res = invoke(["leaderboard", "build", str(result), "--human", str(tmp_path / "rep"), "--out",
                  str(tmp_path / "lb")], capfd)
    assert res.code == 0, res.stderr
    readme = (tmp_path / "lb" / "README.md").read_text()
    assert "## Human and machine: pitch-lite" in readme and "SIMULATED raters" in readme
    assert "### Machine-assisted decisions (Pitch Table 5)" in readme and "| Pitch, quoted | 44 | 56 | 84.5 |" in readme
    page = (tmp_path / "lb" / "index.html").read_text()
    assert all(f"<table id={t}>" in page for t in ("human-routing", "human-table4", "human-table5",
                                                      "human-reliability"))
    assert (tmp_path / "lb" / "figures" / "human_0.svg").is_file()
    doc = json.loads((tmp_path / "rep" / "human.json").read_text())
    del doc["routing"]
    (tmp_path / "bad.json").write_text(json.dumps(doc))
    res = invoke(["leaderboard", "build", str(result), "--human", str(tmp_path / "bad.json"), "--out",
                  str(tmp_path / "lb2")], capfd)
    assert_bad_input(res, "malformed human report")
    assert not (tmp_path / "lb2").exists()


def test_the_rating_server_refuses_what_it_should(tmp_path, capfd):
    """Loopback only, a token in every path, bodies capped, only the current call's answer, validated; an answer
    saved is 0600; a subset that is not one is one line."""
    import urllib.error
    import urllib.request

    import numpy as np

    from bench.audio import encode_wav
    from bench.runs.rate import MAX_BODY, Item, RatingSession, make_server

    wav = encode_wav(np.zeros(16000, dtype=np.float32))
    items = [Item(f"s{i}", 3, "Whisper", "Whisper the sentence.", {"bytes": wav}, bool(i % 2), 0.4) for i in range(2)]
    session = RatingSession(items, "r", tmp_path / "ratings.csv")
    server, url = make_server(session)
    import threading

    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    serving.start()

    def post(path: str, body: bytes) -> tuple[int, dict]:
        req = urllib.request.Request(url + path, data=body, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    try:
        assert url.startswith("http://127.0.0.1:")
        forbidden = url.rsplit("/", 2)[0] + "/not-the-token/api/status"
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(forbidden, timeout=10)
        assert e.value.code == 403
        cur = session.status()["sample_id"]
        other = next(i.sample_id for i in items if i.sample_id != cur)
        good = {"sample_id": cur, "compliance": 1, "realism": 3, "initial_decision": "real", "initial_confidence": 70}
        assert post("api/initial", json.dumps({**good, "sample_id": other}).encode())[0] == 400
        assert post("api/initial", b"x" * (MAX_BODY + 1))[0] == 413
        assert post("api/initial", json.dumps({**good, "realism": 0}).encode()) == (400, {
            "error": "realism: Input should be greater than or equal to 1"})
        assert post("api/final", json.dumps({"sample_id": cur, "final_decision": "real",
                                             "final_confidence": 70}).encode())[0] == 400  # no initial yet
        code, verdict = post("api/initial", json.dumps(good).encode())
        assert code == 200 and verdict["verdict"] == ("fake" if cur == "s1" else "real")
        code, nxt = post("api/final", json.dumps({"sample_id": cur, "final_decision": "fake",
                                                  "final_confidence": 55}).encode())
        assert code == 200 and nxt["rated"] == 1 and nxt["sample_id"] == other
        assert post("api/initial", json.dumps({**good, "sample_id": other}).encode())[0] == 200
        code, last = post("api/final", json.dumps({"sample_id": other, "final_decision": "real",
                                                   "final_confidence": 90}).encode())
        assert code == 200 and last == {"done": True, "rated": 2, "total": 2}
        serving.join(timeout=10)
        assert not serving.is_alive()  # every call rated: the server stopped itself
    finally:
        server.shutdown()
        server.server_close()
    assert stat.S_IMODE(os.stat(tmp_path / "ratings.csv").st_mode) == 0o600
    assert len(read_ratings(tmp_path / "ratings.csv")) == 2
    res = invoke(["rate", "--subset", str(tmp_path), "--result", str(tmp_path), "--rater", "r", "--out",
                  str(tmp_path / "out")], capfd)
    assert_bad_input(res, "not a bench data subset folder")


def test_calls_out_of_the_results_scope_are_left_out(result):
    """Calls of speakers the detector trained on (in_scope false) are out of the result's metrics, and of the
    human-AI analysis too."""
    rows = read_scores(result / "scores.parquet")
    for r in rows:
        r["in_scope"] = r["source_subject"] != "s0"
    write_scores(result / "scores.parquet", rows)
    view = machine_view(result)
    assert len(view) == sum(r["in_scope"] for r in rows) == 240 and set(view.fold_by) == {"speaker"}
    # one speaker left in scope: the folds split the calls instead, and say so
    for r in rows:
        r["in_scope"] = r["source_subject"] == "s1"
    write_scores(result / "scores.parquet", rows)
    view = machine_view(result)
    assert len(view) == 80 and set(view.fold_by) == {"call"} and view.groupby("fold").size().tolist() == [40, 40]
