"""Importing local corpora and bad input handling (the Hub round trip: tests/integration/test_corpus_hub.py)."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from bench.api import BenchError
from bench.audio import load, load_entry, trim_silence, write_atomic
from bench.data.corpus import open_dataset
from bench.runs.import_corpus import import_local
from tests.helpers.cli import run_bench


def _tone(sr: int, seconds: float = 1.0, channels: int = 1) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    x = 0.3 * np.sin(2 * np.pi * 220 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
    return np.stack([x] * channels, axis=1) if channels > 1 else x


@pytest.fixture()
def recorded(tmp_path):
    """A metadata.csv corpus: 44.1 kHz stereo, 8 kHz mono, and one corrupt file."""
    src = tmp_path / "rec"
    src.mkdir()
    sf.write(src / "a.wav", _tone(44100, channels=2), 44100)
    sf.write(src / "b.flac", _tone(8000), 8000)
    (src / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    (src / "metadata.csv").write_text(
        "utterance_id,subject,challenge,sentence_id,script,device,audio\n"
        "u1,alice,0,1,hello there,desktop,a.wav\n"
        "u2,bob,1,2,,mobile,b.flac\n"
        "u3,bob,5,3,,desktop,broken.wav\n")
    return src


def test_import_metadata_resamples_and_skips_corrupt(recorded, tmp_path):
    out = tmp_path / "corpus"
    manifest = import_local(recorded, out)
    ds = open_dataset(out)
    assert len(ds) == 2 and manifest["skipped"][0]["file"] == "broken.wav"
    assert "cannot decode" in manifest["skipped"][0]["error"]
    rows = {r["utterance_id"]: r for r in ds}
    a = load_entry(rows["u1"]["audio"])
    assert rows["u1"]["sample_rate"] == 16000 and len(a) == pytest.approx(16000, abs=2)
    assert rows["u2"]["device"] == "mobile" and rows["u2"]["script"]  # filled from the scripts
    info, _ = sf.read(__import__("io").BytesIO(rows["u2"]["audio"]["bytes"]))
    assert info.ndim == 1


def test_import_accepts_the_audiofolder_file_name_column(tmp_path):
    src = tmp_path / "rec"
    src.mkdir()
    sf.write(src / "a.wav", _tone(16000, seconds=1.0), 16000)
    (src / "metadata.csv").write_text("file_name,subject,challenge\na.wav,alice,0\n")
    import_local(src, tmp_path / "c")
    assert open_dataset(tmp_path / "c")[0]["subject"] == "alice"


def test_import_skips_degenerate_audio_with_reasons(tmp_path):
    src = tmp_path / "rec"
    src.mkdir()
    sf.write(src / "good.wav", _tone(16000, seconds=1.0), 16000)
    sf.write(src / "zero.wav", np.zeros(16000), 16000)
    sf.write(src / "short.wav", _tone(16000, seconds=0.05), 16000)
    sf.write(src / "whole.wav", _tone(16000, seconds=2.0), 16000)
    raw = (src / "whole.wav").read_bytes()
    (src / "cut.wav").write_bytes(raw[: len(raw) // 2])
    (src / "whole.wav").unlink()
    (src / "metadata.csv").write_text("audio,subject,challenge\n" + "".join(
        f"{n}.wav,alice,0\n" for n in ("good", "zero", "short", "cut")))
    manifest = import_local(src, tmp_path / "c")
    reasons = {s["file"]: s["error"] for s in manifest["skipped"]}
    assert manifest["rows"] == 1 and set(reasons) == {"zero.wav", "short.wav", "cut.wav"}
    assert "silent" in reasons["zero.wav"] and "too short" in reasons["short.wav"]
    assert "truncated" in reasons["cut.wav"]


def test_import_pitch_layout_and_trim(tmp_path):
    src = tmp_path / "pitch"
    for subject, challenge, name in [("s1", "0", "s3.wav"), ("s1", "whisper", "sentence_4.wav"),
                                     ("s2", "c12", "x.wav")]:
        (src / subject / challenge).mkdir(parents=True, exist_ok=True)
        silence = np.zeros(8000)
        sf.write(src / subject / challenge / name, np.concatenate([silence, _tone(16000), silence]), 16000)
    import_local(src, tmp_path / "out", trim=True)
    rows = {(r["subject"], r["challenge"]): r for r in open_dataset(tmp_path / "out")}
    assert set(rows) == {("s1", 0), ("s1", 3), ("s2", 12)}  # folder names: ids or keys (whisper is #3)
    assert rows[("s1", 0)]["sentence_id"] == 3 and rows[("s1", 3)]["sentence_id"] == 4
    assert rows[("s1", 0)]["duration_s"] < 1.6  # half a second of silence cut at each end


def test_trim_keeps_speech():
    x = np.concatenate([np.zeros(16000), _tone(16000), np.zeros(16000)]).astype(np.float32)
    y = trim_silence(x)
    assert 16000 <= len(y) < 24000


def test_wav_codec_matches_libsndfile_exactly():
    """bench writes and reads 16-bit WAV with numpy (no soundfile callbacks, in which Ctrl-C is lost);
    the bytes and samples are exactly libsndfile's."""
    import io

    from bench.audio import decode, encode_wav, wav_truncation

    rng = np.random.default_rng(0)
    near_steps = (rng.integers(-32768, 32768, 50_000) / 32768 + rng.normal(0, 1e-7, 50_000)).astype(np.float32)
    for x in [rng.normal(0, 0.6, n).astype(np.float32) for n in (1, 7, 16000, 100_003)] + [near_steps]:
        x[: min(len(x), 2)] = [1.0, -1.0][: min(len(x), 2)]
        buf = io.BytesIO()
        sf.write(buf, np.clip(x, -1, 1), 16000, format="WAV", subtype="PCM_16")
        assert encode_wav(x) == buf.getvalue()
        ref, sr = sf.read(io.BytesIO(buf.getvalue()), dtype="float32")
        got, got_sr = decode(buf.getvalue())
        assert got_sr == sr and np.array_equal(got, ref)
    stereo = io.BytesIO()
    sf.write(stereo, rng.normal(0, 0.3, (500, 2)), 44100, format="WAV", subtype="PCM_16")
    ref, _ = sf.read(io.BytesIO(stereo.getvalue()), dtype="float32", always_2d=True)
    assert np.array_equal(decode(stereo.getvalue())[0], ref.mean(axis=1).astype(np.float32))
    whole = encode_wav(x)
    assert wav_truncation(whole) is None and "truncated" in wav_truncation(whole[: len(whole) // 2])


def test_atomic_write_leaves_no_temp(tmp_path):
    write_atomic(tmp_path / "f.bin", b"abc")
    assert (tmp_path / "f.bin").read_bytes() == b"abc" and len(list(tmp_path.iterdir())) == 1


def test_decode_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio at all")
    with pytest.raises(BenchError, match="bad.wav: cannot decode"):
        load(bad)
    with pytest.raises(BenchError, match="no such file"):
        load(tmp_path / "missing.wav")


@pytest.mark.parametrize("csv_text, needle", [
    ("subject,challenge,audoi\nalice,0,a.wav\n", "unknown column 'audoi' (did you mean 'audio'?)"),
    ("subject,audio\nalice,a.wav\n", "missing column(s) challenge"),
    ("subject,challenge,audio\nalice,42,a.wav\n", "unknown challenge 42"),
    ("subject,challenge,audio,device\nalice,1,a.wav,fax\n", "device must be desktop or mobile"),
])
def test_cli_bad_metadata_is_one_line_exit_2(tmp_path, csv_text, needle):
    src = tmp_path / "src"
    src.mkdir()
    sf.write(src / "a.wav", _tone(16000), 16000)
    (src / "metadata.csv").write_text(csv_text)
    res = run_bench("data", "load", str(src), "--out", str(tmp_path / "o"))
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 2 and len(lines) == 1 and needle in lines[0], res.stderr
    assert not (tmp_path / "o" / "state.json").exists()


def test_cli_missing_dir_and_non_corpus(tmp_path):
    for args in (("data", "info", str(tmp_path / "nope")), ("data", "info", str(tmp_path)),
                 ("data", "load", str(tmp_path / "nope"), "--out", str(tmp_path / "o")),
                 ("data", "simulate", "--out", str(tmp_path / "s"), "--challenges", "0,99"),
                 ("data", "simulate", "--out", str(tmp_path / "s"), "--device", "tablet")):
        res = run_bench(*args)
        assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1, (args, res.stderr)


def test_cli_load_reports_corrupt_files(recorded, tmp_path):
    res = run_bench("data", "load", str(recorded), "--out", str(tmp_path / "c"), "--workers", "2")
    assert res.returncode == 0, res.stderr
    assert "1 file(s) skipped" in res.stderr and "broken.wav" in res.stderr
