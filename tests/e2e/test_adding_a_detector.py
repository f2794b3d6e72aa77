"""docs/adding-a-detector.md holds: its example file, built exactly as written into a temporary package that
registers it through the ``bench.detectors`` entry point, imports only the plugin API, is listed with derived
metadata, trains on a tiny corpus and scores a recording."""

from __future__ import annotations

import ast
import json
import math
import os
import re
from pathlib import Path

import pytest

from tests.helpers.cli import run_bench
from tests.helpers.paths import REPO

DOC = REPO / "docs" / "adding-a-detector.md"


def example_file() -> str:
    """The doc's example detector: the python block that starts with ``# tiny_cnn.py``."""
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    (code,) = [b for b in blocks if b.startswith("# tiny_cnn.py\n")]
    return code


def plugin_package(root: Path) -> dict[str, str]:
    """``my_detectors`` with the example as ``tiny_cnn.py`` and an installed-distribution entry point; the
    environment that puts it on the path."""
    site = root / "site"
    pkg = site / "my_detectors"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "tiny_cnn.py").write_text(example_file())
    dist = site / "my_detectors-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: my-detectors\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[bench.detectors]\ntiny-cnn = my_detectors.tiny_cnn:TinyCNN\n")
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)
    return {"PYTHONPATH": path, "BENCH_MODEL_STORE": str(root / "store")}


def test_the_example_imports_only_the_plugin_api_and_at_most_three_types():
    tree = ast.parse(example_file())
    imported = [(n.module, [a.name for a in n.names]) for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    bench = [(m, names) for m, names in imported if m and m.split(".")[0] == "bench"]
    assert [m for m, _ in bench] == ["bench.api"]
    assert len(bench[0][1]) <= 3
    assert not [n for n in ast.walk(tree) if isinstance(n, ast.Import) and any(a.name.startswith("bench")
                                                                             for a in n.names)]


def test_the_example_is_listed_through_its_entry_point_with_derived_metadata(tmp_path):
    env = plugin_package(tmp_path)
    res = run_bench("plugins", "show", "tiny-cnn", "--json", env=env)
    assert res.returncode == 0, res.stderr
    meta = json.loads(res.stdout)
    meta = meta.get("meta", meta)
    assert meta["source"] == "my_detectors.tiny_cnn:TinyCNN"
    assert meta["input_seconds"] == 1.0 and meta["score"]["polarity"].startswith("higher")
    assert meta["parameters"]["batch_size"] == 8 and meta["parameters"]["model"].startswith("NAME@VERSION")


@pytest.mark.slow
def test_the_example_trains_on_a_tiny_corpus_and_scores_a_file(zoo_inputs, tmp_path):
    env = plugin_package(tmp_path)
    res = run_bench("train", "--detector", "tiny-cnn", "--corpus", str(zoo_inputs / "corpus"), "--fakes",
                    str(zoo_inputs / "fakes"), "--out", str(tmp_path / "m"), "--seeds", "0", "--set", "epochs=2",
                    env=env)
    assert res.returncode == 0, res.stderr
    card = json.loads((tmp_path / "m" / "model.json").read_text())
    assert card["detector"] == "tiny-cnn" and card["params"] == {"channels": 8}
    assert card["n_params"] == 866  # the n_params the example declares
    from bench.audio import load_entry, write_wav
    from bench.data.corpus import open_dataset

    wav = tmp_path / "call.wav"
    write_wav(wav, load_entry(open_dataset(zoo_inputs / "corpus")[0]["audio"]))
    scored = run_bench("score", str(wav), "--detector", "tiny-cnn", "--model", "tiny-cnn@1", "--json", env=env)
    assert scored.returncode == 0, scored.stderr
    row = json.loads(scored.stdout)[0]
    assert math.isfinite(row["score"]), row
