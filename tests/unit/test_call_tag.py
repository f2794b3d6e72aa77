"""The edge server's call summary carries Pitch's tag when bench serve has a calibration (issue #25)."""

import json
import math

import pytest

from bench.errors import BenchError
from bench.serve.call import Call
from bench.serve.config import ServeConfig


def _config(tmp_path, doc) -> ServeConfig:
    (tmp_path / "cal.json").write_text(json.dumps(doc) if isinstance(doc, dict) else doc)
    return ServeConfig(model="m", token="t" * 16, calibration=str(tmp_path / "cal.json"))


def test_the_call_summary_tags_its_mean_chunk_score(tmp_path):
    cfg = _config(tmp_path, {"kind": "bench-calibration", "variants": {"default": {"threshold": 0.0,
                                                                                    "temperature": 1.0}},
                             "certain_cut": 0.5})
    cfg.check()
    call = Call("s", None, alert_chunks=2, tagging=cfg.tagging())
    assert "tag" not in call.summary()  # no chunk scored: nothing to tag
    s = call.add(0, 0.4, fake=True)  # mean 0.4: p = sigmoid(0.4) = 0.599, confidence 0.197 < 0.5
    assert s["tag"] == "Deepfake-Likely" and s["p_fake"] == pytest.approx(1 / (1 + math.exp(-0.4)))
    assert s["confidence"] == pytest.approx(math.tanh(0.2)) and s["verdict"] == "bona fide"  # 1 alert of 2
    s = call.add(1, 2.0, fake=True)  # mean 1.2: confidence tanh(0.6) = 0.537 >= 0.5
    assert s["tag"] == "Deepfake-Certainly" and s["verdict"] == "fake"
    s = call.add(2, -5.0, fake=False)  # mean -0.6: the machine says bona fide, no tag
    assert s["tag"] is None and s["p_fake"] < 0.5
    assert "tag" not in Call("s", None, alert_chunks=2).add(0, 3.0, fake=True)  # no calibration: as before


def test_a_bad_calibration_stops_the_server_before_it_starts(tmp_path):
    bad = [("{", "not a bench calibration"),
           ({"kind": "bench-calibration", "variants": {"default": {"threshold": 0.0, "temperature": 0}}},
            "not a bench calibration"),
           ({"kind": "bench-calibration", "variants": {"a": {"threshold": 0.0, "temperature": 1.0},
                                                       "b": {"threshold": 0.0, "temperature": 1.0}}}, "no default"),
           ({"kind": "bench-calibration", "variants": {"default": {"threshold": 0.0, "temperature": 1.0}},
             "certain_cut": 2}, "certain_cut in [0, 1]")]
    for doc, needle in bad:
        with pytest.raises(BenchError, match=needle.replace("[", r"\[").replace("]", r"\]")):
            _config(tmp_path, doc).check()
    with pytest.raises(BenchError, match="cannot read --calibration"):
        ServeConfig(model="m", token="t" * 16, calibration=str(tmp_path / "missing.json")).check()
