"""Data written with bench 0.1's challenge numbering is refused with one line, and `bench data migrate`
renumbers it to the Pitch paper's numbering without losing anything."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import datasets
import pyarrow as pa
import pytest
from conftest import REPO, run_bench

from bench.api import BenchError
from bench.challenges.taxonomy import get, renumbering
from bench.data.corpus import open_dataset, read_manifest, save
from bench.evaluation.results import load_result
from bench.runs.migrate_data import migrate

OLD_RESULT = REPO / "tests" / "data" / "result-bench-0.1.json"  # bench 0.1's demo baseline, as committed then


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


def test_old_result_is_refused_then_migrated(tmp_path):
    path = tmp_path / "result.json"
    shutil.copy(OLD_RESULT, path)
    with pytest.raises(BenchError, match="old taxonomy 1.*bench data migrate"):
        load_result(path)
    res = run_bench("gate", "--baseline", str(path), "--current", str(path))
    assert res.returncode == 2 and "bench data migrate" in res.stderr
    old = json.loads(path.read_text())
    old_by_key = {c["key"]: c for c in old["per_challenge"]}
    print(migrate(path))
    r = load_result(path)
    assert r.schema_version == "1.2" and r.taxonomy_version == 2
    for c in r.per_challenge:  # every id now names its own challenge; the measured numbers are unchanged
        assert get(c.challenge).key == c.key
        assert c.auroc.value == old_by_key[c.key]["auroc"]["value"]
    assert [c.challenge for c in r.per_challenge] == sorted(c.challenge for c in r.per_challenge)
    whisper = next(c for c in r.per_challenge if c.key == "whisper")
    assert whisper.challenge == 3 and whisper.paper_auroc == pytest.approx(0.92)
    assert r.paper is not None and r.paper.top10_auroc == pytest.approx(0.887)
    assert set(r.top_challenges) <= set(r.ranking.ranked) and any("migrated" in n for n in r.notes)


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


def test_migrate_refuses_what_it_does_not_know(tmp_path):
    res = run_bench("data", "migrate", str(tmp_path))
    assert res.returncode == 2 and "nothing to migrate" in res.stderr
    res = run_bench("data", "migrate", str(tmp_path / "missing"))
    assert res.returncode == 2 and "no such file" in res.stderr


def test_an_interrupted_corpus_migration_is_finished_not_repeated(old_corpus, sim_corpus):
    before = json.loads((old_corpus / "bench.json").read_text())
    migrate(old_corpus)
    # as if killed after the rows were swapped but before the manifest was: rows new, manifest old
    (old_corpus / "bench.json").write_text(json.dumps(before))
    print(migrate(old_corpus))
    assert read_manifest(old_corpus)["content_hash"] == read_manifest(sim_corpus)["content_hash"]


def test_result_folder_migrates_json_and_scores_each_once(tmp_path):
    import pyarrow.parquet as pq

    from bench.evaluation.results import scores_version

    folder = tmp_path / "r"
    folder.mkdir()
    shutil.copy(OLD_RESULT, folder / "result.json")
    old_ids = {c["key"]: c["challenge"] for c in json.loads(OLD_RESULT.read_text())["per_challenge"]}
    rows = [{"utterance_id": f"{key}-{label}", "label": label, "challenge": cid, "score": 0.2 + 0.5 * label,
             "in_scope": True} for key, cid in old_ids.items() for label in (0, 1)]
    pq.write_table(pa.Table.from_pylist(rows), folder / "scores.parquet")  # bench 0.1: untagged, old ids
    assert run_bench("leaderboard", "build", str(folder), "--out", str(tmp_path / "lb")).returncode == 2
    res = run_bench("data", "migrate", str(folder / "result.json"))  # the path the refusal names
    assert res.returncode == 0 and "scores" in res.stdout, res.stderr
    assert scores_version(folder / "scores.parquet") == 2
    migrated = {r["utterance_id"]: r["challenge"] for r in pq.read_table(folder / "scores.parquet").to_pylist()}
    assert all(migrated[f"{key}-0"] == get(key).id for key in old_ids)
    assert load_result(folder / "result.json").paper_top10_auroc.value == 1.0  # fakes score higher everywhere
    assert "nothing to do" in run_bench("data", "migrate", str(folder)).stdout
    # interrupted between the two files: the JSON is new, the scores still old -> only the scores move
    pq.write_table(pa.Table.from_pylist(rows), folder / "scores.parquet")
    res = run_bench("data", "migrate", str(folder))
    assert res.returncode == 0 and "scores" in res.stdout and "results" not in res.stdout
    assert run_bench("leaderboard", "build", str(folder), "--out", str(tmp_path / "lb")).returncode == 0


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
