"""Machine confidence, calibration measures and routing against values computed by hand (issue #25)."""

import math

import numpy as np
import pytest

from bench.evaluation.calibration import (
    calibration_report,
    confidence,
    expected_calibration_error,
    fit_temperature,
    probability_fake,
)
from bench.evaluation.routing import cut_for_risk, operating_point, risk_coverage, route, routing_curve


def test_confidence_is_the_scaled_distance_from_the_threshold():
    t, temp = 0.5, 0.2
    assert probability_fake([t + temp * math.log(3)], t, temp)[0] == pytest.approx(0.75)
    assert confidence([t], t, temp)[0] == 0.0
    # tanh(|d| / 2T) = 0.5 at |d| = 2 T atanh(0.5), on either side of the threshold
    d = 2 * temp * math.atanh(0.5)
    assert confidence([t + d, t - d], t, temp) == pytest.approx([0.5, 0.5])
    with pytest.raises(ValueError, match="positive"):
        probability_fake([0.1], t, 0.0)


def test_the_fitted_temperature_is_the_log_loss_optimum():
    """Three fakes in four at distance +1 and one in four at -1: the optimum has sigmoid(1/T) = 3/4, T = 1/ln 3."""
    labels = [1, 1, 1, 0, 1, 0, 0, 0]
    scores = [1.0] * 4 + [-1.0] * 4
    assert fit_temperature(labels, scores, 0.0) == pytest.approx(1 / math.log(3), rel=1e-3)
    # the same calls shifted: only the distance from the threshold counts
    assert fit_temperature(labels, np.add(scores, 0.3), 0.3) == pytest.approx(1 / math.log(3), rel=1e-3)
    sharp = fit_temperature([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9], 0.5)  # separated: sharp, but finite
    assert 0 < sharp < 1e-3
    with pytest.raises(ValueError, match="both"):
        fit_temperature([1, 1], [0.2, 0.3], 0.5)


def test_ece_brier_and_the_reliability_diagram():
    labels, p = [0, 1, 0, 1], [0.2, 0.2, 0.8, 0.8]
    assert expected_calibration_error(labels, p) == pytest.approx(0.3)  # two bins, each |0.5 - p| = 0.3
    assert expected_calibration_error([0, 0, 1, 1], [0.05, 0.15, 0.85, 0.95]) == pytest.approx(0.1)
    # scores whose p(fake) is 0.2 / 0.8 at T = 1: t + logit(p)
    scores = [math.log(0.25), math.log(0.25), math.log(4), math.log(4)]
    rep = calibration_report(labels, scores, 0.0, 1.0)
    assert rep["ece"] == pytest.approx(0.3) and rep["brier"] == pytest.approx(0.34)
    assert rep["reliability"]["mean_p_fake"] == pytest.approx([0.2, 0.8])
    assert rep["reliability"]["fake_share"] == pytest.approx([0.5, 0.5]) and rep["reliability"]["count"] == [2, 2]
    # actDCF at the ASVspoof 5 point: LLR = log 4 (1.386) > log(beta) (0.642) calls a fake; one in each class wrong
    assert rep["act_dcf"] == pytest.approx((0.95 * 0.5 + 10 * 0.05 * 0.5) / 0.5)


LABELS = [1, 1, 0, 0, 1]
MACHINE = [1, 0, 0, 1, 1]
CONF = [0.9, 0.2, 0.8, 0.3, 0.5]
HUMAN = [0, 1, 0, 0, 0]


def test_routing_at_a_cut():
    p = route(LABELS, MACHINE, CONF, 0.5, HUMAN)
    assert p["machine_share"] == pytest.approx(0.6) and p["human_share"] == pytest.approx(0.4)
    assert p["accuracy"] == 1.0 and p["machine_accuracy"] == 1.0 and p["human_accuracy"] == 1.0
    assert route(LABELS, MACHINE, CONF, math.inf, HUMAN)["accuracy"] == pytest.approx(0.6)  # the person alone
    assert route(LABELS, MACHINE, CONF, 0.0, HUMAN)["accuracy"] == pytest.approx(0.6)  # the machine alone


def test_the_routing_curve_and_its_operating_points():
    curve = routing_curve(LABELS, MACHINE, CONF, HUMAN, distance=[0.45, 0.1, 0.4, 0.15, 0.25])
    assert [p["machine_share"] for p in curve] == pytest.approx([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    assert [p["accuracy"] for p in curve] == pytest.approx([0.6, 0.8, 0.8, 1.0, 0.8, 0.6])
    assert curve[3]["distance_cut"] == pytest.approx(0.25) and curve[0]["distance_cut"] is None
    assert operating_point(curve, automation=0.5)["cut"] == 0.5
    assert operating_point(curve, accuracy=0.9)["machine_share"] == pytest.approx(0.6)
    assert operating_point(curve, accuracy=1.01) is None
    with pytest.raises(ValueError, match="exactly one"):
        operating_point(curve)


def test_risk_coverage_and_aurc():
    rc = risk_coverage(LABELS, MACHINE, CONF)
    assert rc["coverage"] == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0])
    assert rc["risk"] == pytest.approx([0, 0, 0, 0.25, 0.4])
    assert rc["aurc"] == pytest.approx(0.2 * (0.25 + 0.4))
    tied = risk_coverage([1, 0], [1, 1], [0.7, 0.7])  # ties enter together
    assert tied["coverage"] == [1.0] and tied["aurc"] == pytest.approx(0.5)


def test_the_cut_for_a_target_risk():
    # most confident first: 0.9 right, 0.8 right, 0.5 right, 0.3 wrong (risk 1/4), 0.2 wrong (2/5)
    assert cut_for_risk(LABELS, MACHINE, CONF, 0.0) == 0.5
    assert cut_for_risk(LABELS, MACHINE, CONF, 0.25) == 0.3
    assert cut_for_risk(LABELS, MACHINE, CONF, 0.5) == 0.2
    assert cut_for_risk([1], [0], [0.9], 0.1) is None
