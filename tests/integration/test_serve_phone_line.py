"""bench serve over a phone line: G.711 (mu-law, A-law) frames as a phone switch sends them, scored exactly as
the same audio decoded by Python's own G.711 routines and sent as 16-bit PCM; `bench stream --channel` and
`bench latency --channel` (tests/integration/test_latency.py) send what each telephone channel delivers (encoding
and rate), and refuse bad lines."""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest

from tests.helpers.cli import run_bench

TOKEN = "test-token-0123456789"


@pytest.fixture
def served(devox_model, monkeypatch):
    """devox-small@1 served in this process on loopback (raw mode); yields (url, env, call wav)."""
    from bench.serve.config import ServeConfig
    from bench.serve.server import ServerThread

    root, env, wav = devox_model
    monkeypatch.setenv("BENCH_MODEL_STORE", env["BENCH_MODEL_STORE"])
    with ServerThread(ServeConfig(model="devox-small@1", token=TOKEN, port=0, watch_seconds=0)) as st:
        yield st.url, env, wav


def _stream(url, wave, rate, encoding):
    from bench.serve.client import stream_wave

    return asyncio.run(stream_wave(url, TOKEN, wave, rate, realtime=False, encoding=encoding))


def test_g711_calls_score_as_the_standard_librarys_decoding_sent_as_pcm(served):
    audioop = pytest.importorskip("audioop")  # the standard library's G.711 (removed in Python 3.13)
    from bench.audio import decode, resample
    from bench.serve.protocol import encode_pcm

    url, _, wav = served
    x, sr = decode(str(wav))
    x8 = resample(x, sr, 8000)[:24_000]  # 3 s at 8 kHz
    for encoding, to_lin in (("pcm_mulaw", audioop.ulaw2lin), ("pcm_alaw", audioop.alaw2lin)):
        codes = encode_pcm(x8, encoding)
        assert len(codes) == len(x8)  # one byte per sample on the wire
        reference = np.frombuffer(to_lin(codes, 2), dtype="<i2").astype(np.float32) / 32768.0
        g711 = _stream(url, reference, 8000, encoding)  # the levels re-encode to the same codes
        pcm = _stream(url, reference, 8000, "pcm_s16le")
        assert g711["ready"]["encoding"] == encoding and g711["ready"]["sample_rate"] == 8000
        got, want = ([r["score"] for r in out["replies"]] for out in (g711, pcm))
        assert len(got) == 3 and all(r["type"] == "verdict" for r in g711["replies"])
        assert got == pytest.approx(want, rel=1e-5, abs=1e-6)


def test_a_hello_with_an_unknown_encoding_or_a_wideband_g711_call_is_closed_with_its_code(served):
    from websockets.asyncio.client import connect

    url = served[0]

    async def first_reply(hello: dict) -> tuple[dict, str]:
        async with connect(url, additional_headers={"Authorization": f"Bearer {TOKEN}"}) as ws:
            await ws.send(json.dumps({"type": "hello", **hello}))
            reply = json.loads(await ws.recv())
            await ws.wait_closed()
            return reply, ws.close_reason

    for hello, code in (({"encoding": "gsm"}, "bad_encoding"),
                        ({"encoding": "pcm_alaw", "sample_rate": 16000}, "bad_sample_rate")):
        reply, reason = asyncio.run(first_reply(hello))
        assert reply["type"] == "error" and reply["code"] == code and reply["fatal"] and reason == code


@pytest.mark.slow  # five bench processes
def test_bench_stream_sends_what_each_channel_delivers(served, tmp_path):
    url, env, wav = served
    token = tmp_path / "token"
    token.write_text(TOKEN)
    token.chmod(0o600)
    for profile, encoding, rate in (("pstn-g711u", "pcm_mulaw", 8000), ("mobile-amr-nb", "pcm_s16le", 8000),
                                    ("hd-g722", "pcm_s16le", 16000)):
        res = run_bench("stream", str(wav), "--url", url, "--token-file", str(token), "--fast", "--json",
                        "--channel", profile, env=env)
        assert res.returncode == 0, res.stderr
        out = json.loads(res.stdout)
        assert (out["ready"]["encoding"], out["ready"]["sample_rate"]) == (encoding, rate)
        assert out["call_end"]["chunks"] == len(out["replies"]) >= 1 and out["call_end"]["errors"] == 0
    for extra, message in ((("--channel", "pstn-g729"), "unknown channel profile 'pstn-g729'"),
                           (("--channel", "pstn-g711u", "--mode", "privacy", "--model", "devox-small@1"),
                            "--channel streams raw audio")):
        bad = run_bench("stream", str(wav), "--url", url, "--token-file", str(token), *extra, env=env)
        assert bad.returncode == 2 and message in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
