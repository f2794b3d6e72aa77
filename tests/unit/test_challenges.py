"""The taxonomy, scripts and challenge issuance, through the library and the real CLI."""

from __future__ import annotations

import json

import pytest

from bench.api import BenchError
from bench.challenges.issue import issue
from bench.challenges.scripts import scripts, use_scripts
from bench.challenges.taxonomy import all_challenges, get, parse_selection
from bench.references.pitch import paper_series, row, table, top10
from tests.helpers.cli import run_bench
from tests.helpers.paths import REPO

PAPER = REPO.parent / "shared" / "papers" / "pitch.txt"
#: Pitch Table 3's numbering and names (row #15, missing from the text extraction, as in Table A.2)
TABLE3 = ["No Challenge", "Static Mouth", "Cup mouth", "Whisper", "Hold nose", "High Pitch", "Low Pitch", "Sing",
          "Speak Loudly", "Speak softly", "Read quickly", "Read Slowly", "Foreign Words", "Accent", "Emotions",
          "Question", "Cough/Whistle", "Clap", "Crosstalk", "Instr. Playback", "Lyric Playback"]


def test_taxonomy_has_21_challenges_with_pitch_constraints():
    items = all_challenges()
    assert [c.id for c in items] == list(range(21))
    assert get(12).content == "foreign_wer"
    assert get(15).content == "question"
    assert get(16).content == "none"
    assert get(20).key == "lyrical_playback"
    assert [c.id for c in items if not c.mobile] == [18, 19, 20]
    assert sum(c.available_on("mobile") for c in items) == 18


def test_numbering_and_names_are_the_papers():
    assert [c.name for c in all_challenges()] == TABLE3
    assert [get(i).key for i in (1, 3, 7, 15)] == ["static_mouth", "whisper", "sing", "question"]


@pytest.mark.skipif(not PAPER.is_file(), reason="../shared/papers/pitch.txt not present")
def test_numbering_matches_the_paper_text():
    """Every Table 3 row of the paper's text ('#N | name | integer |', the first such table) names the
    challenge bench numbers N; Table A.2's rows (decimals) name the same ids."""
    import re

    text = PAPER.read_text(encoding="utf-8")
    rows: dict[str, str] = {}
    for cid, name in re.findall(r"^#(\d+) \| ([^|]+?) \| (?:-|\d+) \|", text, re.M):
        rows.setdefault(cid, name)
    assert len(rows) == 20 and "15" not in rows
    figures: dict[str, list] = {}
    for cid, cells in re.findall(r"^#(\d+) \| [^|]+? \| ((?:(?:-|\d+) \|\s?){6})$", text, re.M):
        figures.setdefault(cid, [None if c.strip() == "-" else int(c) for c in cells.split("|")[:6]])
    table3 = {cid: list(r.values()) for cid, r in table("table3")["rows"].items()}
    assert figures == table3
    for cid, name in rows.items():
        assert get(int(cid)).name == name.strip(), cid


def test_paper_figures_are_the_tables():
    pitch = paper_series("pitch").per_challenge
    assert pitch[3] == 0.92 and pitch[0] == 0.56 and 15 not in pitch  # #15's row is missing from the paper text
    assert row("tableA2", 3)["val_acc"] == 90.9 and row("tableA2", 3)["human_baseline"] == 94.9
    assert row("tableA3", 3)["lfcc_lcnn"] == 84.8 and row("tableA3", 7) is None
    assert top10() == [1, 2, 3, 5, 9, 12, 14, 18, 19, 20]
    assert paper_series("lfcc-lcnn").average == pytest.approx(0.751)
    assert paper_series("specrnet").average == pytest.approx(0.86)


def test_default_scripts_are_table_a1_and_bench_set_remains(monkeypatch):
    s = scripts()
    assert s.name == "pitch"
    assert len(s.sentences) == len(s.questions) == len(s.foreign) == 10
    assert s.sentences[0].text == "The quick brown fox jumps over the lazy dog."
    assert s.questions[0].text == "Does the quick brown fox jump over the lazy dog?"
    assert [f.language for f in s.foreign][:3] == ["Finnish", "French", "Spanish"]
    assert all(q.text.endswith("?") for q in s.questions)
    monkeypatch.delenv("BENCH_SCRIPTS", raising=False)
    use_scripts("bench")
    try:
        assert scripts().name == "bench" and scripts().sentences[0].text != s.sentences[0].text
    finally:
        monkeypatch.delenv("BENCH_SCRIPTS", raising=False)


def test_selection_parsing():
    assert parse_selection("0,1,5-7") == [0, 1, 5, 6, 7]
    assert parse_selection("whisper,sing") == [3, 7]
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
    assert {c.id for c in top} <= set(top10())
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
    listed = json.loads(res.stdout)
    assert [(c["id"], c["name"]) for c in listed] == list(enumerate(TABLE3))
    table = run_bench("challenges", "list")
    assert "Lyric Playback" in table.stdout
    show = run_bench("challenges", "show", "3", "--json")
    doc = json.loads(show.stdout)
    assert doc["key"] == "whisper" and doc["paper"]["Table 3"]["auroc"] == 92
    assert doc["paper"]["Table A.2"] == {"human_baseline": 94.9, "val_acc": 90.9, "test_acc": None, "auc": 93.1,
                                         "precision": 0.92, "recall": 0.9, "f1": 0.91}
    text = run_bench("challenges", "show", "3").stdout
    assert "Whisper" in text and "auroc 92" in text and "Table A.2" in text
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
    doc = json.loads((REPO / "challenges" / "data" / "scripts" / "pitch.json").read_text())
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
