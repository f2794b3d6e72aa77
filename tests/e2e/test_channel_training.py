"""`bench train --augment`: a waveform detector trained with telephone-channel copies of its training crops
records the profiles in its card and trains on twice the crops; a detector without the setting, and an unknown
profile, are one line and exit 2 before anything is written."""

from __future__ import annotations

import json

from tests.helpers.cli import run_bench


def _train(zoo_inputs, tmp_path, *extra):
    return run_bench("train", "--detector", "lfcc-lcnn", "--corpus", str(zoo_inputs / "corpus"), "--fakes",
                     str(zoo_inputs / "fakes"), "--out", str(tmp_path / "m"), "--set", "epochs=1", "--set",
                     "crop_seconds=1", *extra, env={"BENCH_MODEL_STORE": str(tmp_path / "store")})


def test_augmented_training_records_its_profiles(zoo_inputs, tmp_path):
    res = _train(zoo_inputs, tmp_path, "--augment", "pstn-g711u,mobile-amr-nb")
    assert res.returncode == 0, res.stderr
    card = json.loads((tmp_path / "m" / "model.json").read_text())
    seed = card["training"]["per_seed"]["0"]
    assert seed["settings"]["augment"] == "pstn-g711u,mobile-amr-nb"
    assert card["training"]["settings"]["augment"] == "pstn-g711u,mobile-amr-nb"


def test_bad_augment_requests_are_one_line_and_write_nothing(zoo_inputs, tmp_path):
    for extra, message in ((("--augment", "pstn-g729"), "unknown channel profile 'pstn-g729'"),
                           (("--augment", "pstn-g711u", "--set", "augment=hd-g722"), "not both")):
        res = _train(zoo_inputs, tmp_path, *extra)
        assert res.returncode == 2 and message in res.stderr and len(res.stderr.strip().splitlines()) == 1
        assert not (tmp_path / "m").exists()
    svm = run_bench("train", "--detector", "svm", "--corpus", str(zoo_inputs / "corpus"), "--fakes",
                    str(zoo_inputs / "fakes"), "--out", str(tmp_path / "s"), "--augment", "pstn-g711u",
                    env={"BENCH_MODEL_STORE": str(tmp_path / "store")})
    assert svm.returncode == 2 and "unknown training setting(s) augment" in svm.stderr and not (tmp_path / "s").exists()
