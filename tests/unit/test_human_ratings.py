"""The ratings file, Pitch's human tables and the simulated raters, against hand-computed values (issue #25)."""

import os
import stat

import numpy as np
import pandas as pd
import pytest

from bench.errors import BenchError
from bench.human.analysis import collaborative, joined, kendalls_w, per_challenge, scenarios
from bench.human.ratings import COLUMNS, Rating, ratings_csv, read_ratings, write_ratings
from bench.human.simulated import simulate_ratings, table4_accuracy, table5_rates


def rating(sample, rater, initial, machine=None, final=None, c=1, r=3, conf=(70, 80), rationale=0):
    assisted = {} if machine is None else {"machine_verdict": machine, "final_decision": final,
                                           "final_confidence": conf[1], "rationale_shown": rationale}
    return Rating(sample_id=sample, rater=rater, compliance=c, realism=r, initial_decision=initial,
                  initial_confidence=conf[0], **assisted)


def test_kendalls_w_by_hand():
    # 3 judges, 4 items, no ties: rank sums 4, 6, 8, 12; S = 35; W = 12 S / (9 x 60)
    assert kendalls_w([[1, 2, 3, 4], [2, 1, 3, 4], [1, 3, 2, 4]]) == pytest.approx(420 / 540)
    # ties: judge 1 ranks (1.5, 1.5, 3), judge 2 (1, 2, 3): S = 6.5, T = 6; W = 78 / (4 x 24 - 2 x 6)
    assert kendalls_w([[1, 1, 2], [1, 2, 3]]) == pytest.approx(78 / 84)
    assert kendalls_w([[1, 2, 3], [1, 2, 3]]) == pytest.approx(1.0)
    assert np.isnan(kendalls_w([[1, 1], [2, 2]]))  # everything tied: undefined


SAMPLES = pd.DataFrame({"sample_id": ["f1", "f2", "r1", "r2"], "challenge": [3, 3, 3, 3], "label": [1, 1, 0, 0],
                        "machine_confidence": [0.9, 0.2, 0.8, 0.3], "machine_mos": [2.0, 2.5, 3.5, 3.0]})


def test_per_challenge_human_auroc_accuracy_majority_and_agreement():
    ratings = [rating("f1", "a", "fake", c=1, r=2), rating("f1", "b", "real", c=1, r=3),
               rating("f2", "a", "fake", c=0, r=4), rating("f2", "b", "fake", c=1, r=4),
               rating("r1", "a", "real", c=1, r=5), rating("r1", "b", "real", c=1, r=4),
               rating("r2", "a", "fake", c=1, r=2), rating("r2", "b", "real", c=1, r=3)]
    (row,) = per_challenge(joined(ratings, SAMPLES))
    # D_h = 1 - C R / 5; sample means: f1 .5, f2 .6, r1 .1, r2 .5 -> AUROC (1 + .5 + 1 + 1) / 4
    assert row["human_auroc"] == pytest.approx(0.875)
    assert row["vanilla_accuracy"] == pytest.approx(6 / 8)
    assert row["majority_accuracy"] == pytest.approx(3 / 4)  # f1 and r2 tie 1:1, counted fake
    assert row["assisted_accuracy"] is None  # no verdict shown
    # D_h by rater slot: a (.6, 1, 0, .6), b (.4, .2, .2, .4): S = 8.5, T = 6 + 12; W = 102 / (4 x 60 - 2 x 18)
    assert row["kendalls_w"] == pytest.approx(0.5) and row["w_samples_left_out"] == 0


