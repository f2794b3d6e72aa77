"""The session's simulated corpus through `bench data`: the Hub round trip (local folder and cache), an
unreachable Hub, `data info --json`, and a re-simulation with other settings refused."""

from __future__ import annotations

import json
import shutil

from bench.data.corpus import content_hash, open_dataset, read_manifest
from tests.helpers.cli import run_bench


def test_resimulate_with_other_settings_is_refused_and_keeps_data(sim_corpus, tmp_path):
    copy = tmp_path / "c"
    shutil.copytree(sim_corpus, copy)
    before = read_manifest(copy)["content_hash"]
    res = run_bench("data", "simulate", "--out", str(copy), "--speakers", "3", "--sentences", "2")
    assert res.returncode == 2 and "other settings" in res.stderr
    assert content_hash(open_dataset(copy)) == before


def test_hub_roundtrip_local_folder_and_offline_cache(sim_corpus, tmp_path):
    folder = tmp_path / "hubrepo"
    res = run_bench("data", "push", str(sim_corpus), "--to-folder", str(folder))
    assert res.returncode == 0, res.stderr
    assert (folder / "README.md").is_file() and list((folder / "data").glob("train-*.parquet"))
    original = read_manifest(sim_corpus)["content_hash"]

    res = run_bench("data", "pull", str(folder), "--out", str(tmp_path / "from_folder"))
    assert res.returncode == 0, res.stderr
    assert content_hash(open_dataset(tmp_path / "from_folder")) == original

    # the Hub cache layout, as huggingface_hub leaves it after a download
    cache = tmp_path / "hf-cache"
    snap = cache / "datasets--acme--pitch-sim" / "snapshots" / "0123abcd"
    shutil.copytree(folder, snap)
    (cache / "datasets--acme--pitch-sim" / "refs").mkdir()
    (cache / "datasets--acme--pitch-sim" / "refs" / "main").write_text("0123abcd")
    env = {"HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    res = run_bench("data", "pull", "acme/pitch-sim", "--out", str(tmp_path / "from_cache"), env=env)
    assert res.returncode == 0, res.stderr
    pulled = read_manifest(tmp_path / "from_cache")
    assert pulled["content_hash"] == original and pulled["snapshot"] == "0123abcd"
    assert pulled["simulated"] is True

    res = run_bench("data", "pull", "acme/not-cached", "--out", str(tmp_path / "x"), env=env)
    assert res.returncode == 2 and "not in the local cache" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_hub_unreachable_errors_are_clear(sim_corpus, tmp_path):
    env = {"HF_HUB_CACHE": str(tmp_path / "empty"), "HF_ENDPOINT": "http://127.0.0.1:9", "HF_TOKEN": "x"}
    res = run_bench("data", "pull", "acme/pitch-sim", "--out", str(tmp_path / "x"), env=env)
    assert res.returncode == 2 and "could not be reached" in res.stderr
    res = run_bench("data", "push", str(sim_corpus), "--repo-id", "acme/pitch-sim", env=env)
    assert res.returncode == 2 and "cannot push" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_info_json(sim_corpus):
    res = run_bench("data", "info", str(sim_corpus), "--json")
    info = json.loads(res.stdout)
    assert info["rows"] == 84 and info["sample_rates"] == {"16000": 84}
    assert info["manifest"]["simulated"] is True
