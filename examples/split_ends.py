"""The two ends of a privacy-split detector (devox, deepdetection), as two separate programs.

The device end reads an audio file, runs the model's device half and writes one feature
message per seed (``bench.countermeasures.feature_message`` wire format, ``msg-seed<N>.bin``); the server end reads
only those files and prints the score as JSON. Nothing else passes between them:

    python examples/split_ends.py device call.wav --detector devox --model devox-small@1 --out msgs/
    python examples/split_ends.py server msgs/ --detector devox --model devox-small@1

The score is the one ``bench score call.wav --detector devox --model devox-small@1`` prints
(which runs both halves in one process, through the same message bytes).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("end", choices=["device", "server"])
    ap.add_argument("path", help="device: the audio file; server: the folder of messages")
    ap.add_argument("--detector", required=True)
    ap.add_argument("--model", required=True, help="NAME@VERSION or a model folder")
    ap.add_argument("--out", help="device: folder to write the messages into")
    args = ap.parse_args(argv)

    from bench.api.registry import DETECTORS
    from bench.audio import decode, resample
    from bench.errors import BenchError

    try:
        det = DETECTORS.create(args.detector, model=args.model)
        if not hasattr(det, "device_messages"):
            raise BenchError(f"detector {args.detector} is not split between a device and a server")
        if args.end == "device":
            if not args.out:
                raise BenchError("device: give --out FOLDER")
            x, sr = decode(args.path)
            out = Path(args.out)
            out.mkdir(parents=True, exist_ok=True)
            for msg in det.device_messages(resample(x, sr)):
                (out / f"msg-seed{msg.seed}.bin").write_bytes(msg.to_bytes())
            return 0
        files = sorted(Path(args.path).glob("msg-seed*.bin"))
        if not files:
            raise BenchError(f"{args.path}: no msg-seed*.bin feature messages")
        print(json.dumps(det.server_score([f.read_bytes() for f in files])))
        return 0
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
