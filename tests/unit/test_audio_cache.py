"""The local copy of a streamed Hub split's audio (issue #26: a local cache for repeated runs, resume): the Hub
path of `bench evaluate --dataset REPO_ID` run offline against a stand-in for the Hub that serves a replica's
parquet files through the same `datasets` streaming calls."""

from __future__ import annotations

import stat
from pathlib import Path
from types import SimpleNamespace

import datasets
import pytest

from bench.data import audio_cache
from bench.data.audio_cache import cache_folder, cached_audio
from bench.data.labelled import open_labelled
from tests.helpers import field_replicas as fr

REPO = "SpeechAntiSpoofingBenchmarks/Replica"
SHA = "0123456789abcdef0123456789abcdef01234567"


class HubStandIn:
    """Answers read_hub's calls for REPO from a local arena-style replica; counts the audio rows it streams."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.files = [str(p) for p in sorted((root / "data").glob("test-*.parquet"))]
        self.audio_rows = 0
        self.skips: list[int] = []
        real_load = datasets.load_dataset
        stand_in = self

        def load_dataset(path, *args, split=None, revision=None, streaming=False, columns=None, **kwargs):
            if path != REPO:
                return real_load(path, *args, split=split, streaming=streaming, columns=columns, **kwargs)
            assert revision == SHA and streaming
            ds = real_load("parquet", data_files={"test": stand_in.files}, split=split, streaming=True,
                           columns=columns)
            return _Counted(ds, stand_in) if columns == ["audio"] else ds

        monkeypatch.setattr(datasets, "load_dataset", load_dataset)
        monkeypatch.setattr(datasets, "load_dataset_builder",
                            lambda path, revision=None: SimpleNamespace(info=SimpleNamespace(splits={"test": None})))
        monkeypatch.setattr("huggingface_hub.HfApi.dataset_info", lambda self, repo_id, revision=None:
                            SimpleNamespace(sha=SHA))


class _Counted:
    """A streamed dataset whose rows are counted as they are read (and whose skips are recorded)."""

    def __init__(self, ds, hub: HubStandIn, skipped: int = 0) -> None:
        self.ds, self.hub, self.skipped = ds, hub, skipped

    def cast_column(self, *args):
        return _Counted(self.ds.cast_column(*args), self.hub, self.skipped)

    def skip(self, n: int):
        self.hub.skips.append(n)
        return _Counted(self.ds.skip(n), self.hub, n)

    def __iter__(self):
        for row in self.ds:
            self.hub.audio_rows += 1
            yield row


@pytest.fixture
def hub(tmp_path, monkeypatch):
    return HubStandIn(fr.arena_parquet(tmp_path / "replica", n=8), monkeypatch)


def _audio(data) -> list[bytes]:
    return [e["bytes"] for e in data.audio_stream()]


def test_a_hub_split_streams_once_and_is_read_back_from_the_cache(hub, tmp_path):
    local = open_labelled(str(tmp_path / "replica"))
    expected = [e["bytes"] for e in local.audio_stream()]
    cache = tmp_path / "cache"
    first = open_labelled(REPO, audio_cache=cache)
    assert first.revision == SHA and len(first.items) == 8
    assert _audio(first) == expected and hub.audio_rows == 8
    folder = cache_folder(cache, REPO, SHA, "test", "audio")
    files = sorted(folder.glob("rows-*.parquet"))
    assert [f.name for f in files] == ["rows-000000000.parquet"]
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700 and stat.S_IMODE(files[0].stat().st_mode) == 0o600
    again = open_labelled(REPO, audio_cache=cache)
    assert _audio(again) == expected and hub.audio_rows == 8  # nothing streamed the second time
    assert _audio(open_labelled(REPO)) == expected and hub.audio_rows == 16  # no cache: streamed again


def test_an_interrupted_stream_resumes_after_the_last_whole_file(hub, tmp_path, monkeypatch):
    monkeypatch.setattr(audio_cache, "ROWS_PER_FILE", 3)
    cache = tmp_path / "cache"
    expected = _audio(open_labelled(REPO))
    stream = open_labelled(REPO, audio_cache=cache).audio_stream()
    got = [next(stream)["bytes"] for _ in range(5)]
    stream.close()  # the run stops after 5 rows: rows are handed on once their file is written, so 2 files
    folder = cache_folder(cache, REPO, SHA, "test", "audio")
    assert sorted(f.name for f in folder.glob("rows-*.parquet")) == ["rows-000000000.parquet",
                                                                     "rows-000000003.parquet"]
    hub.audio_rows = 0
    assert _audio(open_labelled(REPO, audio_cache=cache)) == expected and got == expected[:5]
    assert hub.skips[-1] == 6 and hub.audio_rows == 2  # streamed from row 6 on, not from the start
    assert len(list(folder.glob("rows-*.parquet"))) == 3  # 3 + 3 + 2 rows


def test_a_cache_file_for_other_rows_is_not_used(tmp_path):
    folder = tmp_path / "c"
    rows = [{"bytes": bytes([i]), "path": f"{i}.flac"} for i in range(4)]
    assert list(cached_audio(lambda skip: iter(rows[skip:]), ["a", "b", "c", "d"], folder)) == rows
    # the label pass now names other utterances (another split written to the same place): the file is
    # not read as theirs, the rows are streamed and the file replaced
    other = [{"bytes": b"x" + bytes([i]), "path": None} for i in range(4)]
    assert list(cached_audio(lambda skip: iter(other[skip:]), ["e", "f", "g", "h"], folder)) == other
    assert list(cached_audio(lambda skip: iter([]), ["e", "f", "g", "h"], folder)) == other


def test_more_or_fewer_rows_than_labels_reach_the_caller(tmp_path):
    rows = [{"bytes": bytes([i]), "path": None} for i in range(4)]
    more = list(cached_audio(lambda skip: iter(rows[skip:]), ["a", "b", "c"], tmp_path / "m"))
    assert len(more) == 4  # the extra row is handed on: the evaluation reports "more audio rows than labels"
    fewer = list(cached_audio(lambda skip: iter(rows[skip:2]), ["a", "b", "c"], tmp_path / "f"))
    assert len(fewer) == 2 and not list((tmp_path / "f").glob("rows-*"))  # no partial file kept


def test_cache_folder_names_stay_under_the_root(tmp_path):
    folder = cache_folder(tmp_path, "../../etc", "../x", "a/../../b", "..")
    assert folder.resolve().is_relative_to(tmp_path.resolve())
    assert len(folder.relative_to(tmp_path / "datasets").parts) == 4
