"""`bench tag` through the real CLI (issue #25): the tag, confidence and rationale of one call; the same score as
`bench evaluate` gave that call; the packaged calibration of a fresh install; bad input."""

from __future__ import annotations

import json
import math

import pytest

from bench.evaluation.results import read_scores
from tests.helpers.cli import assert_bad_input, invoke


def _tag(args: list[str], capfd) -> dict:
    res = invoke(["tag", *args, "--json"], capfd)
    assert res.code == 0, res.stderr
    return json.loads(res.stdout)


def test_a_tagged_call_scores_as_evaluate_scored_it(evaluated, sim_corpus, capfd):
    """With the evaluation's compliance classifiers and the call's script, the tag's score is the evaluation's
    score of that call, term by term: the tag is the detector, not a second implementation."""
    root, _ = evaluated
    rows = {r["utterance_id"]: r for r in read_scores(root / "result" / "scores.parquet")}
    from bench.data.corpus import open_dataset

    corpus = {r["utterance_id"]: r for r in open_dataset(sim_corpus).to_list()}
    uid = sorted(u for u, r in rows.items() if r["challenge"] == 3 and r["label"] == 0 and u in corpus)[0]
    out = _tag([str(sim_corpus / "audio" / f"{uid}.wav"), "--challenge", "whisper", "--compliance",
                str(root / "compliance"), "--script", corpus[uid]["script"]], capfd)
    assert out["score"] == pytest.approx(rows[uid]["score"], abs=1e-6)
    assert out["calibration"]["variant"] == "with_compliance" and out["calibration"]["simulated"]
    reasons = {r["reason"]: r for r in out["rationale"]}
    assert reasons["the task was not performed"]["value"] == pytest.approx(rows[uid]["compliance.p"], abs=1e-6)
    assert reasons["the words did not match the script"]["value"] == pytest.approx(rows[uid]["content"], abs=1e-6)
    assert reasons["vocal distortion"]["value"] == pytest.approx(rows[uid]["realism.mos"], abs=1e-6)


def test_tag_on_a_fresh_install(sim_corpus, capfd):
    """No classifiers, no calibration given: the packaged one (simulated speech, said so), the task unchecked;
    confidence, p(fake) and tag follow from score, threshold and temperature; each reason flags by its rule."""
    wav = sorted((sim_corpus / "audio").glob("*-c03-*.wav"))[0]
    out = _tag([str(wav), "--challenge", "whisper"], capfd)
    assert out["components"] == ["asr", "realism"] and out["calibration"]["source"] == "packaged"
    assert out["calibration"]["variant"] == "without_compliance" and "SIMULATED" in out["calibration"]["fitted_on"]
    d = out["score"] - out["threshold"]
    assert out["confidence"] == pytest.approx(math.tanh(abs(d) / (2 * out["temperature"])))
    assert out["p_fake"] == pytest.approx(1 / (1 + math.exp(-d / out["temperature"])))
    expected = (None if out["p_fake"] < 0.5 else "Deepfake-Certainly" if out["confidence"] >= out["certain_cut"]
                else "Deepfake-Likely")
    assert out["tag"] == expected
    reasons = {r["reason"]: r for r in out["rationale"]}
    assert set(reasons) == {"the words did not match the script", "vocal distortion"}
    assert reasons["vocal distortion"]["flagged"] == (reasons["vocal distortion"]["value"] < 3)
    assert out["script_source"].startswith("the closest of the 10 scripted sentences")
    res = invoke(["tag", str(wav), "--challenge", "3"], capfd)
    assert res.code == 0 and "Whisper" in res.stdout and "the task was not checked" in res.stdout


def test_bad_input_is_one_line(sim_corpus, tmp_path, capfd):
    wav = sorted((sim_corpus / "audio").glob("*-c03-*.wav"))[0]
    bad = tmp_path / "calibration.json"
    bad.write_text(json.dumps({"kind": "bench-calibration", "variants": {"default": {"threshold": 0.5,
                                                                                       "temperature": -1}}}))
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"kind": "bench-calibration", "detector": "svm",
                                 "variants": {"default": {"threshold": 0.0, "temperature": 1.0}}}))
    for args, needle in (([str(wav), "--challenge", "nope"], "unknown challenge"),
                         ([str(tmp_path / "none.wav"), "--challenge", "3"], "no such file"),
                         ([str(wav), "--challenge", "3", "--calibration", str(bad)], "not a bench calibration"),
                         ([str(wav), "--challenge", "3", "--calibration", str(other)], "calibrates detector svm"),
                         ([str(wav), "--challenge", "3", "--detector", "svm", "--model", "svm"], "no calibration")):
        assert_bad_input(invoke(["tag", *args], capfd), needle, " ".join(args[1:]))
