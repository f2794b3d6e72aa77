"""Hostile input to `bench train --detector` and `bench evaluate --param model=` (issue #20).

Checkpoints never run code; every flag, setting, model reference and leftover of an earlier
run is checked before the first write (one line, exit 2, no --out folder); a rerun of a
finished training reports its stored version instead of registering another; one run at a
time per --out.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from bench.api import BenchError, Checkpoint
from bench.models.store import hash_files, list_models, read_card
from bench.runlock import folder_lock
from tests.helpers.cli import assert_bad_input, changes, invoke, stat_snapshot

DETECTOR = "lfcc-lcnn"  # the cheapest network to train; one tiny epoch on 1 s crops
TINY = ["--set", "epochs=1", "--set", "crop_seconds=1"]


def train_args(zoo: Path, out: Path, *extra: str, tiny: bool = True) -> list[str]:
    return ["train", "--detector", DETECTOR, "--corpus", str(zoo / "corpus"), "--fakes", str(zoo / "fakes"),
            "--out", str(out), *(TINY if tiny else []), *extra]


@pytest.fixture(scope="module")
def trained(zoo_inputs, tmp_path_factory):
    """One finished, registered training (its --out folder and its own store): copied by the tests that change it."""
    from bench.runs.train import train_detector

    root = tmp_path_factory.mktemp("hostile-train")
    env = {"BENCH_MODEL_STORE": str(root / "store")}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BENCH_MODEL_STORE", env["BENCH_MODEL_STORE"])
        entry = train_detector(DETECTOR, zoo_inputs / "corpus", zoo_inputs / "fakes", root / "m",
                               settings={"epochs": "1", "crop_seconds": "1"})
    assert entry.card.ref == f"{DETECTOR}@1"
    return root / "m", env


def stored_refs(env: dict[str, str], monkeypatch) -> list[str]:
    monkeypatch.setenv("BENCH_MODEL_STORE", env["BENCH_MODEL_STORE"])
    return [m["ref"] for m in list_models() if m["source"] != "packaged"]


# ------------------------------------------------------------------ 2. checked before the first write
BAD = [
    (["--seeds", "4294967296"], "--seeds"),
    (["--seeds", "0,-1"], "--seeds"),
    (["--split-seed", "4294967296"], "--split-seed"),
    (["--set", "init=nosuch@1"], "nosuch"),
    (["--set", "lr=nan"], "lr"),
    (["--set", "lr=inf"], "lr"),
    (["--set", "epochs=abc"], "epochs"),
    (["--set", "epochs=1.5"], "integer"),
    (["--set", "crop_seconds=soon"], "crop_seconds"),
    (["--set", "batch_size=0"], "batch-size"),
    (["--set", "nokey=1"], "unknown training setting"),
    (["--set", "epochs"], "KEY=VALUE"),
    (["--set", "epochs=1", "--set", "epochs=2"], "twice"),
    (["--name", "../evil"], "--name"),
    (["--name", "UPPER"], "--name"),
    (["--name", "good@2"], "--name"),
]


@pytest.mark.parametrize("extra, needle", BAD, ids=[" ".join(b[0]) for b in BAD])
def test_bad_train_input_is_one_line_and_writes_nothing(zoo_inputs, tmp_path, capfd, extra, needle):
    out, store = tmp_path / "m", tmp_path / "store"
    before = stat_snapshot(zoo_inputs)
    res = invoke(train_args(zoo_inputs, out, *extra, tiny=False), capfd, env={"BENCH_MODEL_STORE": str(store)})
    assert_bad_input(res, needle)
    assert not out.exists() and not store.exists()
    assert changes(before, stat_snapshot(zoo_inputs)) == []


def test_training_speakers_without_fakes_is_refused_before_writing(zoo_inputs, tmp_path, capfd):
    """Fakes that all imitate one speaker, and a split that holds that speaker out for testing: the training
    speakers have no fakes; refused before --out exists."""
    from bench.countermeasures.training import train_val_test
    from bench.data.corpus import open_dataset, unusable_references
    from bench.runs.evaluate import build_samples
    from bench.runs.generate import generate
    from bench.runs.train import split_samples

    fakes = tmp_path / "fakes"
    generate(zoo_inputs / "corpus", fakes, max_targets=1, challenges=[0], workers=1)
    rows = open_dataset(zoo_inputs / "corpus").to_list()
    samples = build_samples(rows, open_dataset(fakes).to_list(), unusable_references(rows))
    subjects = sorted({r["subject"] for r in rows})
    seed = next(s for s in range(100) if not any(
        x.label for x in split_samples(samples, train_val_test(subjects, 2, s))["train"]))
    out = tmp_path / "m"
    args = train_args(zoo_inputs, out, "--test-speakers", "2", "--split-seed", str(seed))
    args[args.index("--fakes") + 1] = str(fakes)
    res = invoke(args, capfd, env={"BENCH_MODEL_STORE": str(tmp_path / "store")})
    assert_bad_input(res, "need both originals and fakes")
    assert not out.exists()


@pytest.mark.parametrize("where, text", [("seed-0/done.json", "{}"), ("seed-0/done.json", "not json"),
                                         ("seed-0/done.json", '{"files": ["../../evil"], "fit": {"seconds": 1}}'),
                                         ("done.json", "{}"), ("done.json", "[1]")])
def test_a_bad_record_in_out_is_one_line_naming_overwrite(trained, tmp_path, capfd, zoo_inputs, where, text):
    folder, env = trained
    out = tmp_path / "m"
    shutil.copytree(folder, out)
    (out / where).write_text(text)
    before = stat_snapshot(out)
    res = invoke(train_args(zoo_inputs, out), capfd, env=env)
    assert_bad_input(res, "--overwrite")
    assert where in res.lines[0]
    assert changes(before, stat_snapshot(out)) == []


# ------------------------------------------------------------------ 1. checkpoints never run code
class RunsCode:
    """A pickle that creates a file when it is loaded (a crafted checkpoint.pt)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_a_crafted_checkpoint_is_refused_without_running(trained, tmp_path, capfd, zoo_inputs):
    import torch

    folder, env = trained
    out = tmp_path / "m"
    shutil.copytree(folder, out)
    for name in ("done.json", "model.json", "seed-0/done.json", "seed-0/weights.pt"):  # seed 0 not finished
        (out / name).unlink()
    marker = tmp_path / "payload-ran"
    torch.save({"settings": {}, "epoch": 1, "payload": RunsCode(marker)}, out / "seed-0" / "checkpoint.pt")
    res = invoke(train_args(zoo_inputs, out), capfd, env=env)
    assert not marker.exists()
    assert_bad_input(res, "checkpoint.pt")
    assert "delete it" in res.lines[0]


