#!/usr/bin/env python3
"""A ``bench.serve/1`` client written from docs/serve.md alone: Python's standard library, numpy, onnxruntime
and websockets. It never imports bench: a phone or browser team can read it as a second statement of the
protocol.

    python reference_client.py call.wav --url ws://127.0.0.1:8765/v1/call --token-file token
    python reference_client.py call.wav --mode privacy --device-half FOLDER --token-file token

``FOLDER`` is what ``bench models export-device NAME@VERSION --out FOLDER`` wrote (device.json and one
device-seed<N>.onnx per seed). The WAV file is 16-bit PCM mono: 8 or 16 kHz in raw mode, the device half's
input rate (device.json ``input.sample_rate``) in privacy mode. The client sends 1-second chunks, each after
the previous reply (as ``bench stream --fast``), then ``end``, and prints one JSON document: ``ready``, the
replies in order and ``call_end``. ``--auth subprotocol`` sends the token the way a browser must (as the
WebSocket subprotocol ``bearer.TOKEN`` beside ``bench.serve.v1``) instead of the ``Authorization`` header.
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import sys
import wave
from pathlib import Path

import numpy as np

PROTOCOL = "bench.serve/1"
SUBPROTOCOL = "bench.serve.v1"
MAGIC = b"BFM1"
CHUNK_SECONDS = 1.0
MIN_CHUNK_SECONDS = 0.1


def read_wav(path: str) -> tuple[np.ndarray, int]:
    """16-bit PCM mono WAV -> (int16 samples, rate)."""
    with wave.open(path, "rb") as w:
        if w.getsampwidth() != 2 or w.getnchannels() != 1:
            sys.exit(f"error: {path}: the reference client reads 16-bit PCM mono WAV files only")
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").copy(), w.getframerate()


def chunks(samples: np.ndarray, rate: int) -> list[np.ndarray]:
    """1-second chunks; a last chunk shorter than 0.1 s is not sent (the server refuses it)."""
    n = int(round(CHUNK_SECONDS * rate))
    return [samples[i:i + n] for i in range(0, len(samples), n) if len(samples[i:i + n]) >= MIN_CHUNK_SECONDS * rate]


def windows(x: np.ndarray, spec: dict) -> np.ndarray:
    """docs/serve.md "The device half": the (windows, window_samples) float32 batch for one chunk."""
    n = spec["window_samples"]
    if len(x) == 0:
        x = np.zeros(1, np.float32)
    if len(x) <= n:
        if spec["shorter"] == "tile":
            return np.tile(x, -(-n // len(x)))[:n][None, :]
        return np.pad(x, (0, n - len(x)))[None, :]
    if spec["longer"] == "crop":
        return x[None, :n]
    starts = list(range(0, len(x) - n + 1, n))
    if starts[-1] + n < len(x):
        starts.append(len(x) - n)
    return np.stack([x[s:s + n] for s in starts])


class DeviceHalf:
    """The exported device half: a chunk of audio -> one privacy-mode binary frame (one message per seed)."""

    def __init__(self, folder: str) -> None:
        import onnxruntime as ort

        self.folder = Path(folder)
        self.manifest = json.loads((self.folder / "device.json").read_text())
        self.sessions = {int(seed): ort.InferenceSession(str(self.folder / f["path"]),
                                                         providers=["CPUExecutionProvider"])
                         for seed, f in self.manifest["files"].items()}

    def frame(self, chunk: np.ndarray, seq: int) -> bytes:
        m = self.manifest
        wins = windows(chunk, m["input"]).astype(np.float32)
        out = b""
        for seed in m["seeds"]:  # one message per seed, in device.json's order
            feats = self.sessions[seed].run(None, {m["input"]["name"]: wins})[0]
            data = np.ascontiguousarray(feats.astype(m["message"]["dtype"]).astype(
                np.dtype(m["message"]["dtype"]).newbyteorder("<")))
            header = {"schema": m["message"]["schema"], **m["message"]["header"], "seed": seed,
                      "shape": list(data.shape), "seq": seq}
            head = json.dumps(header).encode("utf-8")
            out += MAGIC + struct.pack("<I", len(head)) + head + data.tobytes(order="C")
        return out


def run(args: argparse.Namespace) -> dict:
    from websockets.sync.client import connect

    token = Path(args.token_file).read_text().strip() if args.token_file else os.environ["BENCH_SERVE_TOKEN"]
    samples, rate = read_wav(args.wav)
    device = DeviceHalf(args.device_half) if args.mode == "privacy" else None
    if device is not None and rate != device.manifest["input"]["sample_rate"]:
        sys.exit(f"error: {args.wav} is at {rate} Hz; the device half takes {device.manifest['input']['sample_rate']}")
    if args.auth == "header":
        auth = {"additional_headers": {"Authorization": f"Bearer {token}"}, "subprotocols": [SUBPROTOCOL]}
    else:
        auth = {"subprotocols": [SUBPROTOCOL, f"bearer.{token}"]}
    with connect(args.url, max_size=64 * 1024, compression=None, **auth) as ws:
        assert ws.subprotocol == SUBPROTOCOL, ws.subprotocol
        hello = {"type": "hello", "protocol": PROTOCOL, "mode": args.mode, "call_id": "reference-client"}
        if args.mode == "raw":
            hello["sample_rate"] = rate
        ws.send(json.dumps(hello))
        ready = json.loads(ws.recv())
        if ready["type"] != "ready":
            sys.exit(f"error: the server refused the call: {ready.get('code')}: {ready.get('message')}")
        replies = []
        for seq, c in enumerate(chunks(samples, rate)):
            if device is None:
                ws.send(c.astype("<i2").tobytes())  # raw: 16-bit little-endian PCM
            else:
                ws.send(device.frame(c.astype(np.float32) / 32768.0, seq))
            reply = json.loads(ws.recv())
            replies.append(reply)
            if reply["type"] == "error" and reply["fatal"]:
                return {"ready": ready, "replies": replies, "call_end": None}
        ws.send(json.dumps({"type": "end"}))
        while True:
            d = json.loads(ws.recv())
            if d["type"] == "call_end":
                return {"ready": ready, "replies": replies, "call_end": d}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("wav")
    p.add_argument("--url", default="ws://127.0.0.1:8765/v1/call")
    p.add_argument("--token-file", help="file holding the token (default: $BENCH_SERVE_TOKEN)")
    p.add_argument("--mode", choices=("raw", "privacy"), default="raw")
    p.add_argument("--device-half", help="privacy mode: the folder bench models export-device wrote")
    p.add_argument("--auth", choices=("header", "subprotocol"), default="header")
    args = p.parse_args()
    if args.mode == "privacy" and not args.device_half:
        p.error("--mode privacy needs --device-half FOLDER")
    print(json.dumps(run(args)))


if __name__ == "__main__":
    main()
