"""The Ray engine gives the same outputs as the local process pool (a local Ray instance)."""

from __future__ import annotations

import pytest

from bench.data.corpus import content_hash, open_dataset
from tests.helpers.cli import run_bench

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
