"""The simulated callers of ``bench latency``: the calls they make (a speaker's originals that turn into fakes
of the same voice halfway, encoded once as the frames a phone sends: PCM, or the device half's feature
messages) and the callers that stream them to the server concurrently, in real time or as fast as the replies
come, recording every verdict with its timestamps."""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import BenchError, first_line


# ------------------------------------------------------------------ calls
def make_calls(out: Path, corpus: str | None, fakes: str | None, n: int, seconds: float,
               say: Callable[[str], None], training: dict[str, Any] | None = None
               ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Up to ``n`` distinct calls of ``seconds`` (16 kHz): a speaker's originals, then fakes of that voice from
    the fake's start (``fake_start`` s). No corpus given: a small one is simulated into OUT/audio. When
    ``training`` (the model card's) says the model was trained on this corpus, only its held-out test speakers
    call: the alert figures then describe voices the model never saw."""
    from bench.audio import load_entry
    from bench.data.corpus import known_hashes, open_dataset, read_manifest

    if corpus is None or fakes is None:
        from bench.runs.generate import generate
        from bench.runs.simulate_corpus import simulate_corpus

        corpus, fakes = str(out / "audio" / "corpus"), str(out / "audio" / "fakes")
        say("simulating 2 speakers (espeak-ng + WORLD) and their WORLD fakes for the callers' audio")
        simulate_corpus(corpus, speakers=2, sentences=3, challenges=[0], seed=0, workers=1)
        generate(corpus, fakes, workers=1)
    for p in (corpus, fakes):
        if not Path(p).exists():
            raise BenchError(f"{p}: no such corpus")
    orig, fk = open_dataset(corpus), open_dataset(fakes)
    meta = read_manifest(corpus)
    half = int(seconds * 16000 / 2)
    calls = []
    subjects = sorted({r["subject"] for r in orig})
    speakers = held_out_speakers(training, known_hashes(meta), subjects)
    if speakers:
        subjects = speakers
        say(f"callers: the model's held-out test speakers {', '.join(speakers)} (it trained on this corpus)")
    audio = {}
    for spk in subjects:
        real = [r["audio"] for r in orig if r["subject"] == spk]
        fake = [r["audio"] for r in fk if r.get("target") == spk]
        if real and fake:
            audio[spk] = (real, fake)
    # the speakers in turn; a speaker's k-th call starts at its k-th original and k-th fake (other audio)
    order = list(audio)
    for k in range(n if audio else 0):
        spk = order[k % len(order)]
        real, fake = audio[spk]
        turn = k // len(audio)
        if turn >= max(len(real), len(fake)):
            break  # no new audio left for this speaker
        a = np.resize(np.concatenate([load_entry(e) for e in _rotated(real, turn)]), half)
        b = np.resize(np.concatenate([load_entry(e) for e in _rotated(fake, turn)]), int(seconds * 16000) - half)
        calls.append({"speaker": spk, "wave": np.concatenate([a, b]).astype(np.float32), "fake_start": half / 16000})
    if not calls:
        raise BenchError(f"{corpus} + {fakes}: no speaker has both originals and fakes of their voice")
    return calls, {"corpus": str(corpus), "fakes": str(fakes), "name": meta.get("name"),
                   "simulated": bool(meta.get("simulated", True)), "speakers": [c["speaker"] for c in calls],
                   "held_out_speakers": bool(speakers)}


def _rotated(items: list[Any], k: int) -> list[Any]:
    """``items`` starting at its ``k``-th (modulo its length)."""
    k %= len(items)
    return items[k:] + items[:k]


def held_out_speakers(training: dict[str, Any] | None, corpus_hashes: set[str], subjects: list[str]) -> list[str]:
    """The model's held-out test speakers present in the corpus, when the model was trained on this very corpus
    (its card's content hash is one the corpus is known by, :func:`bench.data.corpus.known_hashes`); else [] (every
    speaker calls: the corpus is new to the model)."""
    training = training or {}
    trained_on = (training.get("corpus") or {}).get("content_hash")
    test = (training.get("splits") or {}).get("test") or []
    if not trained_on or trained_on not in corpus_hashes:
        return []
    return [s for s in subjects if s in test]


def through_line(calls: list[dict[str, Any]], line: Any) -> None:
    """Each call's 16 kHz wave through the phone line (:class:`bench.serve.phone_line.PhoneLine`), seeded per
    call from the line's seed: the wave is then at the line's rate and is sent in the line's encoding."""
    for k, c in enumerate(calls):
        seed = int(np.random.default_rng([line.seed, k]).integers(2**63 - 1))
        c["wave"], c["rate"] = line.apply(c["wave"], seed)
        c["encoding"] = line.encoding


def encode_calls(calls: list[dict[str, Any]], mode: str, model: str, chunk_s: float) -> None:
    """Each call's chunks as frames (PCM or G.711 at the call's rate, or the device half's feature messages),
    computed once."""
    from bench.serve.client import DeviceHalf, chunks_of
    from bench.serve.protocol import PCM, encode_pcm

    device = DeviceHalf(model) if mode == "privacy" else None
    for c in calls:
        chunks = chunks_of(c["wave"], c.get("rate", 16000), chunk_s)
        c["frames"] = [device.frame(x, i) if device else encode_pcm(x, c.get("encoding", PCM))
                       for i, x in enumerate(chunks)]



# ------------------------------------------------------------------ callers
def first_slot(start: float, connected: float, chunk_s: float) -> float:
    """A real-time caller's first send time: its planned ``start`` plus whole chunks, the first at or after the
    moment it ``connected``. Callers keep their own phase (spread over a chunk by their planned starts) however
    late their handshakes finish: the connection storm finishes handshakes in bursts, and starting each call at
    its handshake bunched most chunks into a quarter of every second (a load-generator artefact, not phones)."""
    return start + math.ceil(max(0.0, connected - start) / chunk_s) * chunk_s


async def _caller(url: str, token: str, call: dict[str, Any], mode: str, start: float, duration: float,
                  chunk_s: float, realtime: bool, rows: list[dict[str, Any]], errors: dict[str, int]) -> dict[str, Any]:
    """One caller: connects at ``start``, then streams for ``duration`` s from its first chunk slot after it is
    connected (real time: its slots are ``start`` + k chunks, so the callers' phases stay spread over a chunk
    whenever the handshakes finish; every caller that connects sends); failures are counted in ``errors``."""
    from bench.serve.client import EdgeCall

    await asyncio.sleep(max(0.0, start - time.perf_counter()))
    info = {"sent": 0, "t0_wall": time.time() * 1000.0, "n_frames": len(call["frames"]),
            "fake_start": call["fake_start"]}
    try:
        ec = await EdgeCall.connect(url, token, mode=mode, call_id=call["speaker"], open_timeout=120.0,
                                    **({"sample_rate": call["rate"], "encoding": call["encoding"]} if "rate" in call
                                       else {}))
    except BenchError as exc:
        key = "connect_failed" if "HTTP" not in str(exc) else "connect_refused"
        errors[key] = errors.get(key, 0) + 1
        info["error"] = first_line(exc)
        return info
    frames, sent, got = call["frames"], 0, 0
    info["t0_wall"] = time.time() * 1000.0
    t0 = time.perf_counter()
    if realtime:
        t0 = first_slot(start, t0, chunk_s)
        info["t0_wall"] += 1000.0 * (t0 - time.perf_counter())
    stop = t0 + duration
    done, answered = asyncio.Event(), asyncio.Event()

    async def reader() -> None:
        nonlocal got
        while True:
            d = await ec.recv()
            if d["type"] == "call_end":
                done.set()
                return
            if d["type"] not in ("error", "verdict"):
                continue
            got += 1
            answered.set()
            if d["type"] == "error":
                errors[d["code"]] = errors.get(d["code"], 0) + 1
            else:
                rows.append(d)

    task = asyncio.ensure_future(reader())
    i = 0
    try:
        while not task.done():
            when = t0 + i * chunk_s
            if realtime:
                if when >= stop:
                    break
                await asyncio.sleep(max(0.0, when - time.perf_counter()))
            elif i and time.perf_counter() >= stop:
                break
            answered.clear()
            await ec.send_frame(frames[i % len(frames)])
            sent += 1
            i += 1
            if not realtime:
                while got < sent and not task.done():
                    await answered.wait()
                    answered.clear()
        if not task.done():
            await ec.ws.send(json.dumps({"type": "end"}))
            # an overloaded server may never catch up: what is unanswered by then counts as dropped
            await asyncio.wait([task], timeout=max(30.0, 2 * duration))
    except BenchError as exc:  # the call failed mid-way: what was answered is kept
        errors["call_failed"] = errors.get("call_failed", 0) + 1
        info["error"] = first_line(exc)
    except Exception as exc:  # noqa: BLE001 - a connection closed under us
        errors["call_failed"] = errors.get("call_failed", 0) + 1
        info["error"] = f"{type(exc).__name__}: {first_line(exc)}"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await ec.close()
    info["sent"] = sent
    return info


async def drive(url: str, token: str, calls: list[dict[str, Any]], callers: int, duration: float, mode: str,
                chunk_s: float, realtime: bool) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, int]]:
    """Run ``callers`` concurrent calls of ``duration`` s each; returns (verdict rows, per-caller info, errors)."""
    rows_by: list[list[dict[str, Any]]] = [[] for _ in range(callers)]
    errors: dict[str, int] = {}
    t = time.perf_counter() + 1.0
    tasks = [_caller(url, token, calls[k % len(calls)], mode, t + chunk_s * k / callers, duration, chunk_s, realtime,
                     rows_by[k], errors) for k in range(callers)]
    info = await asyncio.gather(*tasks)
    for k, rows in enumerate(rows_by):
        for r in rows:
            r["caller"] = k
    return [r for rows in rows_by for r in rows], list(info), errors