def test_checkpoints_hold_plain_data_and_load_safely(tmp_path):
    import torch

    ck = Checkpoint(tmp_path / "checkpoint.pt")
    ck.save({"settings": {"lr": np.float64(0.5), "n": np.int64(3), "path": tmp_path, "betas": (0.9, 0.99)},
             "weights": torch.ones(2), "history": [{"epoch": 1, "val_loss": np.float32(0.25)}]})
    state = torch.load(ck.path, weights_only=True)
    assert state["settings"] == {"lr": 0.5, "n": 3, "path": str(tmp_path), "betas": (0.9, 0.99)}
    assert state["history"] == [{"epoch": 1, "val_loss": 0.25}] and ck.load()["weights"].tolist() == [1.0, 1.0]
    with pytest.raises(TypeError):
        ck.save({"object": object()})
    ck.path.write_bytes(b"not a checkpoint")
    with pytest.raises(BenchError, match="delete it"):
        ck.load()


def test_an_interrupted_training_resumes_from_its_checkpoint(zoo_inputs, tmp_path, monkeypatch):
    """Stopped after epoch 1 of 2 (as Ctrl-C would, right after that epoch's checkpoint), the rerun continues at
    epoch 2 from the checkpoint, loaded with weights_only=True."""
    import torch

    from bench.runs.train import train_detector

    monkeypatch.setenv("BENCH_MODEL_STORE", str(tmp_path / "store"))
    out = tmp_path / "m"
    settings = {"epochs": "2", "crop_seconds": "1", "patience": "5"}

    def stop_after_epoch_1(message: str) -> None:
        if "epoch 1:" in message:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_detector(DETECTOR, zoo_inputs / "corpus", zoo_inputs / "fakes", out, settings=settings,
                       register=False, progress=stop_after_epoch_1)
    state = torch.load(out / "seed-0" / "checkpoint.pt", weights_only=True)
    assert state["epoch"] == 1
    entry = train_detector(DETECTOR, zoo_inputs / "corpus", zoo_inputs / "fakes", out, settings=settings,
                           register=False)
    fit = entry.card.training["per_seed"]["0"]["fit"]
    assert fit["resumed_from_epoch"] == 1 and len(fit["history"]) == 2
    assert not (out / "seed-0" / "checkpoint.pt").exists()


