"""The field's dataset layouts (issue #26): each is read from a small local replica the test builds, and every
kind of bad input is one line naming the file and line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.data.labelled import open_labelled, split_source
from bench.errors import BenchError
from bench.evaluation.asvspoof_scoring import asvspoof_eer, official_score_lines
from bench.evaluation.deployment import errors_at
from tests.helpers import field_replicas as fr

LAYOUTS = {
    "asvspoof2019": (lambda r: fr.asvspoof2019_la(r), "asvspoof2019-la", "eval", ["attack"], (4, 4)),
    "asvspoof2021-la": (lambda r: fr.asvspoof2021(r, "LA"), "asvspoof2021-la", "eval", ["attack", "codec"], (3, 3)),
    "asvspoof2021-df": (lambda r: fr.asvspoof2021(r, "DF"), "asvspoof2021-df", "eval",
                        ["attack", "compression", "vocoder"], (3, 3)),
    "asvspoof5": (fr.asvspoof5, "asvspoof5", "eval", ["codec", "gender"], (4, 4)),
    "in-the-wild": (fr.in_the_wild, "in-the-wild", "eval", [], (4, 4)),
    "mlaad": (fr.mlaad, "mlaad", "eval", ["attack", "language"], (4, 4)),
    "parquet": (fr.arena_parquet, None, "test", ["attack"], (4, 4)),
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_each_layout_reads_its_replica(layout, tmp_path):
    build, name, split, breakdowns, (n_bona, n_spoof) = LAYOUTS[layout]
    root = build(tmp_path / "data")
    data = open_labelled(str(root))
    assert data.layout == (layout.split("-")[0] if layout.startswith("asvspoof2021") else layout)
    assert data.name == (name or root.name.lower()) and data.split == split
    assert data.counts() == {"bona_fide": n_bona, "spoof": n_spoof}
    assert data.breakdowns() == breakdowns
    assert all(it.attack == "-" for it in data.items if it.label == 0)
    assert all(it.attack != "-" for it in data.items if it.label == 1)
    audio = list(data.audio_stream()) if data.audio_stream else [it.audio for it in data.items]
    assert len(audio) == len(data.items)  # a streamed source's audio comes in item order, one entry per item
    for entry in audio:
        assert entry.get("bytes") or Path(entry["path"]).is_file()
    again = open_labelled(str(root))
    assert again.revision == data.revision and len(data.revision) == 64 or data.layout == "mlaad"


def test_asvspoof2019_reads_each_split_and_its_official_fields(tmp_path):
    la = fr.asvspoof2019_la(tmp_path, splits=("train", "dev", "eval"))
    assert open_labelled(str(la)).splits == ["train", "dev", "eval"]
    dev = open_labelled(f"{la}:dev")
    assert dev.split == "dev" and all(it.utterance_id.startswith("LA_D_") for it in dev.items)
    assert {it.attack for it in dev.items} == {"-", "A07", "A08"}
    assert open_labelled(str(tmp_path)).name == "asvspoof2019-la"  # the folder holding LA/ works too
    assert open_labelled(str(la), "train").split == "train"  # --split overrides


def test_asvspoof2021_subsets_are_splits(tmp_path):
    root = fr.asvspoof2021(tmp_path, "LA")
    assert len(open_labelled(str(root), "all").items) == 8
    assert len(open_labelled(str(root), "progress").items) == 2
    codec = {it.utterance_id: it.conditions["codec"] for it in open_labelled(str(root)).items}
    assert codec["LA_E_2000000"] == "alaw" and codec["LA_E_2000002"] == "none"


def test_parquet_labels_by_class_names_or_words_and_notes_fields(tmp_path):
    for label_as in ("classlabel", "string"):
        root = fr.arena_parquet(tmp_path / label_as, label_as=label_as)
        data = open_labelled(str(root))
        first, second = data.items[0], data.items[1]
        assert (first.label, second.label) == (0, 1) and first.audio is None  # streamed while scoring
        assert first.utterance_id == "ARENA_0" and first.speaker == "spk0" and second.attack == "A11"
        assert next(data.audio_stream())["bytes"][:4] == b"fLaC"


def test_a_column_map_reads_other_names(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    root = fr.arena_parquet(tmp_path / "a")
    table = pq.read_table(next((root / "data").glob("*.parquet")))
    renamed = table.rename_columns(["file", "wav", "is_spoof", "meta"])
    out = tmp_path / "b" / "data"
    out.mkdir(parents=True)
    pq.write_table(pa.table(renamed.columns, names=renamed.column_names, metadata=None),
                   out / "test-00000-of-00001.parquet")
    with pytest.raises(BenchError, match=r"no column 'audio' \(columns: file, wav, is_spoof, meta\).*--column"):
        open_labelled(str(tmp_path / "b"))
    with pytest.raises(BenchError, match="holds integers with no class names"):
        open_labelled(str(tmp_path / "b"), columns={"audio": "wav", "label": "is_spoof"})
    with pytest.raises(BenchError, match="--column label=nope: no such column"):
        open_labelled(str(tmp_path / "b"), columns={"audio": "wav", "label": "nope"})
    with pytest.raises(BenchError, match="--column voice=...: not a bench field"):
        open_labelled(str(tmp_path / "b"), columns={"voice": "wav"})


def _break(path: Path, old: str, new: str) -> None:
    path.write_text(path.read_text().replace(old, new, 1))


BAD = [
    ("a protocol line with missing fields", lambda la: _break(la / "ASVspoof2019_LA_cm_protocols" /
                                                             "ASVspoof2019.LA.cm.eval.trl.txt", " - A07 spoof", ""),
     r"ASVspoof2019.LA.cm.eval.trl.txt:5: 2 field\(s\), expected 5"),
    ("a label outside the known words", lambda la: _break(la / "ASVspoof2019_LA_cm_protocols" /
                                                         "ASVspoof2019.LA.cm.eval.trl.txt", "bonafide", "genuine"),
     r"eval.trl.txt:1: label 'genuine' is not bonafide or spoof"),
    ("audio listed but missing", lambda la: next((la / "ASVspoof2019_LA_eval" / "flac").glob("*.flac")).unlink(),
     r"eval.trl.txt:\d: LA_E_\d+.flac is listed but .* does not exist"),
    ("a name that leads out of the folder", lambda la: _break(la / "ASVspoof2019_LA_cm_protocols" /
                                                             "ASVspoof2019.LA.cm.eval.trl.txt", "LA_E_1000008",
                                                             "../../../x"),
     r"only plain relative paths"),
    ("a repeated utterance", lambda la: _break(la / "ASVspoof2019_LA_cm_protocols" /
                                              "ASVspoof2019.LA.cm.eval.trl.txt", "LA_E_1000009", "LA_E_1000008"),
     r"utterance 'LA_E_1000008' is listed twice"),
]


@pytest.mark.parametrize("what,damage,message", BAD, ids=[b[0] for b in BAD])
def test_bad_protocols_are_one_line_naming_file_and_line(what, damage, message, tmp_path):
    la = fr.asvspoof2019_la(tmp_path)
    damage(la)
    with pytest.raises(BenchError, match=message) as info:
        open_labelled(str(la))
    assert "\n" not in str(info.value)


def test_bad_in_the_wild_and_sources(tmp_path):
    itw = fr.in_the_wild(tmp_path / "itw")
    _break(itw / "meta.csv", "bona-fide", "real")
    with pytest.raises(BenchError, match=r"meta.csv:2: label 'real' is not bona-fide or spoof"):
        open_labelled(str(itw))
    with pytest.raises(BenchError, match=r"no split 'train' \(this dataset has eval\)"):
        open_labelled(f"{fr.in_the_wild(tmp_path / 'itw2')}:train")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BenchError, match="not a known dataset layout"):
        open_labelled(str(tmp_path / "empty"))
    with pytest.raises(BenchError, match="no such folder, and not a Hub repo id"):
        open_labelled(str(tmp_path / "missing" / "x" / "y"))
    assert split_source("owner/name:test") == ("owner/name", "test")
    assert split_source(str(tmp_path)) == (str(tmp_path), None)


def test_an_unknown_repo_id_offline_is_one_line(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(BenchError) as info:
        open_labelled("nobody-here/no-such-dataset:test")
    assert "nobody-here/no-such-dataset" in str(info.value) and "\n" not in str(info.value)


def _reference_eer(bona: list[float], spoof: list[float]) -> tuple[float, float]:
    """The organisers' procedure as a plain loop: thresholds the sorted scores (a stable sort; one below the
    lowest first); at each, FRR = bona fide at or below it, FAR = spoofs above it; the first least |FRR - FAR|."""
    scores = sorted([(s, 1) for s in bona] + [(s, 0) for s in spoof], key=lambda p: p[0])
    best, best_diff = None, None
    candidates = [(0.0, 1.0, scores[0][0] - 0.001)]
    below_t = below_n = 0
    for k, (s, is_target) in enumerate(scores, 1):
        below_t += is_target
        below_n = k - below_t
        candidates.append((below_t / len(bona), (len(spoof) - below_n) / len(spoof), s))
    for frr, far, t in candidates:
        if best_diff is None or abs(frr - far) < best_diff:
            best, best_diff = ((frr + far) / 2, t), abs(frr - far)
    return best


@pytest.mark.parametrize("seed", range(6))
def test_asvspoof_eer_is_the_organisers_procedure(seed):
    rng = np.random.default_rng(seed)
    bona = np.round(rng.normal(1, 1, 40 + seed), 1 if seed % 2 else 6)  # odd seeds: many tied scores
    spoof = np.round(rng.normal(-1, 1, 300), 1 if seed % 2 else 6)
    assert asvspoof_eer(bona, spoof) == _reference_eer(bona.tolist(), spoof.tolist())


def test_official_score_lines_match_the_official_writer():
    assert official_score_lines([("LA_E_1", "A07", "spoof", -3.5744407176971436)]) == \
        ["LA_E_1 A07 spoof -3.5744407176971436\n"]


def test_errors_at_a_carried_over_threshold():
    labels = np.array([0] * 10 + [1] * 4)
    scores = np.array([0.1] * 8 + [0.9, 0.95] + [0.2, 0.8, 0.85, 0.99])
    e = errors_at(labels, scores, 0.5, n_boot=500, seed=1)
    assert e["fpr"]["value"] == pytest.approx(0.2) and e["fnr"]["value"] == pytest.approx(0.25)
    assert e["hter"]["value"] == pytest.approx(0.225)
    assert e["fpr"]["ci_low"] <= 0.2 <= e["fpr"]["ci_high"] and e["hter"]["ci_low"] < e["hter"]["ci_high"]
    one_class = errors_at(np.zeros(3), np.zeros(3), 0.0)
    assert one_class["fnr"]["value"] is None and one_class["hter"]["value"] is None


def _reference_min_tdcf(bona: list[float], spoof: list[float], keys: list[str], asv: list[float]) -> float:
    """The 2019 tandem t-DCF written out plainly: the ASV system at its own EER point, the CM swept over every
    sorted score, C1 * Pmiss_cm + C2 * Pfa_cm over min(C1, C2)."""
    tar = [v for k, v in zip(keys, asv, strict=True) if k == "target"]
    non = [v for k, v in zip(keys, asv, strict=True) if k == "nontarget"]
    spf = [v for k, v in zip(keys, asv, strict=True) if k == "spoof"]
    thr = _reference_eer(tar, non)[1]
    p_fa = sum(v >= thr for v in non) / len(non)
    p_miss = sum(v < thr for v in tar) / len(tar)
    p_miss_spoof = sum(v < thr for v in spf) / len(spf)
    p_tar, p_non, p_spoof = 0.95 * 0.99, 0.95 * 0.01, 0.05
    c1 = p_tar * (1 - 1 * p_miss) - p_non * 10 * p_fa
    c2 = 10 * p_spoof * (1 - p_miss_spoof)
    scores = sorted([(s, 1) for s in bona] + [(s, 0) for s in spoof], key=lambda p: p[0])
    best, below_t = c1 * 0 + c2 * 1, 0
    for k, (_, is_bona) in enumerate(scores, 1):
        below_t += is_bona
        p_miss_cm, p_fa_cm = below_t / len(bona), (len(spoof) - (k - below_t)) / len(spoof)
        best = min(best, c1 * p_miss_cm + c2 * p_fa_cm)
    return best / min(c1, c2)


@pytest.mark.parametrize("seed", range(4))
def test_min_tdcf_is_the_2019_definition(seed):
    from bench.evaluation.asvspoof_scoring import min_tdcf_2019

    rng = np.random.default_rng(seed)
    bona, spoof = rng.normal(2, 1.5, 50), rng.normal(-1, 1.5, 400)
    keys = ["target"] * 40 + ["nontarget"] * 80 + ["spoof"] * 60
    asv = np.r_[rng.normal(3, 1, 40), rng.normal(-2, 1, 80), rng.normal(1, 2, 60)]
    assert min_tdcf_2019(bona, spoof, keys, asv) == pytest.approx(
        _reference_min_tdcf(bona.tolist(), spoof.tolist(), keys, asv.tolist()), rel=1e-12)
    with pytest.raises(ValueError, match="targets, nontargets and spoofs"):
        min_tdcf_2019(bona, spoof, ["target"] * 180, asv)


def test_asv_scores_are_read_with_the_2019_layout_and_checked(tmp_path):
    la = fr.asvspoof2019_la(tmp_path)
    keys, scores = open_labelled(str(la)).asv_scores
    assert set(keys) == {"target", "nontarget", "spoof"} and len(scores) == 130
    path = la / "ASVspoof2019_LA_asv_scores" / "ASVspoof2019.LA.asv.eval.gi.trl.scores.txt"
    _break(path, "bonafide target", "bonafide targte")
    with pytest.raises(BenchError, match=r"gi.trl.scores.txt:1: ASV key 'targte'"):
        open_labelled(str(la))


def test_field_info_counts_and_audio_hours(tmp_path, capfd):
    import json

    from tests.helpers.cli import invoke

    la = fr.asvspoof2019_la(tmp_path / "la")
    res = invoke(["data", "field-info", str(la), "--durations", "--json"], capfd)
    assert res.code == 0, res.stderr
    info = json.loads(res.stdout)
    assert info["items"] == 8 and info["attacks"] == {"A07": 2, "A08": 2}
    seconds = [0.8, 1.3, 1.8, 0.8, 0.7, 1.3, 0.7, 1.3]  # the replica's clip lengths, in protocol order
    assert info["audio"]["hours"] == pytest.approx(sum(seconds) / 3600, rel=1e-3)
    arena = fr.arena_parquet(tmp_path / "arena")
    res = invoke(["data", "field-info", str(arena), "--durations"], capfd)
    assert res.code == 0 and "8 items: 4 bona fide, 4 spoof" in res.stdout and "(8 s)" in res.stdout
    bad = invoke(["data", "field-info", str(tmp_path / "nowhere" / "x" / "y")], capfd)
    assert bad.code == 2 and len(bad.lines) == 1


def test_a_parquet_row_without_embedded_audio_is_left_out(tmp_path):
    """A row whose audio column holds no bytes (only a path, which would lead out of the dataset) streams as
    None, and the run leaves it out with its reason instead of scoring silence."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from bench.runs.evaluate_dataset import to_samples

    root = fr.arena_parquet(tmp_path / "arena", n=4)
    part = next((root / "data").glob("*.parquet"))
    table = pq.read_table(part)
    audio = table.column("audio").to_pylist()
    audio[2] = {"bytes": None, "path": "elsewhere.flac"}
    pq.write_table(table.set_column(table.schema.get_field_index("audio"), "audio",
                                    pa.array(audio, type=table.schema.field("audio").type)), part)
    data = open_labelled(str(root))
    entries = list(data.audio_stream())
    assert [e is None for e in entries] == [False, False, True, False]
    from dataclasses import replace

    samples, skipped = to_samples([replace(it, audio=e) for it, e in zip(data.items, entries, strict=True)])
    assert len(samples) == 3 and skipped[0]["utterance_id"] == "ARENA_2" and "no embedded audio" in skipped[0]["error"]
