"""Text templates (bench.templating): every template is package data, found through importlib.resources, and
renders the text the Python strings wrote before (the leaderboard page, the Hub dataset and model cards)."""

from __future__ import annotations

from fnmatch import fnmatch
from pathlib import Path

import tomllib
from markupsafe import Markup

from bench.templating import escape_like_html_module
from tests.helpers.paths import REPO
from tests.helpers.results import make_result

#: folders whose subfolders are packages of bench (setup.py), beside bench/ itself
FOLDERS = ("detectors", "generators", "challenges", "leaderboard")

DATASET_CARD = """---
license: other
task_categories:
- audio-classification
tags:
- deepfake-detection
- anti-spoofing
- voice-conversion
- challenge-response
configs:
- config_name: default
  data_files:
  - split: train
    path: data/train-*.parquet
---
# sim <s0> & 'x'

A corpus dataset written by [bench](https://pypi.org/project/vc-challenge-bench/)
(`bench data push`). It is **simulated speech** (espeak-ng + WORLD), not recordings of people.

- rows: 2
- content hash: `abc`
- columns: `utterance_id`, `label`
- challenge ids: taxonomy 2 (2 = the numbering of the Pitch paper's Tables 2 and 3)

Audio is embedded WAV (16 kHz mono) in the `audio` column (`{bytes, path}`); read it with
`bench data pull me/sim` or any parquet reader and decode the bytes with soundfile.
"""

MODEL_CARD = """---
license: other
library_name: bench
tags:
- anti-spoofing
- deepfake-detection
- voice-conversion
- lfcc-lcnn
---
# toy

A `lfcc-lcnn` detector model written by [bench](https://pypi.org/project/vc-challenge-bench/)
(`bench models push`). Licence: CC-BY-4.0.

- trained on: unknown
- architecture: LCNN; parameters: ?; seeds: 0,1
- input: -
- score: -
- held-out test AUROC (mean over seeds): 91.2 %
- reference: -

Use it offline after `bench models pull OWNER/NAME`: `bench score FILE --detector lfcc-lcnn --model toy`.
Every file is listed with its SHA-256 in `model.json` and checked on pull and on load.
"""


def _package(folder: Path) -> str:
    parts = folder.relative_to(REPO).parts
    return ".".join(parts if parts[0] == "bench" else ("bench", *parts))


def test_every_template_ships_as_package_data():
    """A file in any templates/ folder matches a package-data pattern of its package (or the wheel lacks it)."""
    globs = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    folders = [p for root in ("bench", *FOLDERS) for p in (REPO / root).rglob("templates") if p.is_dir()]
    assert {_package(f.parent) for f in folders} >= {"bench.leaderboard", "bench.data", "bench.models"}
    missing = [str(f.relative_to(REPO)) for folder in folders for f in folder.iterdir()
               if not any(fnmatch(f"templates/{f.name}", g) for g in globs.get(_package(folder.parent), []))]
    assert missing == []


def test_the_page_template_is_found_and_escapes_as_before(tmp_path):
    """index.html comes from the package's templates (page, styles and script inline); values are escaped as
    html.escape does, as the page always was."""
    from bench.leaderboard.build import build

    result = make_result(tmp_path / "a", separation=2.0, challenges=(0, 3))
    build([result], tmp_path / "lb", title="bench 'board' & \"co\"")
    page = (tmp_path / "lb" / "index.html").read_text()
    assert page.startswith("<!DOCTYPE html>\n") and page.endswith("</script>\n</body></html>\n")
    assert "<title>bench &#x27;board&#x27; &amp; &quot;co&quot;</title>" in page
    assert "th.asc::after{content:\" \\25B2\"}" in page and "function cellValue(td) {" in page
    assert 'const meta = {"entries": 1};' in page and "<svg" in page and "{{" not in page and "{%" not in page


def test_values_are_escaped_like_the_html_module():
    assert escape_like_html_module("<a href='x'>\"&") == "&lt;a href=&#x27;x&#x27;&gt;&quot;&amp;"
    assert escape_like_html_module(Markup("<b>")) == "<b>" and escape_like_html_module(0.5) == "0.5"


def test_the_dataset_card_is_the_one_bench_always_wrote():
    from datasets import Dataset

    from bench.data.hub import dataset_card

    ds = Dataset.from_dict({"utterance_id": ["a", "b"], "label": [0, 1]})
    manifest = {"name": "sim <s0> & 'x'", "kind": "corpus", "simulated": True, "content_hash": "abc",
                "taxonomy_version": 2}
    assert dataset_card(manifest, ds, "folder", "me/sim") == DATASET_CARD
    real = dataset_card({"content_hash": "abc", "taxonomy_version": 2}, ds, "folder", "me/sim")
    assert "# folder\n" in real and "(`bench data push`). \n" in real and "simulated" not in real


def test_the_model_card_is_the_one_bench_always_wrote(tmp_path):
    from bench.models.hub import model_card
    from bench.models.store import ModelCard, ModelEntry

    card = ModelCard(name="toy", detector="lfcc-lcnn", license="CC-BY-4.0", architecture="LCNN", seeds=[0, 1],
                     metrics={"test_summary": {"auroc_mean": 0.9123}})
    assert model_card(ModelEntry(tmp_path, card), "OWNER/NAME") == MODEL_CARD