# ------------------------------------------------------------------ 3. one registration, one run at a time
def test_rerunning_a_finished_training_reports_its_version(trained, tmp_path, capfd, zoo_inputs, monkeypatch):
    folder, env = trained
    out = tmp_path / "m"
    shutil.copytree(folder, out)
    before = stat_snapshot(out)
    res = invoke(train_args(zoo_inputs, out, "--json"), capfd, env=env)
    assert res.code == 0, res.stderr
    assert json.loads(res.stdout)["version"] == "1"
    again = invoke(train_args(zoo_inputs, out), capfd, env=env)
    assert again.code == 0 and f"stored as {DETECTOR}@1" in again.stdout, again.stdout
    assert changes(before, stat_snapshot(out)) == []
    assert stored_refs(env, monkeypatch) == [f"{DETECTOR}@1"]


def test_a_second_train_into_the_same_out_is_refused_while_one_runs(trained, tmp_path, capfd, zoo_inputs):
    folder, env = trained
    out = tmp_path / "m"
    shutil.copytree(folder, out)
    before = stat_snapshot(out)
    with folder_lock(out, "bench train"):  # what a running `bench train` holds
        res = invoke(train_args(zoo_inputs, out), capfd, env=env)
    assert_bad_input(res, f"another bench train is running in {out}")
    assert changes(before, stat_snapshot(out)) == []
    with folder_lock(out, "bench train"):  # released when the holder ends
        pass


def test_the_lock_is_exclusive_and_released(tmp_path):
    with folder_lock(tmp_path / "o", "bench train"):
        with pytest.raises(BenchError, match="another bench train is running"):
            with folder_lock(tmp_path / "o", "bench train"):
                pass
    with folder_lock(tmp_path / "o", "bench train"):
        assert list((tmp_path / "o").iterdir()) == []  # nothing added to the folder


# ------------------------------------------------------------------ evaluate: the model must load before writing
def test_evaluate_with_a_model_that_cannot_load_writes_nothing(trained, tmp_path, capfd, zoo_inputs):
    """Files that match the card's checksums but do not fit the network: one line, exit 2, no --out."""
    import torch

    folder, env = trained
    model = tmp_path / "model"
    shutil.copytree(folder, model)
    torch.save({"not": torch.zeros(1)}, model / "seed-0" / "weights.pt")
    card = read_card(model)
    card.files = hash_files(model, list(card.files))
    (model / "model.json").write_text(card.model_dump_json())
    out = tmp_path / "ev"
    res = invoke(["evaluate", "--detector", DETECTOR, "--param", f"model={model}", "--corpus",
                  str(zoo_inputs / "corpus"), "--fakes", str(zoo_inputs / "fakes"), "--out", str(out)], capfd, env=env)
    assert_bad_input(res, "does not fit")
    assert not out.exists()
