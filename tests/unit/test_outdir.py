"""Output-folder ownership (bench.outdir) on its own: resume, refuse, replace, never into an input."""

from __future__ import annotations

import pytest

from bench.api import BenchError
from bench.outdir import MARKER, check_output, claim_output


def test_new_empty_and_same_settings(tmp_path):
    out = tmp_path / "o"
    assert claim_output(out, "cmd", {"a": 1}) is False  # new
    (out / "data.bin").write_bytes(b"x")
    assert claim_output(out, "cmd", {"a": 1}) is True  # resumed, nothing removed
    assert (out / "data.bin").read_bytes() == b"x"
    (tmp_path / "empty").mkdir()
    assert claim_output(tmp_path / "empty", "cmd", {}) is False


def test_other_settings_and_other_commands_need_overwrite(tmp_path):
    out = tmp_path / "o"
    claim_output(out, "cmd", {"a": 1, "b": 2})
    (out / "data.bin").write_bytes(b"x")
    with pytest.raises(BenchError, match=r"other settings \(a\)"):
        claim_output(out, "cmd", {"a": 3, "b": 2})
    with pytest.raises(BenchError, match="holds the output of `bench cmd`"):
        claim_output(out, "other", {"a": 1, "b": 2})
    with pytest.raises(BenchError):
        check_output(out, "other", {})
    assert (out / "data.bin").exists()
    claim_output(out, "other", {}, overwrite=True)
    assert not (out / "data.bin").exists() and (out / MARKER).is_file()


def test_foreign_folders_are_never_touched(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("years of work")
    for overwrite in (False, True):
        with pytest.raises(BenchError, match="not written by bench"):
            claim_output(tmp_path / "mine", "cmd", {}, overwrite=overwrite)
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "years of work"


def test_inputs_are_never_outputs(tmp_path):
    src = tmp_path / "corpus"
    src.mkdir()
    for out, why in ((src, "also an input"), (src / "sub", "lies inside the input"),
                     (tmp_path, "contains the input")):
        for overwrite in (False, True):
            with pytest.raises(BenchError, match=why):
                claim_output(out, "cmd", {}, inputs=[src], overwrite=overwrite)


def test_files_in_the_way_and_corrupt_markers(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(BenchError, match="is a file"):
        claim_output(tmp_path / "f", "cmd", {})
    with pytest.raises(BenchError, match="lies under .* which is a file"):
        claim_output(tmp_path / "f" / "sub", "cmd", {})
    out = tmp_path / "o"
    claim_output(out, "cmd", {})
    (out / MARKER).write_text("{ torn")
    (out / "part").write_text("p")
    with pytest.raises(BenchError, match="corrupt; pass --overwrite"):
        claim_output(out, "cmd", {})
    claim_output(out, "cmd", {}, overwrite=True)
    assert not (out / "part").exists()


def test_overwrite_replaces_even_the_same_settings(tmp_path):
    out = tmp_path / "o"
    claim_output(out, "cmd", {"a": 1})
    (out / "old.bin").write_bytes(b"x")
    assert claim_output(out, "cmd", {"a": 1}, overwrite=True) is False
    assert not (out / "old.bin").exists()


def test_common_file_names_do_not_make_a_folder_bench_s(tmp_path):
    """result.json, state.json or bench.json alone prove nothing: such a folder is foreign."""
    for names in (("result.json",), ("state.json",), ("bench.json", "state.json"), ("compliance.json",)):
        folder = tmp_path / "_".join(names)
        folder.mkdir()
        for name in names:
            (folder / name).write_text("{}")
        (folder / "thesis.tex").write_text("years of work")
        for overwrite in (False, True):
            with pytest.raises(BenchError, match="not written by bench"):
                claim_output(folder, "cmd", {}, overwrite=overwrite)
        assert (folder / "thesis.tex").exists()


def test_a_bench_0_1_corpus_is_recognised(tmp_path):
    old = tmp_path / "corpus"
    old.mkdir()
    (old / "state.json").write_text("{}")
    (old / "bench.json").write_text('{"kind": "corpus"}')
    with pytest.raises(BenchError, match="earlier bench version"):
        claim_output(old, "data load", {})
    claim_output(old, "data load", {}, overwrite=True)
    assert not (old / "state.json").exists()


def test_legacy_plan_files_still_resume(tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    (out / ".generate.json").write_text('{"seed": 0}')
    (out / "journal").mkdir()
    assert claim_output(out, "generate", {"seed": 0}) is True
    assert not (out / ".generate.json").exists() and (out / "journal").is_dir()