def test_table5_scenarios_and_the_rates_quoted_in_section_5_3():
    s = [rating("f1", "r1", "fake", "fake", "fake", conf=(70, 80)),            # correct agreement
         rating("f1", "r2", "real", "fake", "fake", rationale=1),             # machine corrected
         rating("f1", "r3", "real", "real", "fake"),                          # self corrected
         rating("f1", "r4", "fake", "real", "fake", rationale=1),             # no change (initial correct)
         rating("f1", "r5", "fake", "fake", "real"),                          # self misled
         rating("r1", "r6", "real", "fake", "fake", rationale=1),             # machine misled
         rating("r1", "r7", "fake", "real", "fake"),                          # no change (initial wrong)
         rating("r1", "r8", "fake", "fake", "fake"),                          # incorrect agreement
         rating("r1", "r9", "fake", "real", "real"),                          # machine corrected
         rating("r2", "r1", "real")]                                          # vanilla only: not in Table 5
    t = scenarios(joined(s, SAMPLES))
    counts = {r["scenario"]: r["count"] for r in t["rows"]}
    assert counts == {"Correct Agreement": 1, "Machine Corrected": 2, "Self Corrected": 1,
                      "No Change (Initial Correct)": 1, "Self Misled": 1, "Machine Misled": 1,
                      "No Change (Initial Wrong)": 1, "Incorrect Agreement": 1}
    assert t["responses"] == 9 and t["rows"][0]["confidence_change"] == pytest.approx(10)
    assert t["machine_corrected_rate"] == pytest.approx(2 / 3) and t["machine_misled_rate"] == pytest.approx(0.5)
    # disagreeing verdicts taken: with the rationale 2 of 3 (r2, r6; not r4), without 1 of 2 (r9; not r7)
    assert t["accepted_with_rationale"] == pytest.approx(2 / 3)
    assert t["accepted_without_rationale"] == pytest.approx(0.5)


def test_collaborative_accuracy_at_a_cut():
    s = [rating("f1", "a", "real", "fake", "real"), rating("f2", "a", "real", "fake", "fake"),
         rating("r1", "a", "real", "real", "real"), rating("r2", "a", "real", "fake", "fake")]
    t = collaborative(joined(s, SAMPLES), cut=0.5)
    # f1 (0.9) and r1 (0.8) decided by the machine, both right; f2 by its rater (right), r2 by its rater (wrong)
    assert t["pooled"]["machine_share"] == pytest.approx(0.5) and t["pooled"]["accuracy"] == pytest.approx(0.75)
    assert t["per_challenge"][3]["human_accuracy"] == pytest.approx(0.5)


def test_the_ratings_file_round_trips_private_and_names_its_first_bad_line(tmp_path):
    path = tmp_path / "ratings.csv"
    rows = [rating("f1", "a", "fake", "real", "real", rationale=1), rating("f2", "a", "real")]
    write_ratings(path, rows)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert read_ratings(path) == rows
    bad = ratings_csv(rows).replace("f2,a,1,3,real", "f2,a,1,7,real")
    path.write_text(bad)
    with pytest.raises(BenchError, match="line 3, realism"):
        read_ratings(path)
    path.write_text(ratings_csv(rows) + "f1,a,1,3,real,70,,0,,,0\n")
    with pytest.raises(BenchError, match="rated sample 'f1' twice"):
        read_ratings(path)
    path.write_text("sample_id,rater\nf1,a\n")
    with pytest.raises(BenchError, match="the header must be " + ",".join(COLUMNS[:2])):
        read_ratings(path)
    path.write_text(ratings_csv([]) + "f1,a,1,3,real,70,fake,0,,,0\n")
    with pytest.raises(BenchError, match="given together"):
        read_ratings(path)
    with pytest.raises(BenchError, match="not in the rated subset"):
        joined([rating("nope", "a", "real")], SAMPLES)


def test_simulated_raters_follow_table4_and_table5():
    n = 1500
    samples = pd.DataFrame({"sample_id": [f"s{i}" for i in range(2 * n)], "challenge": [0] * n + [2] * n,
                            "label": [i % 2 for i in range(2 * n)], "machine_fake": [(i % 5 != 0) == (i % 2 == 1)
                                                                                    for i in range(2 * n)]})
    rows = simulate_ratings(samples, raters_per_sample=3, pool=9, seed=1)
    assert len(rows) == 3 * 2 * n and all(r.simulated == 1 for r in rows)
    df = joined(rows, samples)
    acc = {r["challenge"]: r["vanilla_accuracy"] for r in per_challenge(df)}
    assert acc[0] == pytest.approx(table4_accuracy(0), abs=0.02)  # 52.2 %, quoted
    assert acc[2] == pytest.approx(table4_accuracy(2), abs=0.02)  # 84.9 %
    t = scenarios(df)
    rates = table5_rates()
    assert t["machine_corrected_rate"] == pytest.approx(rates[(False, True)], abs=0.03)  # 45.4 %
    assert t["machine_misled_rate"] == pytest.approx(rates[(True, False)], abs=0.03)  # 29.8 %
    assert simulate_ratings(samples.head(4), seed=1) == simulate_ratings(samples.head(4), seed=1)
