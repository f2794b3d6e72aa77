"""Output-folder ownership (bench.outdir) on its own: resume, refuse, replace, never into an input."""

from __future__ import annotations

import pytest

from bench.errors import BenchError
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


def test_fresh_commands_rewrite_their_folder(tmp_path):
    out = tmp_path / "board"
    claim_output(out, "board", {"x": 1}, fresh=True)
    (out / "stale.svg").write_text("old figure")
    claim_output(out, "board", {"x": 1}, fresh=True)
    assert not (out / "stale.svg").exists()


def test_legacy_plan_files_still_resume(tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    (out / ".generate.json").write_text('{"seed": 0}')
    (out / "journal").mkdir()
    assert claim_output(out, "generate", {"seed": 0}) is True
    assert not (out / ".generate.json").exists() and (out / "journal").is_dir()
