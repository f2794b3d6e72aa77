"""Results written with bench 0.1's challenge numbering (tests/data/result-bench-0.1.json) are refused with one
line, and `bench data migrate` renumbers result.json and scores.parquet, each once, without losing anything."""

from __future__ import annotations

import json
import shutil

import pyarrow as pa
import pytest

from bench.api import BenchError
from bench.challenges.taxonomy import get
from bench.evaluation.results import load_result
from bench.runs.migrate_data import migrate
from tests.helpers.cli import run_bench
from tests.helpers.paths import TESTS

OLD_RESULT = TESTS / "data" / "result-bench-0.1.json"  # bench 0.1's demo baseline, as committed then


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


def test_migrate_refuses_what_it_does_not_know(tmp_path):
    res = run_bench("data", "migrate", str(tmp_path))
    assert res.returncode == 2 and "nothing to migrate" in res.stderr
    res = run_bench("data", "migrate", str(tmp_path / "missing"))
    assert res.returncode == 2 and "no such file" in res.stderr


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
