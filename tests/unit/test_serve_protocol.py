"""bench serve's protocol parsers without a server: the hello, PCM chunks and feature frames, and the error
codes of what they refuse."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from bench.serve.protocol import (
    ProtocolError,
    decode_pcm,
    encode_pcm,
    hello,
    is_fatal,
    parse_hello,
    split_messages,
)


# ------------------------------------------------------------------ protocol (no server)
def test_hello_is_checked_field_by_field():
    h = parse_hello(hello("raw", 8000, "c1", label=1))
    assert (h.mode, h.sample_rate, h.call_id, h.keep, h.label) == ("raw", 8000, "c1", False, 1)
    assert parse_hello(hello("privacy", keep=True)).keep
    assert parse_hello(hello("privacy")).sample_rate == 0
    for bad, code in [(b"\x00", "bad_hello"), ("nope", "bad_hello"), ('{"type": "end"}', "bad_hello"),
                      ('{"type": "hello", "mode": "video"}', "bad_hello"),
                      ('{"type": "hello", "sample_rate": 44100}', "bad_sample_rate"),
                      ('{"type": "hello", "sample_rate": "16000"}', "bad_sample_rate"),
                      ('{"type": "hello", "protocol": "other/2"}', "bad_hello"),
                      ('{"type": "hello", "label": 3}', "bad_hello"),
                      ('{"type": "hello", "keep": true}', "bad_hello"),  # raw audio is never kept: refused
                      ('{"type": "hello", "mode": "privacy", "keep": "yes"}', "bad_hello")]:
        with pytest.raises(ProtocolError) as err:
            parse_hello(bad)
        assert err.value.code == code and "\n" not in str(err.value)
    with pytest.raises(ProtocolError, match="privacy-only"):
        parse_hello(hello("raw"), privacy_only=True)


def test_pcm_chunks_round_trip_and_malformed_ones_are_refused():
    x = np.sin(np.linspace(0, 100, 16000)).astype(np.float32) * 0.5
    back = decode_pcm(encode_pcm(x), 16000, 0.1, 2.0)
    assert back.dtype == np.float32 and np.abs(back - x).max() < 1 / 32768 + 1e-6
    for frame, code in [(b"\x00" * 3, "bad_frame"), (b"\x00" * 100, "chunk_too_short"),
                        (b"\x00" * 70_000, "chunk_too_long"), (b"BFM1" + b"\x00" * 4000, "bad_frame")]:
        with pytest.raises(ProtocolError) as err:
            decode_pcm(frame, 16000, 0.1, 2.0)
        assert err.value.code == code


def test_a_g711_hello_defaults_to_8_khz_and_refuses_other_rates_and_unknown_encodings():
    h = parse_hello('{"type": "hello", "encoding": "pcm_mulaw"}')
    assert (h.encoding, h.sample_rate) == ("pcm_mulaw", 8000)
    assert parse_hello(hello("raw", 8000, encoding="pcm_alaw")).encoding == "pcm_alaw"
    assert parse_hello(hello("raw")).encoding == "pcm_s16le"
    for bad, code in [('{"type": "hello", "encoding": "pcm_mulaw", "sample_rate": 16000}', "bad_sample_rate"),
                      ('{"type": "hello", "encoding": "gsm"}', "bad_encoding"),
                      ('{"type": "hello", "encoding": 7}', "bad_encoding"),
                      ('{"type": "hello", "mode": "privacy", "encoding": "pcm_mulaw"}', "bad_hello")]:
        with pytest.raises(ProtocolError) as err:
            parse_hello(bad)
        assert err.value.code == code and "\n" not in str(err.value)
        assert is_fatal(code)


def test_g711_chunks_decode_as_the_standard_library_decodes_them():
    """A mu-law / A-law chunk (one byte per sample) decodes to the levels Python's own G.711 routines give, every
    one of the 256 codes; encoding goes through FFmpeg and lands on the nearest level or its neighbour."""
    audioop = pytest.importorskip("audioop")  # the standard library's G.711 (removed in Python 3.13)
    codes = bytes(range(256)) * 32  # 8192 samples: 1.024 s at 8 kHz
    for encoding, ref in (("pcm_mulaw", audioop.ulaw2lin), ("pcm_alaw", audioop.alaw2lin)):
        got = decode_pcm(codes, 8000, 0.1, 2.0, encoding)
        want = np.frombuffer(ref(codes, 2), dtype="<i2") / 32768.0
        assert got.dtype == np.float32 and np.array_equal(got, want.astype(np.float32))
        x = np.sin(np.linspace(0, 400, 8000)).astype(np.float32) * 0.6
        frame = encode_pcm(x, encoding)
        assert len(frame) == 8000  # one byte per sample
        err = np.abs(decode_pcm(frame, 8000, 0.1, 2.0, encoding) - x)
        levels = np.sort(np.unique(want))
        k = np.clip(np.searchsorted(levels, x), 1, len(levels) - 1)
        local_step = levels[k] - levels[k - 1]
        assert np.all(err <= local_step + 1e-6)  # within one quantisation step of the input
    with pytest.raises(ProtocolError) as err:
        decode_pcm(b"\x00" * 400, 8000, 0.1, 2.0, "pcm_mulaw")  # 0.05 s: one byte per sample, not two
    assert err.value.code == "chunk_too_short"


def test_feature_frames_split_into_messages_and_garbage_is_refused():
    from bench.countermeasures.feature_message import FeatureMessage

    msgs = [FeatureMessage("devox", "m@1", "v" * 16, s, 8000, np.ones((1, 4, 3), np.float16), seq=2) for s in (0, 1)]
    frame = b"".join(m.to_bytes() for m in msgs)
    got = split_messages(frame)
    assert [m.seed for m in got] == [0, 1] and all(np.array_equal(m.data, msgs[0].data) for m in got)
    head = json.dumps({"schema": "bench.features/1", "shape": [-5, 2], "dtype": "float16"}).encode()
    negative = b"BFM1" + struct.pack("<I", len(head)) + head
    for bad in [b"\x00\x01" * 100, frame[:-3], frame + b"xx", frame[:9], negative,
                b"BFM1" + struct.pack("<I", 10 ** 6) + b"{}"]:
        with pytest.raises(ProtocolError):
            split_messages(bad)
