"""The taxonomy, scripts and challenge issuance, through the library and the real CLI."""

from __future__ import annotations

import json

import pytest
from conftest import REPO, run_bench

from bench.errors import BenchError
from challenges.issue import issue
from challenges.scripts import scripts
from challenges.taxonomy import all_challenges, get, parse_selection


def test_taxonomy_has_21_challenges_with_pitch_constraints():
    items = all_challenges()
    assert [c.id for c in items] == list(range(21))
    assert get(12).content == "foreign_wer"
    assert get(15).content == "question"
    assert get(16).content == "none"
    assert get(20).key == "lyrical_playback"
    assert [c.id for c in items if not c.mobile] == [18, 19, 20]
    assert sum(c.available_on("mobile") for c in items) == 18


def test_scripts_have_ten_each():
    s = scripts()
    assert len(s.sentences) == len(s.questions) == len(s.foreign) == 10
    assert all(q.text.endswith("?") for q in s.questions)
    assert len({f.espeak for f in s.foreign}) == 10


def test_selection_parsing():
    assert parse_selection("0,1,5-7") == [0, 1, 5, 6, 7]
    assert parse_selection("whisper,sing") == [1, 11]
    assert parse_selection(None) == list(range(21))
    with pytest.raises(BenchError, match="unknown challenge"):
        parse_selection("0,42")


def test_issue_is_reproducible_and_never_repeats():
    seed, first = issue(count=3, seed=1)
    _, again = issue(count=3, seed=1)
    assert seed == 1 and first == again
    _, long = issue(count=20, seed=5)
    assert len({c.id for c in long}) == 20 and 0 not in {c.id for c in long}


def test_issue_filters_by_device_and_top():
    _, mobile = issue(count=17, seed=3, device="mobile")
    assert not {18, 19, 20} & {c.id for c in mobile}
    _, top = issue(count=5, seed=3, top=5)
    shortlisted = {c.id for c in all_challenges() if c.paper_shortlist}
    assert {c.id for c in top} <= shortlisted
    with pytest.raises(BenchError, match="exceeds"):
        issue(count=6, top=5)


def test_issue_randomises_parameters():
    seen = set()
    for seed in range(30):
        _, items = issue(count=1, seed=seed)
        seen.add(json.dumps(items[0].parameters, sort_keys=True))
    assert len(seen) > 10


def test_cli_list_show_issue():
    res = run_bench("challenges", "list", "--json")
    assert res.returncode == 0, res.stderr
    assert len(json.loads(res.stdout)) == 21
    table = run_bench("challenges", "list")
    assert "Lyrical playback" in table.stdout
    show = run_bench("challenges", "show", "whisper", "--json")
    assert json.loads(show.stdout)["id"] == 1
    a = run_bench("challenges", "issue", "--seed", "1", "--count", "3", "--json")
    b = run_bench("challenges", "issue", "--seed", "1", "--count", "3", "--json")
    assert a.returncode == 0 and a.stdout == b.stdout
    ids = [c["id"] for c in json.loads(a.stdout)["challenges"]]
    assert len(ids) == len(set(ids)) == 3


@pytest.mark.parametrize("args, needle", [
    (("challenges", "show", "99"), "unknown challenge 99"),
    (("challenges", "issue", "--count", "0"), "--count"),
    (("challenges", "issue", "--device", "fax"), "--device"),
    (("challenges", "list", "--device", "fax"), "--device"),
    (("challenges", "issue", "--wrong-flag"), "No such option"),
])
def test_cli_bad_input_is_one_line_exit_2(args, needle):
    res = run_bench(*args)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], res.stderr


def test_custom_scripts_file(tmp_path):
    doc = json.loads((REPO / "challenges" / "data" / "scripts.json").read_text())
    for i, s in enumerate(doc["sentences"]):
        s["text"] = f"Paper sentence number {i}."
    custom = tmp_path / "table_a1.json"
    custom.write_text(json.dumps(doc))
    res = run_bench("challenges", "issue", "--seed", "4", "--count", "20", "--json", "--scripts", str(custom))
    texts = [c["parameters"].get("text", "") for c in json.loads(res.stdout)["challenges"]]
    assert any(t.startswith("Paper sentence number") for t in texts)
    bad = tmp_path / "bad.json"
    bad.write_text('{"sentences": []}')
    res = run_bench("challenges", "issue", "--scripts", str(bad))
    assert res.returncode == 2 and "not a scripts file" in res.stderr
