"""The README's promise on bad input, for every command: exit 2, one line on stderr, no traceback,
and every file that existed before byte-identical afterwards (nothing new written either).

A workspace holds real outputs of every command (a simulated corpus, WORLD fakes, compliance
classifiers, results, a leaderboard, a Hub export) and prepared bad inputs; each case of the
table runs one command line against it in this process (``tests.helpers.cli.invoke``) and checks
the workspace did not move. A sample of the table runs again as real subprocesses, and
Hypothesis searches numeric options, selections, metadata files, audio bytes, results JSON
and gate configurations for inputs that break the promise.
"""

from __future__ import annotations

import io
import json
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.data.corpus import CORPUS_FEATURES, build_dataset, read_manifest, save
from bench.fileio import write_json
from tests.helpers.cli import assert_bad_input, changes, content_snapshot, invoke, run_bench, stat_snapshot
from tests.helpers.paths import REPO
from tests.helpers.results import make_result


# ---------------------------------------------------------------- the workspace
def wav_bytes(seconds: float = 1.0, sr: int = 16000, amplitude: float = 0.3, freq: float = 220.0) -> bytes:
    t = np.arange(int(sr * seconds)) / sr
    buf = io.BytesIO()
    sf.write(buf, amplitude * np.sin(2 * np.pi * freq * t), sr, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def truncated_wav(seconds: float = 1.0) -> bytes:
    """A WAV whose data chunk declares more bytes than the file holds (a half-copied file)."""
    raw = wav_bytes(seconds)
    return raw[: len(raw) // 2]


def _recordings(folder: Path, csv_text: str | bytes, files: dict[str, bytes]) -> Path:
    folder.mkdir(parents=True)
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    meta = folder / "metadata.csv"
    meta.write_bytes(csv_text if isinstance(csv_text, bytes) else csv_text.encode())
    return folder


GOOD = {"a.wav": wav_bytes(1.5), "b.wav": wav_bytes(1.5, freq=330)}
HEADER = "utterance_id,subject,challenge,audio\n"


def _silent_ref_corpus(path: Path) -> None:
    """Two subjects whose only challenge-0 recordings are silent: nothing may serve as a reference."""
    rows = []
    for subject in ("s1", "s2"):
        for challenge, data in ((0, wav_bytes(2.0, amplitude=0.0)), (1, wav_bytes(2.0))):
            for sentence in (0, 1):
                rows.append({"utterance_id": f"{subject}-{challenge}-{sentence}", "subject": subject,
                             "challenge": challenge, "sentence_id": sentence, "script": "hello there",
                             "device": "desktop", "audio": {"bytes": data, "path": None}, "sample_rate": 16000,
                             "duration_s": 2.0})
    save(build_dataset(rows, CORPUS_FEATURES), path, {"kind": "corpus", "name": "silent-refs"})


def _corpus_variants(corpus: Path, bad: Path) -> None:
    """Hand-edited corpora: a string column, an unknown challenge id, undecodable audio; Hub-layout folders
    with wrong types, no rows or an unknown challenge."""
    import datasets
    import pyarrow as pa
    import pyarrow.parquet as pq

    ds = datasets.load_from_disk(str(corpus))
    ds.cast_column("duration_s", datasets.Value("string")).save_to_disk(str(bad / "string_durations"))
    rows = ds.to_list()
    save(build_dataset([{**r, "challenge": -5 if i == 0 else r["challenge"]} for i, r in enumerate(rows)]),
         bad / "challenge_minus_5", {"kind": "corpus", "name": "edited"})
    save(build_dataset([{**r, "audio": {"bytes": b"RIFF-garbage", "path": None}} if i == 0 else r
                        for i, r in enumerate(rows)]), bad / "garbage_audio", {"kind": "corpus", "name": "garbage"})
    table = pa.table({c: pa.array([str(r[c]) for r in rows[:2]]) for c in CORPUS_FEATURES if c != "audio"})
    for name, t in (("hub_wrong_types", table.append_column("audio", pa.array([1, 2]))),
                    ("hub_empty", build_dataset([]).data.table),
                    ("hub_challenge_99", build_dataset([{**rows[0], "challenge": 99}]).data.table)):
        (bad / name / "data").mkdir(parents=True)
        pq.write_table(t, bad / name / "data" / "train-00000-of-00001.parquet")


def _one_speaker(corpus: Path, fakes: Path) -> None:
    """A corpus of one speaker and 'fakes' of it: nothing to train held-out classifiers on."""
    from bench.data.corpus import FAKE_FEATURES, content_hash

    rows = [{"utterance_id": f"s1-{c}-{k}", "subject": "s1", "challenge": c, "sentence_id": k, "script": "hello",
             "device": "desktop", "audio": {"bytes": wav_bytes(2.0, freq=200 + 50 * k), "path": None},
             "sample_rate": 16000, "duration_s": 2.0} for c in (0, 1) for k in (0, 1)]
    ds = build_dataset(rows, CORPUS_FEATURES)
    manifest = save(ds, corpus, {"kind": "corpus", "name": "one-speaker"})
    fake_rows = [{**r, "utterance_id": f"fake-{r['utterance_id']}", "target": "s1", "imposter": "s2",
                  "source_id": r["utterance_id"], "reference_id": "s1-0-0", "generator": "test",
                  "generator_config": "{}", "status": "ok", "error": "", "seconds": 0.0} for r in rows]
    save(build_dataset(fake_rows, FAKE_FEATURES), fakes,
         {"kind": "fakes", "corpus": {"content_hash": manifest["content_hash"]}, "name": "f"})
    assert content_hash(ds) == manifest["content_hash"]


def _fake_freevc(repo: Path, checkpoint: bytes) -> None:
    (repo / "configs").mkdir(parents=True)
    (repo / "wavlm").mkdir()
    (repo / "models.py").write_text("# not the real FreeVC\n")
    config = {"data": {"sampling_rate": 16000, "hop_length": 320, "filter_length": 1280},
              "model": {"use_spk": False, "ssl_dim": 1024}, "train": {"segment_size": 8960}}
    (repo / "configs" / "freevc.json").write_text(json.dumps(config))
    (repo / "wavlm" / "WavLM-Large.pt").write_bytes(b"not a checkpoint")
    (repo / "freevc.pth").write_bytes(checkpoint)


@pytest.fixture(scope="module")
def ws(sim_corpus, tmp_path_factory) -> Path:
    """Real outputs of every command plus prepared bad inputs."""
    ws = tmp_path_factory.mktemp("contract") / "ws"
    ws.mkdir()
    shutil.copytree(sim_corpus, ws / "corpus")
    res = run_bench("generate", "--corpus", str(ws / "corpus"), "--out", str(ws / "fakes"), "--challenges", "0,1",
                    "--workers", "2")
    assert res.returncode == 0, res.stderr
    res = run_bench("train", "compliance", "--corpus", str(ws / "corpus"), "--out", str(ws / "compliance"),
                    "--challenges", "1", "--epochs", "1", "--folds", "2", "--test-speakers", "1")
    assert res.returncode == 0, res.stderr
    make_result(ws / "result", separation=2.0)
    make_result(ws / "result_other", separation=1.0, corpus_hash="fedcba9876543210", seed=3)
    assert run_bench("leaderboard", "build", str(ws / "result"), "--out", str(ws / "board")).returncode == 0
    assert run_bench("data", "push", str(ws / "corpus"), "--to-folder", str(ws / "hub")).returncode == 0
    (ws / "foreign").mkdir()
    (ws / "foreign" / "notes.txt").write_text("my own files\n")
    (ws / "file.txt").write_text("a regular file\n")
    (ws / "empty").mkdir()
    (ws / "scripts").mkdir()
    shutil.copy(REPO / "challenges" / "data" / "scripts" / "pitch.json",
                ws / "scripts" / "scripts.json")

    bad = ws / "bad"
    bad.mkdir()
    (bad / "list.json").write_text("[1, 2, 3]")
    (bad / "notjson.json").write_text("{ not json")
    (bad / "wrong_schema.json").write_text(json.dumps({"schema_version": "0.1"}))
    doc = json.loads((ws / "result" / "result.json").read_text())
    doc["overall"] = "high"
    (bad / "bad_field.json").write_text(json.dumps(doc))
    for name, text in {"gate_missing_table.toml": "gate = 5\n", "gate_unknown.toml": "[gate]\nfoo = 1\n",
                       "gate_string.toml": "[gate]\nauroc_drop = \"0.02\"\n",
                       "gate_negative.toml": "[gate]\nauroc_drop = -0.1\n",
                       "gate_nan.toml": "[gate]\neer_rise = nan\n", "gate_inf.toml": "[gate]\nthroughput_fall = inf\n",
                       "gate_bool.toml": "[gate]\nci_aware = \"yes\"\n", "gate_notoml.toml": "[gate\n",
                       "gate_array.toml": "[gate]\nauroc_drop = [0.1]\n"}.items():
        (bad / name).write_text(text)
    (bad / "scripts_list.json").write_text("[]")
    (bad / "scripts_partial.json").write_text(json.dumps({"source": "x", "sentences": [], "questions": [],
                                                          "foreign": []}))
    for name, mutate in (("corrupt_manifest", lambda p: (p / "bench.json").write_text("{")),
                         ("manifest_list", lambda p: (p / "bench.json").write_text("[]")),
                         ("corrupt_state", lambda p: (p / "state.json").write_text("{"))):
        shutil.copytree(ws / "corpus", bad / name)
        mutate(bad / name)
    (bad / "no_state").mkdir()
    (bad / "no_state" / "bench.json").write_text("{}")
    _silent_ref_corpus(bad / "silent_refs")
    _fake_freevc(bad / "freevc_empty_ckpt", b"")
    (bad / "scores_only").mkdir()
    (bad / "scores_only" / "scores.parquet").write_text("not parquet")
    for name, table in (("corrupt_scores", None), ("scores_no_column", {"utterance_id": ["a"], "label": [0]})):
        (bad / name).mkdir()
        shutil.copy(ws / "result" / "result.json", bad / name)
        if table is None:
            (bad / name / "scores.parquet").write_bytes(b"PAR1 not really")
        else:
            import pyarrow as pa

            from bench.evaluation.results import write_scores

            write_scores(bad / name / "scores.parquet", [], table=pa.table(table))
    _one_speaker(bad / "one_speaker", bad / "one_speaker_fakes")
    deep = "[" * 100_000 + "]" * 100_000
    (bad / "deep.json").write_text(deep)
    (bad / "gate_deep.toml").write_text("a = " + "[" * 5000 + "]" * 5000 + "\n")
    (bad / "binary.bin").write_bytes(bytes(range(256)) * 8)
    (bad / "deep_marker").mkdir()
    (bad / "deep_marker" / ".bench-run.json").write_text(deep)
    (bad / "deep_marker" / "data.bin").write_bytes(b"x")
    (bad / "looks_like_bench").mkdir()
    (bad / "looks_like_bench" / "result.json").write_text("{}")
    (bad / "looks_like_bench" / "thesis.tex").write_text("years of work")
    shutil.copytree(ws / "corpus", bad / "deep_manifest")
    (bad / "deep_manifest" / "bench.json").write_text(deep)
    for name, change in (("timings_text.json", lambda d: d["timings"].update(rtfx_cpu="fast")),
                         ("latency_text.json", lambda d: d["timings"].update(latency="slow"))):
        doc = json.loads((ws / "result" / "result.json").read_text())
        change(doc)
        (bad / name).write_text(json.dumps(doc))
    _corpus_variants(ws / "corpus", bad)
    for name, mutate in (("compliance_no_weights", lambda p: next(p.glob("*.pt")).unlink()),
                         ("compliance_junk_weights", lambda p: next(p.glob("*.pt")).write_bytes(b"junk"))):
        shutil.copytree(ws / "compliance", bad / name)
        mutate(bad / name)
    (bad / "board_no_index").mkdir()
    (bad / "board_no_index" / "leaderboard.json").write_text("{}")

    rec = ws / "rec"
    _recordings(rec, HEADER + "u1,alice,0,a.wav\nu2,bob,1,b.wav\n", GOOD)
    variants = {
        "unknown_col": (HEADER.replace("audio", "audio,colour") + "u1,alice,0,a.wav,red\n", GOOD),
        "missing_col": ("utterance_id,subject,audio\nu1,alice,a.wav\n", GOOD),
        "not_utf8": ("utterance_id,subject,challenge,audio,script\nu1,alice,0,a.wav,caf\xe9\n".encode("latin-1"),
                     GOOD),
        "empty_subject": (HEADER + "u1,,0,a.wav\n", GOOD),
        "empty_audio": (HEADER + "u1,alice,0,\n", GOOD),
        "empty_challenge": (HEADER + "u1,alice,,a.wav\n", GOOD),
        "bad_device": ("subject,challenge,audio,device\nalice,0,a.wav,tablet\n", GOOD),
        "bad_sentence": ("subject,challenge,audio,sentence_id\nalice,0,a.wav,two\n", GOOD),
        "bad_challenge": (HEADER + "u1,alice,42,a.wav\n", GOOD),
        "dup_ids": (HEADER + "u1,alice,0,a.wav\nu1,bob,1,b.wav\n", GOOD),
        "header_only": (HEADER, GOOD),
        "both_names": ("subject,challenge,audio,file_name\nalice,0,a.wav,a.wav\n", GOOD),
        "all_corrupt": (HEADER + "u1,alice,0,x.wav\n", {"x.wav": b"RIFF\x00\x00\x00\x00WAVEjunk"}),
        "all_silent": (HEADER + "u1,alice,0,z.wav\n", {"z.wav": wav_bytes(2.0, amplitude=0.0)}),
        "all_short": (HEADER + "u1,alice,0,s.wav\n", {"s.wav": wav_bytes(0.05)}),
        "all_truncated": (HEADER + "u1,alice,0,t.wav\n", {"t.wav": truncated_wav(2.0)}),
        "missing_file": (HEADER + "u1,alice,0,nothere.wav\n", GOOD),
        "huge_sentence": ("subject,challenge,audio,sentence_id\nalice,0,a.wav,9999999999\n", GOOD),
        "audio_dot": (HEADER + "u1,alice,0,.\n", GOOD),
        "points_into_fakes": (HEADER + f"u1,alice,0,{next((ws / 'fakes' / 'audio').glob('*.wav'))}\n", GOOD),
    }
    for name, (text, files) in variants.items():
        _recordings(bad / "rec" / name, text, files)
    (bad / "rec" / "meta_is_dir").mkdir()
    (bad / "rec" / "meta_is_dir" / "metadata.csv").mkdir()
    (bad / "pitch_flat").mkdir()
    (bad / "pitch_flat" / "a.wav").write_bytes(GOOD["a.wav"])
    (bad / "pitch_badchal" / "alice" / "juggling").mkdir(parents=True)
    (bad / "pitch_badchal" / "alice" / "juggling" / "a.wav").write_bytes(GOOD["a.wav"])
    (bad / "no_audio").mkdir()
    (bad / "no_audio" / "readme.txt").write_text("nothing here")
    (bad / "wrong_ckpt.tar").write_bytes(b"not the nisqa weights")
    return ws


# ---------------------------------------------------------------- the table
# (case id, arguments, what the one stderr line must say). {ws} is the workspace, {new} a path
# under it that does not exist (and must still not exist afterwards).
C, F, R = "{ws}/corpus", "{ws}/fakes", "{ws}/result/result.json"
SIM = ["data", "simulate", "--speakers", "2", "--out", "{new}"]
GEN = ["generate", "--corpus", C, "--out", "{new}"]
EVAL = ["evaluate", "--corpus", C, "--fakes", F, "--compliance", "{ws}/compliance", "--out", "{new}"]
EVAL_TRAIN = ["evaluate", "--corpus", C, "--fakes", F, "--out", "{new}"]  # classifiers trained in --out
TRAIN = ["train", "compliance", "--corpus", C, "--out", "{new}"]
LOAD = ["data", "load", "{ws}/rec", "--out", "{new}"]
SUBSET = ["data", "subset", "--hard", "--result", "{ws}/result", "--corpus", C, "--fakes", F, "--out", "{new}"]
GATE = ["gate", "--baseline", R, "--current", R]
DEMO = ["demo", "--out", "{new}"]


def load_bad(name: str) -> list[str]:
    return ["data", "load", f"{{ws}}/bad/rec/{name}", "--out", "{new}", "--workers", "1"]


CASES: list[tuple[str, list[str], str]] = [
    # the command line itself
    ("unknown-command", ["nope"], "no such command"),
    ("unknown-flag", ["--nope"], "no such option"),
    ("unknown-subcommand", ["data", "nope"], "no such command"),
    ("missing-required-option", ["generate", "--corpus", C], "missing option"),
    # challenges
    ("show-unknown-id", ["challenges", "show", "99"], "unknown challenge"),
    ("show-unknown-key", ["challenges", "show", "juggling"], "unknown challenge"),
    ("show-empty", ["challenges", "show", ""], "unknown challenge"),
    ("list-bad-device", ["challenges", "list", "--device", "tablet"], "desktop or mobile"),
    ("issue-count-0", ["challenges", "issue", "--count", "0"], "--count"),
    ("issue-count-text", ["challenges", "issue", "--count", "many"], "--count"),
    ("issue-count-too-many", ["challenges", "issue", "--count", "99"], "exceeds"),
    ("issue-negative-seed", ["challenges", "issue", "--seed", "-1"], "--seed"),
    ("issue-top-0", ["challenges", "issue", "--top", "0"], "--top"),
    ("issue-bad-device", ["challenges", "issue", "--device", "tablet"], "desktop or mobile"),
    ("issue-missing-scripts", ["challenges", "issue", "--scripts", "{ws}/nothere.json"], "no such scripts file"),
    ("issue-scripts-not-json", ["challenges", "issue", "--scripts", "{ws}/bad/notjson.json"], "not a scripts file"),
    ("issue-scripts-list", ["challenges", "issue", "--scripts", "{ws}/bad/scripts_list.json"], "not a scripts file"),
    ("issue-scripts-empty", ["challenges", "issue", "--scripts", "{ws}/bad/scripts_partial.json"], "needs sentences"),
    ("issue-scripts-deep", ["challenges", "issue", "--scripts", "{ws}/bad/deep.json"], "RecursionError"),
    ("issue-scripts-binary", ["challenges", "issue", "--scripts", "{ws}/bad/binary.bin"], "not a scripts file"),
    # data simulate
    ("sim-speakers-0", [*SIM[:2], "--speakers", "0", "--out", "{new}"], "--speakers"),
    ("sim-speakers-negative", [*SIM[:2], "--speakers", "-3", "--out", "{new}"], "--speakers"),
    ("sim-speakers-text", [*SIM[:2], "--speakers", "six", "--out", "{new}"], "--speakers"),
    ("sim-sentences-0", [*SIM, "--sentences", "0"], "--sentences"),
    ("sim-sentences-11", [*SIM, "--sentences", "11"], "--sentences"),
    ("sim-challenges-empty", [*SIM, "--challenges", ""], "selects no challenge"),
    ("sim-challenges-commas", [*SIM, "--challenges", ",,"], "selects no challenge"),
    ("sim-challenges-unknown", [*SIM, "--challenges", "0,99"], "unknown challenge"),
    ("sim-challenges-typo", [*SIM, "--challenges", "whisperr"], "unknown challenge"),
    ("sim-challenges-backwards", [*SIM, "--challenges", "5-2"], "start is after end"),
    ("sim-bad-device", [*SIM, "--device", "tablet"], "desktop, mobile or both"),
    ("sim-playback-on-mobile", [*SIM, "--challenges", "18", "--device", "mobile"], "desktop-only"),
    ("sim-negative-seed", [*SIM, "--seed", "-1"], "--seed"),
    ("sim-workers-0", [*SIM, "--workers", "0"], "--workers"),
    ("sim-bad-scripts", [*SIM, "--scripts", "{ws}/bad/notjson.json"], "not a scripts file"),
    ("sim-out-is-file", ["data", "simulate", "--out", "{ws}/file.txt"], "is a file"),
    ("sim-out-under-file", ["data", "simulate", "--out", "{ws}/file.txt/corpus"], "which is a file"),
    ("sim-out-other-settings", ["data", "simulate", "--speakers", "3", "--out", C], "other settings"),
    ("sim-out-is-fakes", ["data", "simulate", "--speakers", "2", "--out", F], "bench generate"),
    ("sim-out-is-result", ["data", "simulate", "--speakers", "2", "--out", "{ws}/compliance"],
     "bench train compliance"),
    ("sim-out-foreign", ["data", "simulate", "--out", "{ws}/foreign"], "not written by bench"),
    ("sim-out-deep-marker", ["data", "simulate", "--out", "{ws}/bad/deep_marker"], "is corrupt"),
    ("sim-out-common-names", ["data", "simulate", "--out", "{ws}/bad/looks_like_bench", "--overwrite"],
     "not written by bench"),
    ("sim-out-foreign-overwrite", ["data", "simulate", "--out", "{ws}/foreign", "--overwrite"],
     "not written by bench"),
    ("sim-out-contains-scripts", ["data", "simulate", "--out", "{ws}/scripts", "--scripts",
                                  "{ws}/scripts/scripts.json"], "contains the input"),
    ("sim-out-is-scripts", ["data", "simulate", "--out", "{ws}/scripts/scripts.json", "--scripts",
                            "{ws}/scripts/scripts.json"], "is a file"),
    # data load
    ("load-missing-src", ["data", "load", "{ws}/nothere", "--out", "{new}"], "no such directory"),
    ("load-src-is-file", ["data", "load", "{ws}/file.txt", "--out", "{new}"], "no such directory"),
    ("load-bad-layout", [*LOAD, "--layout", "flat"], "--layout"),
    ("load-min-duration-negative", [*LOAD, "--min-duration", "-1"], "--min-duration"),
    ("load-min-duration-nan", [*LOAD, "--min-duration", "nan"], "finite"),
    ("load-workers-0", [*LOAD, "--workers", "0"], "--workers"),
    ("load-out-is-src", ["data", "load", "{ws}/rec", "--out", "{ws}/rec"], "also an input"),
    ("load-out-inside-src", ["data", "load", "{ws}/rec", "--out", "{ws}/rec/corpus"], "lies inside the input"),
    ("load-out-contains-src", ["data", "load", "{ws}/rec", "--out", "{ws}"], "contains the input"),
    ("load-out-is-corpus", ["data", "load", "{ws}/rec", "--out", C], "bench data simulate"),
    ("load-out-is-src-overwrite", ["data", "load", "{ws}/rec", "--out", "{ws}/rec", "--overwrite"],
     "also an input"),
    ("load-out-is-file", ["data", "load", "{ws}/rec", "--out", "{ws}/file.txt"], "is a file"),
    ("load-unknown-column", load_bad("unknown_col"), "unknown column 'colour'"),
    ("load-missing-column", load_bad("missing_col"), "missing column(s) challenge"),
    ("load-not-utf8", load_bad("not_utf8"), "not utf-8"),
    ("load-empty-subject", load_bad("empty_subject"), "empty subject"),
    ("load-empty-audio", load_bad("empty_audio"), "empty audio"),
    ("load-empty-challenge", load_bad("empty_challenge"), "empty challenge"),
    ("load-bad-device", load_bad("bad_device"), "device must be desktop or mobile"),
    ("load-bad-sentence", load_bad("bad_sentence"), "sentence_id must be an integer"),
    ("load-bad-challenge", load_bad("bad_challenge"), "unknown challenge"),
    ("load-duplicate-ids", load_bad("dup_ids"), "duplicate utterance_id"),
    ("load-no-rows", load_bad("header_only"), "no rows"),
    ("load-huge-sentence-id", load_bad("huge_sentence"), "at most 9 digits"),
    ("load-audio-is-dot", load_bad("audio_dot"), "audio must name a file"),
    ("load-out-holds-a-source-file", ["data", "load", "{ws}/bad/rec/points_into_fakes", "--out", F, "--overwrite"],
     "contains the input"),
    ("load-file-name-and-audio", load_bad("both_names"), "given twice"),
    ("load-all-corrupt", load_bad("all_corrupt"), "cannot decode"),
    ("load-all-silent", load_bad("all_silent"), "silent"),
    ("load-all-short", load_bad("all_short"), "too short"),
    ("load-all-truncated", load_bad("all_truncated"), "truncated"),
    ("load-only-file-missing", load_bad("missing_file"), "no such file"),
    ("load-pitch-layout-on-flat-folder", ["data", "load", "{ws}/bad/rec/missing_file", "--out", "{new}",
                                          "--layout", "pitch"], "expected SUBJECT/CHALLENGE"),
    ("load-metadata-is-dir", load_bad("meta_is_dir"), "metadata.csv"),
    ("load-pitch-flat", ["data", "load", "{ws}/bad/pitch_flat", "--out", "{new}"], "expected SUBJECT/CHALLENGE"),
    ("load-pitch-bad-challenge", ["data", "load", "{ws}/bad/pitch_badchal", "--out", "{new}"],
     "unknown challenge"),
    ("load-no-audio", ["data", "load", "{ws}/bad/no_audio", "--out", "{new}"], "no audio files"),
    ("load-metadata-layout-without-csv", ["data", "load", "{ws}/bad/no_audio", "--out", "{new}", "--layout",
                                          "metadata"], "no metadata.csv"),
    # data info
    ("info-missing", ["data", "info", "{ws}/nothere"], "no such directory"),
    ("info-not-dataset", ["data", "info", "{ws}/foreign"], "not a dataset directory"),
    ("info-file", ["data", "info", "{ws}/file.txt"], "not a dataset directory"),
    ("info-corrupt-manifest", ["data", "info", "{ws}/bad/corrupt_manifest"], "corrupt"),
    ("info-manifest-list", ["data", "info", "{ws}/bad/manifest_list"], "json object"),
    ("info-corrupt-state", ["data", "info", "{ws}/bad/corrupt_state"], "cannot read dataset"),
    ("info-no-state", ["data", "info", "{ws}/bad/no_state"], "not a dataset directory"),
    ("info-deep-manifest", ["data", "info", "{ws}/bad/deep_manifest"], "RecursionError"),
    ("info-wrong-column-type", ["data", "info", "{ws}/bad/string_durations"], "column duration_s has type"),
    # data pull / push
    ("pull-bad-repo-id", ["data", "pull", "a/b/c", "--out", "{new}"], "valid hub repo id"),
    ("pull-bad-repo-chars", ["data", "pull", "bad repo!", "--out", "{new}"], "repo id"),
    ("pull-no-owner", ["data", "pull", "justaname", "--out", "{new}"], "owner/name"),
    ("pull-folder-without-parquet", ["data", "pull", "{ws}/foreign", "--out", "{new}"], "no parquet files"),
    ("pull-out-is-corpus", ["data", "pull", "{ws}/hub", "--out", C], "bench data simulate"),
    ("pull-out-is-source", ["data", "pull", "{ws}/hub", "--out", "{ws}/hub"], "also an input"),
    ("pull-out-foreign", ["data", "pull", "{ws}/hub", "--out", "{ws}/foreign"], "not written by bench"),
    ("pull-wrong-types", ["data", "pull", "{ws}/bad/hub_wrong_types", "--out", "{new}"], "corpus types"),
    ("pull-no-rows", ["data", "pull", "{ws}/bad/hub_empty", "--out", "{new}"], "no rows"),
    ("pull-unknown-challenge", ["data", "pull", "{ws}/bad/hub_challenge_99", "--out", "{new}"],
     "not in the taxonomy"),
    ("push-neither", ["data", "push", C], "exactly one of"),
    ("push-both", ["data", "push", C, "--repo-id", "a/b", "--to-folder", "{new}"], "exactly one of"),
    ("push-missing-corpus", ["data", "push", "{ws}/nothere", "--to-folder", "{new}"], "no such directory"),
    ("push-to-foreign", ["data", "push", C, "--to-folder", "{ws}/foreign"], "not written by bench"),
    ("push-to-corpus", ["data", "push", C, "--to-folder", C], "also an input"),
    ("push-into-corpus", ["data", "push", C, "--to-folder", f"{C}/hub"], "lies inside the input"),
    ("push-to-fakes", ["data", "push", C, "--to-folder", F], "bench generate"),
    ("push-bad-repo-id", ["data", "push", C, "--repo-id", "bad id!"], "repo id"),
    # data subset
    ("subset-without-hard", [*SUBSET[:2], *SUBSET[3:]], "pass --hard"),
    ("subset-match-negative", [*SUBSET, "--match", "-5"], "--match"),
    ("subset-match-nan", [*SUBSET, "--match", "nan"], "finite"),
    ("subset-match-2", [*SUBSET, "--match", "2"], "--match"),
    ("subset-mos-9", [*SUBSET, "--min-mos", "9"], "--min-mos"),
    ("subset-per-challenge-0", [*SUBSET, "--per-challenge", "0"], "--per-challenge"),
    ("subset-negative-seed", [*SUBSET, "--seed", "-1"], "--seed"),
    ("subset-no-scores", ["data", "subset", "--hard", "--result", "{ws}/foreign", "--corpus", C, "--fakes", F,
                          "--out", "{new}"], "no such file"),
    ("subset-other-corpus", SUBSET, "evaluated on another corpus"),
    ("subset-corrupt-scores", ["data", "subset", "--hard", "--result", "{ws}/bad/scores_only", "--corpus", C,
                               "--fakes", F, "--out", "{new}"], "unreadable"),
    ("subset-out-is-corpus", [*SUBSET[:-1], C], "also an input"),
    # generate
    ("gen-missing-corpus", ["generate", "--corpus", "{ws}/nothere", "--out", "{new}"], "no such directory"),
    ("gen-corpus-is-fakes", ["generate", "--corpus", F, "--out", "{new}"], "fakes dataset"),
    ("gen-corpus-not-dataset", ["generate", "--corpus", "{ws}/foreign", "--out", "{new}"], "not a dataset"),
    ("gen-corrupt-manifest", ["generate", "--corpus", "{ws}/bad/corrupt_manifest", "--out", "{new}"], "corrupt"),
    ("gen-out-is-corpus", ["generate", "--corpus", C, "--out", C], "also an input"),
    ("gen-out-is-corpus-overwrite", ["generate", "--corpus", C, "--out", C, "--overwrite"], "also an input"),
    ("gen-out-inside-corpus", ["generate", "--corpus", C, "--out", f"{C}/fakes"], "lies inside the input"),
    ("gen-out-contains-corpus", ["generate", "--corpus", C, "--out", "{ws}"], "contains the input"),
    ("gen-out-other-settings", ["generate", "--corpus", C, "--out", F, "--challenges", "0,1", "--seed", "5"],
     "other settings"),
    ("gen-out-is-compliance", ["generate", "--corpus", C, "--out", "{ws}/compliance"], "bench train compliance"),
    ("gen-out-foreign", ["generate", "--corpus", C, "--out", "{ws}/foreign"], "not written by bench"),
    ("gen-out-is-file", ["generate", "--corpus", C, "--out", "{ws}/file.txt"], "is a file"),
    ("gen-out-under-file", ["generate", "--corpus", C, "--out", "{ws}/file.txt/x"], "which is a file"),
    ("gen-unknown-param", [*GEN, "--param", "foo=1"], "unknown setting(s) foo"),
    ("gen-param-not-number", [*GEN, "--param", "warp_min=abc"], "must be a number"),
    ("gen-param-nan", [*GEN, "--param", "warp_min=NaN"], "finite"),
    ("gen-param-no-equals", [*GEN, "--param", "warp_min"], "key=value"),
    ("gen-param-no-key", [*GEN, "--param", "=1"], "key=value"),
    ("gen-param-twice", [*GEN, "--param", "warp_min=0.8", "--param", "warp_min=0.9"], "given twice"),
    ("gen-device-cuda", [*GEN, "--device", "cuda"], "runs on cpu"),
    ("gen-device-tpu", [*GEN, "--device", "tpu"], "runs on cpu"),
    ("gen-unknown-generator", [*GEN, "--generator", "nope"], "unknown generator"),
    ("gen-freevc-no-repo", [*GEN, "--generator", "freevc"], "no freevc checkout"),
    ("gen-freevc-not-checkout", [*GEN, "--generator", "freevc", "--freevc-repo", "{ws}/foreign"],
     "not a freevc checkout"),
    ("gen-freevc-no-checkpoint", [*GEN, "--generator", "freevc", "--freevc-repo", "{ws}/bad/freevc_empty_ckpt"],
     "no checkpoint given"),
    ("gen-freevc-missing-checkpoint", [*GEN, "--generator", "freevc", "--freevc-repo",
                                       "{ws}/bad/freevc_empty_ckpt", "--checkpoint", "{ws}/nothere.pth"],
     "not found"),
    ("gen-freevc-empty-checkpoint", [*GEN, "--generator", "freevc", "--freevc-repo", "{ws}/bad/freevc_empty_ckpt",
                                     "--checkpoint", "{ws}/bad/freevc_empty_ckpt/freevc.pth"],
     "not a checkpoint file"),
    ("gen-freevc-cuda", [*GEN, "--generator", "freevc", "--device", "cuda", "--freevc-repo",
                         "{ws}/bad/freevc_empty_ckpt"], "cuda"),
    ("gen-freevc-unknown-option", [*GEN, "--generator", "freevc", "--param", "colour=red"], "unknown option"),
    ("gen-negative-seed", [*GEN, "--seed", "-1"], "--seed"),
    ("gen-max-targets-0", [*GEN, "--max-targets", "0"], "--max-targets"),
    ("gen-pairs-0", [*GEN, "--pairs-per-source", "0"], "--pairs-per-source"),
    ("gen-pairs-text", [*GEN, "--pairs-per-source", "most"], "--pairs-per-source"),
    ("gen-chunk-0", [*GEN, "--streaming", "--chunk-ms", "0"], "--chunk-ms"),
    ("gen-chunk-nan", [*GEN, "--streaming", "--chunk-ms", "nan"], "finite"),
    ("gen-challenges-empty", [*GEN, "--challenges", ""], "selects no challenge"),
    ("gen-workers-0", [*GEN, "--workers", "0"], "--workers"),
    ("gen-silent-references", ["generate", "--corpus", "{ws}/bad/silent_refs", "--out", "{new}"], "silent"),
    ("gen-unknown-challenge-in-corpus", ["generate", "--corpus", "{ws}/bad/challenge_minus_5", "--out", "{new}"],
     "not in the taxonomy"),
    ("gen-world-negative-warp", [*GEN, "--param", "warp_min=-1"], "world: need"),
    ("gen-world-zero-steps", [*GEN, "--param", "warp_steps=0"], "world: need"),
    ("gen-chunk-tiny", [*GEN, "--streaming", "--chunk-ms", "1e-320"], "--chunk-ms"),
    ("gen-workers-huge", [*GEN, "--workers", "100000"], "--workers"),
    ("gen-checkout-inside-out", ["generate", "--corpus", C, "--out", "{ws}/bad", "--generator", "freevc",
                                 "--freevc-repo", "{ws}/bad/freevc_empty_ckpt"], "no checkpoint given"),
    # evaluate
    ("eval-missing-corpus", ["evaluate", "--corpus", "{ws}/nothere", "--fakes", F, "--out", "{new}"],
     "no such directory"),
    ("eval-corpus-is-fakes", ["evaluate", "--corpus", F, "--fakes", F, "--out", "{new}"], "is a fakes dataset"),
    ("eval-fakes-is-corpus", ["evaluate", "--corpus", C, "--fakes", C, "--out", "{new}"], "not a fakes dataset"),
    ("eval-fakes-of-other-corpus", ["evaluate", "--corpus", "{ws}/bad/silent_refs", "--fakes", F, "--out",
                                    "{new}"], "another corpus"),
    ("eval-unknown-detector", [*EVAL, "--detector", "nope"], "unknown detector"),
    ("eval-unknown-param", [*EVAL, "--param", "colour=red"], "unknown setting(s) colour"),
    ("eval-param-not-number", [*EVAL, "--param", "train_epochs=many"], "must be an integer"),
    ("eval-unknown-realism", [*EVAL, "--param", "realism=nope"], "unknown realism backend"),
    ("eval-unknown-asr", [*EVAL, "--param", "asr=nope"], "unknown asr backend"),
    ("eval-nisqa-missing-weights", [*EVAL, "--param", "realism=nisqa", "--param",
                                    "nisqa_weights={ws}/nothere.tar"], "nisqa weights not found"),
    ("eval-compliance-twice", [*EVAL, "--param", "compliance={ws}/compliance"], "both given"),
    ("eval-compliance-missing", ["evaluate", "--corpus", C, "--fakes", F, "--compliance", "{ws}/nothere",
                                 "--out", "{new}"], "compliance.json"),
    ("eval-compliance-is-corpus", ["evaluate", "--corpus", C, "--fakes", F, "--compliance", C, "--out", "{new}"],
     "compliance.json"),
    ("eval-bootstrap-negative", [*EVAL, "--bootstrap", "-5"], "--bootstrap"),
    ("eval-threshold-nan", [*EVAL, "--threshold", "nan"], "finite"),
    ("eval-threshold-inf", [*EVAL, "--threshold", "inf"], "finite"),
    ("eval-threshold-text", [*EVAL, "--threshold", "high"], "not a number"),
    ("eval-negative-seed", [*EVAL, "--seed", "-1"], "--seed"),
    ("eval-workers-0", [*EVAL, "--workers", "0"], "--workers"),
    ("eval-out-is-corpus", [*EVAL[:-1], C], "also an input"),
    ("eval-out-is-fakes", [*EVAL[:-1], F], "also an input"),
    ("eval-out-is-compliance", [*EVAL[:-1], "{ws}/compliance"], "also an input"),
    ("eval-out-foreign", [*EVAL[:-1], "{ws}/foreign"], "not written by bench"),
    ("eval-out-foreign-overwrite", [*EVAL[:-1], "{ws}/foreign", "--overwrite"], "not written by bench"),
    ("eval-out-is-file", [*EVAL[:-1], "{ws}/file.txt"], "is a file"),
    ("eval-out-holds-other-command", [*EVAL[:-1], "{ws}/board"], "bench leaderboard build"),
    ("eval-cache-is-file", [*EVAL, "--cache", "{ws}/file.txt"], "is a file"),
    ("eval-cache-is-out", [*EVAL[:-1], "{ws}/new/same", "--cache", "{ws}/new/same"], "is --out or contains it"),
    ("eval-cache-contains-out", [*EVAL[:-1], "{ws}/new/x/out", "--cache", "{ws}/new/x"], "is --out or contains"),
    ("eval-cache-foreign", [*EVAL, "--cache", "{ws}/foreign"], "not written by bench"),
    ("eval-train-epochs-0", [*EVAL_TRAIN, "--param", "train_epochs=0"], "train_epochs must be >= 1"),
    ("eval-train-folds-1", [*EVAL_TRAIN, "--param", "train_folds=1"], "train_folds >= 2"),
    ("eval-asr-model-missing", [*EVAL_TRAIN, "--param", "asr_model={ws}/nothere"], "does not exist"),
    ("eval-compliance-wrong-type", [*EVAL_TRAIN, "--param", "compliance=5"], "must be null or text"),
    ("eval-nisqa-weights-list", [*EVAL_TRAIN, "--param", "nisqa_weights=[1]"], "must be null or text"),
    ("eval-compliance-weights-missing", ["evaluate", "--corpus", C, "--fakes", F, "--compliance",
                                         "{ws}/bad/compliance_no_weights", "--out", "{new}"], "are missing"),
    ("eval-compliance-weights-changed", ["evaluate", "--corpus", C, "--fakes", F, "--compliance",
                                         "{ws}/bad/compliance_junk_weights", "--out", "{new}"], "changed since"),
    ("eval-model-inside-out", [*EVAL[:-1], "{ws}/empty", "--param", "asr_model={ws}/empty"], "also an input"),
    ("eval-train-on-one-speaker", ["evaluate", "--corpus", "{ws}/bad/one_speaker", "--fakes",
                                   "{ws}/bad/one_speaker_fakes", "--out", "{new}"], "at least 2 speakers"),
    ("eval-cache-is-corpus", [*EVAL, "--cache", C], "also an input"),
    # train compliance
    ("train-missing-corpus", ["train", "compliance", "--corpus", "{ws}/nothere", "--out", "{new}"],
     "no such directory"),
    ("train-corpus-is-fakes", ["train", "compliance", "--corpus", F, "--out", "{new}"], "fakes dataset"),
    ("train-unknown-backbone", [*TRAIN, "--backbone", "resnet"], "unknown backbone"),
    ("train-folds-1", [*TRAIN, "--folds", "1"], "--folds"),
    ("train-epochs-0", [*TRAIN, "--epochs", "0"], "--epochs"),
    ("train-lr-0", [*TRAIN, "--lr", "0"], "--lr"),
    ("train-lr-nan", [*TRAIN, "--lr", "nan"], "finite"),
    ("train-batch-0", [*TRAIN, "--batch-size", "0"], "--batch-size"),
    ("train-negative-seed", [*TRAIN, "--seed", "-1"], "--seed"),
    ("train-threads-0", [*TRAIN, "--threads", "0"], "--threads"),
    ("train-workers-0", [*TRAIN, "--workers", "0"], "--workers"),
    ("train-device-cuda", [*TRAIN, "--device", "cuda"], "cuda"),
    ("train-device-tpu", [*TRAIN, "--device", "tpu"], "unknown device"),
    ("train-device-meta", [*TRAIN, "--device", "meta"], "unknown device"),
    ("train-device-cuda-7", [*TRAIN, "--device", "cuda:7"], "cuda"),
    ("train-undecodable-recording", ["train", "compliance", "--corpus", "{ws}/bad/garbage_audio", "--out", "{new}"],
     "cannot be decoded"),
    ("train-challenges-empty", [*TRAIN, "--challenges", ""], "selects no challenge"),
    ("train-challenge-0", [*TRAIN, "--challenges", "0"], "no compliance classifier"),
    ("train-test-speakers-5", [*TRAIN, "--test-speakers", "5"], "--test-speakers"),
    ("train-wav2vec2-no-model", [*TRAIN, "--backbone", "wav2vec2"], "needs --model"),
    ("train-wav2vec2-missing-model", [*TRAIN, "--backbone", "wav2vec2", "--model", "{ws}/nothere"],
     "no such model directory"),
    ("train-out-is-corpus", ["train", "compliance", "--corpus", C, "--out", C], "also an input"),
    ("train-out-is-fakes", ["train", "compliance", "--corpus", C, "--out", F], "bench generate"),
    ("train-out-is-file", ["train", "compliance", "--corpus", C, "--out", "{ws}/file.txt"], "is a file"),
    ("train-out-other-settings", ["train", "compliance", "--corpus", C, "--out", "{ws}/compliance", "--seed", "7",
                                  "--challenges", "1", "--epochs", "1", "--folds", "2", "--test-speakers", "1"],
     "other settings"),
    # models
    ("models-unknown", ["models", "pull", "nope"], "unknown model"),
    ("models-from-missing", ["models", "pull", "nisqa", "--from", "{ws}/nothere.tar"], "no such file"),
    ("models-from-wrong-file", ["models", "pull", "nisqa", "--from", "{ws}/bad/wrong_ckpt.tar"],
     "checksum mismatch"),
    ("models-from-empty-folder", ["models", "pull", "nisqa", "--from", "{ws}/empty"], "no nisqa weights"),
    # leaderboard
    ("board-no-results", ["leaderboard", "build", "--out", "{new}"], "missing argument"),
    ("board-missing-result", ["leaderboard", "build", "{ws}/nothere.json", "--out", "{new}"], "no such results"),
    ("board-result-list", ["leaderboard", "build", "{ws}/bad/list.json", "--out", "{new}"], "json object"),
    ("board-result-not-json", ["leaderboard", "build", "{ws}/bad/notjson.json", "--out", "{new}"], "corrupt"),
    ("board-result-old-schema", ["leaderboard", "build", "{ws}/bad/wrong_schema.json", "--out", "{new}"],
     "schema version"),
    ("board-result-bad-field", ["leaderboard", "build", "{ws}/bad/bad_field.json", "--out", "{new}"],
     "invalid results"),
    ("board-same-result-twice", ["leaderboard", "build", R, R, "--out", "{new}"], "same result"),
    ("board-same-result-file-and-folder", ["leaderboard", "build", R, "{ws}/result", "--out", "{new}"],
     "same result"),
    ("board-folder-without-result", ["leaderboard", "build", "{ws}/foreign", "--out", "{new}"], "no such results"),
    ("board-out-is-result-folder", ["leaderboard", "build", R, "--out", "{ws}/result"], "contains the input"),
    ("board-out-foreign", ["leaderboard", "build", R, "--out", "{ws}/foreign"], "not written by bench"),
    ("board-out-is-file", ["leaderboard", "build", R, "--out", "{ws}/file.txt"], "is a file"),
    ("board-corrupt-scores", ["leaderboard", "build", "{ws}/bad/corrupt_scores", "--out", "{new}"],
     "unreadable scores"),
    ("board-scores-without-score", ["leaderboard", "build", "{ws}/bad/scores_no_column", "--out", "{new}"],
     "lack the column"),
    ("board-out-is-corpus", ["leaderboard", "build", R, "--out", C], "bench data simulate"),
    ("board-push-not-board", ["leaderboard", "push", C, "--to-folder", "{new}"], "not a leaderboard folder"),
    ("board-push-no-index", ["leaderboard", "push", "{ws}/bad/board_no_index", "--to-folder", "{new}"],
     "not a leaderboard folder"),
    ("board-push-neither", ["leaderboard", "push", "{ws}/board"], "exactly one of"),
    ("board-push-both", ["leaderboard", "push", "{ws}/board", "--repo-id", "a/b", "--to-folder", "{new}"],
     "exactly one of"),
    ("board-push-bad-type", ["leaderboard", "push", "{ws}/board", "--to-folder", "{new}", "--repo-type", "model"],
     "--repo-type"),
    ("board-push-foreign", ["leaderboard", "push", "{ws}/board", "--to-folder", "{ws}/foreign"],
     "not written by bench"),
    ("board-push-to-itself", ["leaderboard", "push", "{ws}/board", "--to-folder", "{ws}/board"], "also an input"),
    ("board-push-to-corpus", ["leaderboard", "push", "{ws}/board", "--to-folder", C], "bench data simulate"),
    ("board-push-bad-repo-id", ["leaderboard", "push", "{ws}/board", "--repo-id", "bad id!"], "repo id"),
    # gate
    ("gate-missing-baseline", ["gate", "--baseline", "{ws}/nothere.json", "--current", R], "no such results"),
    ("gate-baseline-folder", ["gate", "--baseline", "{ws}/result", "--current", R], "a folder"),
    ("gate-baseline-list", ["gate", "--baseline", "{ws}/bad/list.json", "--current", R], "json object"),
    ("gate-baseline-not-json", ["gate", "--baseline", "{ws}/bad/notjson.json", "--current", R], "corrupt"),
    ("gate-old-schema", ["gate", "--baseline", "{ws}/bad/wrong_schema.json", "--current", R], "schema version"),
    ("gate-bad-field", ["gate", "--baseline", "{ws}/bad/bad_field.json", "--current", R], "invalid results"),
    ("gate-different-corpora", ["gate", "--baseline", R, "--current", "{ws}/result_other/result.json"],
     "different corpora"),
    ("gate-negative-tolerance", [*GATE, "--max-auroc-drop", "-0.1"], "--max-auroc-drop"),
    ("gate-nan-tolerance", [*GATE, "--max-eer-rise", "nan"], "finite"),
    ("gate-inf-tolerance", [*GATE, "--max-latency-rise", "inf"], "finite"),
    ("gate-text-tolerance", [*GATE, "--max-throughput-fall", "lots"], "not a number"),
    ("gate-config-missing", [*GATE, "--config", "{ws}/nothere.toml"], "no such gate config"),
    ("gate-config-not-toml", [*GATE, "--config", "{ws}/bad/gate_notoml.toml"], "not valid toml"),
    ("gate-config-not-table", [*GATE, "--config", "{ws}/bad/gate_missing_table.toml"], "must be a table"),
    ("gate-config-unknown", [*GATE, "--config", "{ws}/bad/gate_unknown.toml"], "unknown gate setting"),
    ("gate-config-string", [*GATE, "--config", "{ws}/bad/gate_string.toml"], "must be a number"),
    ("gate-config-negative", [*GATE, "--config", "{ws}/bad/gate_negative.toml"], ">= 0"),
    ("gate-config-nan", [*GATE, "--config", "{ws}/bad/gate_nan.toml"], "finite"),
    ("gate-config-inf", [*GATE, "--config", "{ws}/bad/gate_inf.toml"], "finite"),
    ("gate-config-bool-string", [*GATE, "--config", "{ws}/bad/gate_bool.toml"], "true or false"),
    ("gate-config-array", [*GATE, "--config", "{ws}/bad/gate_array.toml"], "must be a number"),
    ("gate-config-binary", [*GATE, "--config", "{ws}/bad/binary.bin"], "not utf-8"),
    ("gate-config-deep", [*GATE, "--config", "{ws}/bad/gate_deep.toml"], "not valid toml"),
    ("gate-deep-json", ["gate", "--baseline", "{ws}/bad/deep.json", "--current", R], "RecursionError"),
    ("gate-timings-text", ["gate", "--baseline", "{ws}/bad/timings_text.json", "--current", R],
     "rtfx_cpu must be a number"),
    ("gate-latency-text", ["gate", "--baseline", "{ws}/bad/latency_text.json", "--current", R],
     "latency must be an object"),
    # demo
    ("demo-speakers-3", [*DEMO, "--speakers", "3"], "--speakers"),
    ("demo-sentences-1", [*DEMO, "--sentences", "1"], "--sentences"),
    ("demo-negative-seed", [*DEMO, "--seed", "-1"], "--seed"),
    ("demo-workers-0", [*DEMO, "--workers", "0"], "--workers"),
    ("demo-out-is-file", ["demo", "--out", "{ws}/file.txt"], "is a file"),
    ("demo-size-unknown", ["demo", "--out", "{new}", "--size", "huge"], "--size must be one of"),
    ("demo-out-is-corpus", ["demo", "--out", C], "bench data simulate"),
    ("demo-out-foreign", ["demo", "--out", "{ws}/foreign"], "not written by bench"),
]


# cases that need an environment variable: (case id, arguments, needle, environment)
ENV_CASES: list[tuple[str, list[str], str, dict[str, str]]] = [
    ("engine-unknown-simulate", SIM, "BENCH_ENGINE must be local or ray", {"BENCH_ENGINE": "foo"}),
    ("engine-unknown-generate", GEN, "BENCH_ENGINE must be local or ray", {"BENCH_ENGINE": "foo"}),
    ("engine-unknown-demo", DEMO, "BENCH_ENGINE must be local or ray", {"BENCH_ENGINE": "foo"}),
    ("env-scripts-binary-simulate", SIM, "not a scripts file", {"BENCH_SCRIPTS": "{ws}/bad/binary.bin"}),
    ("env-scripts-binary-demo", DEMO, "not a scripts file", {"BENCH_SCRIPTS": "{ws}/bad/binary.bin"}),
    ("env-scripts-binary-load", LOAD, "not a scripts file", {"BENCH_SCRIPTS": "{ws}/bad/binary.bin"}),
    ("env-scripts-inside-out-overwrite", ["data", "simulate", "--out", "{ws}/scripts", "--overwrite"],
     "contains the input", {"BENCH_SCRIPTS": "{ws}/scripts/scripts.json"}),
]


def _fill(args: list[str], ws: Path, case: str) -> list[str]:
    new = ws / "new" / case
    return [a.replace("{ws}", str(ws)).replace("{new}", str(new)) for a in args]


def test_case_ids_are_unique():
    ids = [c[0] for c in CASES]
    assert len(ids) == len(set(ids)) and len(ids) >= 200


@pytest.mark.parametrize(("case", "args", "needle"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_exit_2_and_touches_nothing(ws, capfd, case, args, needle):
    before = stat_snapshot(ws)
    res = invoke(_fill(args, ws, case), capfd)
    assert_bad_input(res, needle, case)
    assert changes(before, stat_snapshot(ws)) == [], f"{case} changed the workspace"


@pytest.mark.parametrize(("case", "args", "needle", "env"), ENV_CASES, ids=[c[0] for c in ENV_CASES])
def test_bad_environment_is_one_line_exit_2_and_touches_nothing(ws, capfd, case, args, needle, env):
    before = stat_snapshot(ws)
    res = invoke(_fill(args, ws, case), capfd, env={k: v.replace("{ws}", str(ws)) for k, v in env.items()})
    assert_bad_input(res, needle, case)
    assert changes(before, stat_snapshot(ws)) == [], f"{case} changed the workspace"


SUBPROCESS_SAMPLE = ["unknown-flag", "sim-out-foreign", "load-not-utf8", "load-all-silent", "info-corrupt-manifest",
                     "pull-bad-repo-id", "gen-out-is-corpus", "gen-unknown-param", "gen-freevc-empty-checkpoint",
                     "eval-bootstrap-negative", "eval-out-is-fakes", "train-out-is-fakes", "board-result-list",
                     "board-same-result-twice", "gate-nan-tolerance", "gate-config-string", "demo-out-is-corpus"]


@pytest.mark.parametrize("case", SUBPROCESS_SAMPLE)
def test_bad_input_through_the_console_script(ws, case):
    """The same promise from a real process (interpreter start-up, console script, real stderr)."""
    _, args, needle = next(c for c in CASES if c[0] == case)
    before = stat_snapshot(ws)
    proc = run_bench(*_fill(args, ws, case))
    from tests.helpers.cli import Outcome

    assert_bad_input(Outcome(proc.returncode, proc.stdout, proc.stderr), needle, case)
    assert changes(before, stat_snapshot(ws)) == []


def test_offline_hub_miss_is_one_line(ws, tmp_path):
    env = {"HF_HUB_CACHE": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1"}
    proc = run_bench("data", "pull", "acme/not-cached", "--out", str(tmp_path / "o"), env=env)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert "not in the local cache" in proc.stderr and not (tmp_path / "o").exists()


# ---------------------------------------------------------------- what the table must not hide
def test_overwrite_replaces_only_what_bench_wrote(ws, capfd, tmp_path):
    """--overwrite replaces another command's folder (here a copy of the fakes), never a foreign one."""
    target = tmp_path / "was-fakes"
    shutil.copytree(ws / "fakes", target)
    res = invoke(["data", "simulate", "--speakers", "2", "--sentences", "1", "--challenges", "0", "--out",
                  str(target), "--overwrite", "--workers", "1"], capfd)
    assert res.code == 0, res.stderr
    assert read_manifest(target)["kind"] == "corpus" and not (target / "journal").exists()


def test_rerun_with_the_same_settings_resumes(ws, capfd):
    """The same command line on its own output is a resume: nothing is redone, the data is identical."""
    def state() -> tuple:
        files = {k: v for k, v in content_snapshot(ws / "fakes").items() if k.startswith(("audio/", "journal/"))}
        return files, read_manifest(ws / "fakes")["content_hash"]

    before = state()
    res = invoke(["generate", "--corpus", str(ws / "corpus"), "--out", str(ws / "fakes"), "--challenges", "0,1",
                  "--workers", "1"], capfd)
    assert res.code == 0, res.stderr
    assert state() == before


def test_every_file_of_the_workspace_is_byte_identical_at_the_end(ws, capfd):
    """After a sweep of the whole table, every file still has its original bytes."""
    before = content_snapshot(ws)
    for case, args, _ in CASES[:: max(1, len(CASES) // 40)]:
        invoke(_fill(args, ws, case), capfd)
    assert content_snapshot(ws) == before


# ---------------------------------------------------------------- property tests
FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
INT_OPTIONS = [  # (command prefix, option, smallest valid value)
    (["data", "simulate", "--out", "{new}"], "--speakers", 1), (["data", "simulate", "--out", "{new}"], "--seed", 0),
    (["data", "simulate", "--out", "{new}"], "--workers", 1),
    (["generate", "--corpus", C, "--out", "{new}"], "--max-targets", 1),
    (["generate", "--corpus", C, "--out", "{new}"], "--seed", 0),
    (["evaluate", "--corpus", C, "--fakes", F, "--out", "{new}"], "--bootstrap", 0),
    (["train", "compliance", "--corpus", C, "--out", "{new}"], "--epochs", 1),
    (["train", "compliance", "--corpus", C, "--out", "{new}"], "--batch-size", 1),
    (["data", "subset", "--hard", "--result", "{ws}/result", "--corpus", C, "--fakes", F, "--out", "{new}"],
     "--per-challenge", 1),
    (["challenges", "issue"], "--count", 1), (["demo", "--out", "{new}"], "--speakers", 4),
]
FLOAT_OPTIONS = [
    (["evaluate", "--corpus", C, "--fakes", F, "--out", "{new}"], "--threshold"),
    (["gate", "--baseline", R, "--current", R], "--max-auroc-drop"),
    (["data", "subset", "--hard", "--result", "{ws}/result", "--corpus", C, "--fakes", F, "--out", "{new}"],
     "--match"),
    (["generate", "--corpus", C, "--out", "{new}", "--streaming"], "--chunk-ms"),
    (["data", "load", "{ws}/rec", "--out", "{new}"], "--min-duration"),
]
NOT_NUMBERS = st.sampled_from(["nan", "NaN", "inf", "-inf", "1e999", "", "abc", "0x1f", "1,5", "--", "½", "1_000x"])


@FUZZ
@given(option=st.sampled_from(INT_OPTIONS), value=st.one_of(st.integers(max_value=-1), NOT_NUMBERS))
def test_integer_options_reject_out_of_range_and_text(ws, capfd, option, value):
    prefix, flag, smallest = option
    if isinstance(value, int):
        value = smallest - 1 - abs(value)
    before = stat_snapshot(ws)
    res = invoke(_fill([*prefix, flag, str(value)], ws, "fuzz-int"), capfd)
    assert_bad_input(res, flag if value not in ("", "--") else "", flag)
    assert changes(before, stat_snapshot(ws)) == []


@FUZZ
@given(option=st.sampled_from(FLOAT_OPTIONS), value=NOT_NUMBERS)
def test_float_options_reject_non_finite_and_text(ws, capfd, option, value):
    prefix, flag = option
    before = stat_snapshot(ws)
    res = invoke(_fill([*prefix, flag, value], ws, "fuzz-float"), capfd)
    assert_bad_input(res, "" if value in ("", "--") else flag, flag)
    assert changes(before, stat_snapshot(ws)) == []


@FUZZ
@given(spec=st.one_of(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=20),
                      st.lists(st.one_of(st.integers(-3, 25).map(str), st.sampled_from(["whisper", "sing", "all"]),
                                         st.tuples(st.integers(0, 22), st.integers(0, 22)).map("{0[0]}-{0[1]}".format)),
                               min_size=1, max_size=4).map(",".join)))
def test_any_challenge_selection_is_parsed_or_refused_in_one_line(ws, capfd, spec):
    """A selection is either refused in one line naming the problem, or parsed: then the command goes on
    and stops at the next check (here: an output folder bench did not write)."""
    from bench.challenges.taxonomy import parse_selection
    from bench.errors import BenchError

    try:
        valid = spec.strip().lower() == "all" or bool(parse_selection(spec))
    except BenchError:
        valid = False
    before = stat_snapshot(ws)
    res = invoke(["generate", "--corpus", str(ws / "corpus"), "--out", str(ws / "foreign"), "--challenges",
                  spec], capfd)
    assert_bad_input(res, "not written by bench" if valid else "")
    if not valid:
        assert "not written by bench" not in res.stderr
    assert changes(before, stat_snapshot(ws)) == []


CELL = st.one_of(st.sampled_from(["", "0", "1", "12", "whisper", "desktop", "mobile", "a.wav", "-1", "alice",
                                  "c3", "#5", "x.wav", "é", "\"quoted, cell\""]),
                 st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=8))
COLUMNS = st.lists(st.sampled_from(["utterance_id", "subject", "challenge", "sentence_id", "script", "device",
                                    "audio", "file_name", "colour", ""]), min_size=1, max_size=6)


@FUZZ
@given(columns=COLUMNS, rows=st.lists(st.lists(CELL, min_size=1, max_size=7), max_size=4),
       encoding=st.sampled_from(["utf-8", "utf-8-sig", "latin-1", "utf-16"]))
def test_any_metadata_csv_imports_or_fails_in_one_line(tmp_path_factory, capfd, columns, rows, encoding):
    src = tmp_path_factory.mktemp("meta")
    (src / "a.wav").write_bytes(GOOD["a.wav"])
    text = ",".join(columns) + "\n" + "".join(",".join(r) + "\n" for r in rows)
    try:
        (src / "metadata.csv").write_bytes(text.encode(encoding))
    except UnicodeEncodeError:
        (src / "metadata.csv").write_bytes(text.encode("utf-8", "replace"))
    out = src.parent / f"{src.name}-out"
    res = invoke(["data", "load", str(src), "--out", str(out), "--workers", "1"], capfd)
    assert "Traceback" not in res.stderr + res.stdout
    if res.code == 0:
        assert read_manifest(out)["rows"] >= 1
    else:
        assert_bad_input(res, "")
        assert not (out / "state.json").exists()


def _mutated_wav(data: st.DataObject) -> bytes:
    raw = bytearray(wav_bytes(1.0))
    kind = data.draw(st.sampled_from(["truncate", "flip", "size", "random"]))
    if kind == "truncate":
        return bytes(raw[: data.draw(st.integers(0, len(raw) - 1))])
    if kind == "flip":
        for _ in range(data.draw(st.integers(1, 8))):
            raw[data.draw(st.integers(0, 63))] = data.draw(st.integers(0, 255))
        return bytes(raw)
    if kind == "size":  # a lying data-chunk size
        struct.pack_into("<I", raw, 40, data.draw(st.integers(0, 2**32 - 1)))
        return bytes(raw)
    return data.draw(st.binary(max_size=200))


@FUZZ
@given(data=st.data())
def test_any_audio_bytes_import_or_are_skipped_with_a_reason(tmp_path_factory, capfd, data):
    src = tmp_path_factory.mktemp("audio")
    (src / "x.wav").write_bytes(_mutated_wav(data))
    (src / "metadata.csv").write_text(HEADER + "u1,alice,0,x.wav\n")
    out = src.parent / f"{src.name}-out"
    res = invoke(["data", "load", str(src), "--out", str(out), "--workers", "1"], capfd)
    assert "Traceback" not in res.stderr + res.stdout
    if res.code == 0:  # whatever was accepted decodes to speech-length, non-silent, finite audio
        from bench.audio import audio_problem, load_entry
        from bench.data.corpus import open_dataset

        x = load_entry(open_dataset(out)[0]["audio"])
        assert np.isfinite(x).all() and audio_problem(x, 16000, 0.5) is None
    else:
        assert_bad_input(res, "none of the 1 audio files is usable")


JSON = st.recursive(st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                max_size=3), max_leaves=10)


@FUZZ
@given(doc=JSON | st.fixed_dictionaries({"schema_version": st.sampled_from(["1.0", "1.1"])},
                                        optional={"overall": JSON, "kind": JSON, "taxonomy_version": JSON}))
def test_any_results_json_is_refused_in_one_line(ws, capfd, tmp_path_factory, doc):
    path = tmp_path_factory.mktemp("res") / "result.json"
    path.write_text(json.dumps(doc))
    for args in (["gate", "--baseline", str(path), "--current", str(ws / "result" / "result.json")],
                 ["leaderboard", "build", str(path), "--out", str(path.parent / "board")]):
        assert_bad_input(invoke(args, capfd), "")
    assert not (path.parent / "board").exists()


TOLERANCE = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-5, 5), st.booleans(),
                      st.text(max_size=4), st.lists(st.integers(), max_size=2))


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "nan" if v != v else ("inf" if v == float("inf") else "-inf" if v == float("-inf") else repr(v))
    return json.dumps(v)


@FUZZ
@given(values=st.dictionaries(st.sampled_from(["auroc_drop", "eer_rise", "latency_p95_rise", "throughput_fall",
                                               "ci_aware", "per_challenge"]), TOLERANCE, min_size=1))
def test_gate_config_values_are_validated(ws, capfd, tmp_path_factory, values):
    cfg = tmp_path_factory.mktemp("gate") / "gate.toml"
    cfg.write_text("[gate]\n" + "".join(f"{k} = {_toml_value(v)}\n" for k, v in values.items()))
    res = invoke(["gate", "--baseline", str(ws / "result" / "result.json"), "--current",
                  str(ws / "result" / "result.json"), "--config", str(cfg)], capfd)

    def valid(k, v):
        if k in ("ci_aware", "per_challenge"):
            return isinstance(v, bool)
        return isinstance(v, int | float) and not isinstance(v, bool) and v == v and abs(v) != float("inf") and v >= 0

    if all(valid(k, v) for k, v in values.items()):
        assert res.code == 0, res.stderr  # the same result as baseline and current never regresses
    else:
        assert_bad_input(res, "")


def test_json_helper_refuses_wrong_kinds(tmp_path):
    from bench.errors import BenchError
    from bench.fileio import read_json

    write_json(tmp_path / "a.json", [1])
    with pytest.raises(BenchError, match="JSON object, found a array"):
        read_json(tmp_path / "a.json", "thing")
