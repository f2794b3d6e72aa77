"""Corpora, compliance checkpoints and Hub datasets written with bench 0.1's challenge numbering are refused with
one line, and `bench data migrate` renumbers them to the Pitch paper's numbering without losing anything (results:
tests/unit/test_migrate_results.py)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import datasets
import pyarrow as pa
import pytest

from bench.api import BenchError
from bench.challenges.taxonomy import renumbering
from bench.data.corpus import open_dataset, read_manifest, save
from bench.runs.migrate_data import migrate
from tests.helpers.cli import run_bench


def _old_numbering(new_ids: list[int]) -> list[int]:
    back = {new: old for old, new in renumbering(1).items()}
    return [back[i] for i in new_ids]


@pytest.fixture
def old_corpus(sim_corpus, tmp_path) -> Path:
    """The simulated corpus as bench 0.1 would have written it: old ids, no taxonomy_version."""
    ds = open_dataset(sim_corpus)
    table = ds.data.table
    idx = table.column_names.index("challenge")
    table = table.set_column(idx, "challenge", pa.array(_old_numbering(ds["challenge"]), type=pa.int32()))
    manifest = {k: v for k, v in read_manifest(sim_corpus).items() if k not in ("content_hash", "rows")}
    out = tmp_path / "old"
    save(datasets.Dataset(table, info=ds.info), out, {**manifest, "taxonomy_version": 1})
    doc = json.loads((out / "bench.json").read_text())
    del doc["taxonomy_version"]  # bench 0.1 wrote none
    (out / "bench.json").write_text(json.dumps(doc))
    return out


def test_old_corpus_is_refused_with_one_line_and_exit_2(old_corpus, tmp_path):
    for args in (["data", "info", str(old_corpus)],
                 ["generate", "--corpus", str(old_corpus), "--out", str(tmp_path / "fakes")],
                 ["train", "compliance", "--corpus", str(old_corpus), "--out", str(tmp_path / "cc")]):
        res = run_bench(*args)
        lines = res.stderr.strip().splitlines()
        assert res.returncode == 2 and len(lines) == 1, (args, res.stderr)
        assert "old taxonomy 1" in lines[0] and f"bench data migrate {old_corpus}" in lines[0]
    assert not (tmp_path / "fakes").exists() and not (tmp_path / "cc").exists()


def test_migrate_corpus_restores_the_papers_numbering(old_corpus, sim_corpus):
    res = run_bench("data", "migrate", str(old_corpus))
    assert res.returncode == 0, res.stderr
    migrated = read_manifest(old_corpus)
    assert migrated["taxonomy_version"] == 2
    # renumbering the old ids gives back the corpus bench writes today, byte for byte
    assert migrated["content_hash"] == read_manifest(sim_corpus)["content_hash"]
    assert len(migrated["migrated_from"]) == 1
    assert run_bench("data", "info", str(old_corpus)).returncode == 0
    again = run_bench("data", "migrate", str(old_corpus))
    assert again.returncode == 0 and "nothing to do" in again.stdout


def test_compliance_checkpoint_migrates(evaluated, tmp_path):
    from bench.detectors.pitch.compliance import ComplianceModel

    root, _ = evaluated
    new = ComplianceModel.load(root / "compliance")
    old = tmp_path / "compliance"
    shutil.copytree(root / "compliance", old)
    doc = json.loads((old / "compliance.json").read_text())
    back = {new_id: old_id for old_id, new_id in renumbering(1).items()}
    challenges = {}
    for key, entry in doc["challenges"].items():  # write it as bench 0.1 did
        oid = back[int(key)]
        name = f"c{oid:02d}-{entry['key']}.pt.tmp"
        (old / entry["weights"]).rename(old / name)
        challenges[str(oid)] = {**entry, "challenge": oid, "weights": name.removesuffix(".tmp")}
    for p in old.glob("*.pt.tmp"):
        p.rename(p.with_suffix(""))
    doc = {k: v for k, v in doc.items() if k != "taxonomy_version"}
    (old / "compliance.json").write_text(json.dumps({**doc, "challenges": challenges}))
    with pytest.raises(BenchError, match="bench data migrate"):
        ComplianceModel.load(old)
    assert run_bench("data", "migrate", str(old)).returncode == 0
    again = ComplianceModel.load(old)
    assert again.challenges == new.challenges
    for cid in new.challenges:
        e_new, e_old = new.meta["challenges"][str(cid)], again.meta["challenges"][str(cid)]
        assert e_old["weights"] == e_new["weights"]
        digest = [hashlib.sha256((d / e["weights"]).read_bytes()).hexdigest()
                  for d, e in ((root / "compliance", e_new), (old, e_old))]
        assert digest[0] == digest[1]


def test_an_interrupted_corpus_migration_is_finished_not_repeated(old_corpus, sim_corpus):
    before = json.loads((old_corpus / "bench.json").read_text())
    migrate(old_corpus)
    # as if killed after the rows were swapped but before the manifest was: rows new, manifest old
    (old_corpus / "bench.json").write_text(json.dumps(before))
    print(migrate(old_corpus))
    assert read_manifest(old_corpus)["content_hash"] == read_manifest(sim_corpus)["content_hash"]


def test_an_old_hub_dataset_is_pulled_as_it_is_and_refused_until_migrated(old_corpus, sim_corpus, tmp_path):
    old = tmp_path / "old-hub"
    assert run_bench("data", "push", str(old_corpus), "--to-folder", str(old)).returncode == 2  # refused
    doc = json.loads((old_corpus / "bench.json").read_text())
    assert "taxonomy_version" not in doc
    old_rows = tmp_path / "old-rows"
    shutil.copytree(old_corpus, old_rows)
    (old_rows / "bench.json").write_text(json.dumps({**doc, "taxonomy_version": 2}))  # only to export its rows
    assert run_bench("data", "push", str(old_rows), "--to-folder", str(old)).returncode == 0
    (old / "bench.json").write_text(json.dumps(doc))  # as bench 0.1 pushed it
    res = run_bench("data", "pull", str(old), "--out", str(tmp_path / "pulled"))
    assert res.returncode == 0 and "bench data migrate" in res.stderr, res.stderr
    assert run_bench("data", "info", str(tmp_path / "pulled")).returncode == 2
    assert run_bench("data", "migrate", str(tmp_path / "pulled")).returncode == 0
    assert sorted(open_dataset(tmp_path / "pulled")["challenge"]) == sorted(open_dataset(sim_corpus)["challenge"])
