"""``bench models export-device``: a split model's device half as ONNX files, for phone teams (docs/serve.md).

The folder holds, per seed of the model, ``device-seed<N>.onnx`` (input ``x``: a (windows, window_samples)
float32 batch of audio windows at the input rate; output ``y``: (windows, ...) float32 features) and
``device.json``, which says everything a client needs besides the protocol document: how audio is cut into
windows, the rate, what each seed's features look like, the dtype they travel in, and the header values
(``detector``, ``model``, ``model_version``, ``sample_rate``) every feature message must carry. Each file is
checked against bench's own device half (onnxruntime's output equals eager torch's within float tolerance)
before it is written; nothing is written for a model that is not split.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import BenchError
from bench.fileio import write_atomic, write_json
from bench.outdir import claim_output
from bench.serve.protocol import PROTOCOL

SCHEMA = "bench.device-half/1"
MANIFEST = "device.json"
COMMAND = "models export-device"
#: onnxruntime vs torch: the largest difference allowed (relative to the features' scale), float32 rounding
TOLERANCE = 1e-4


def onnx_name(seed: int) -> str:
    return f"device-seed{seed}.onnx"


def export_device_half(model: str, out: str | Path, overwrite: bool = False) -> dict[str, Any]:
    """Write ``model``'s device half into ``out`` (an owned folder, :func:`~bench.outdir.claim_output`); returns the
    manifest. The model is loaded and checked before the folder is touched."""
    import torch

    from bench.countermeasures.split_model import load_split_detector
    from bench.serve.onnx_backend import onnx_bytes, session

    entry, det = load_split_detector(model)
    sc = det.split_scorer()
    device_input = sc.device_input()
    n = device_input["window_samples"]
    if not n:
        raise BenchError(f"model {entry.card.ref} takes any-length input; the ONNX device half needs a fixed window")
    msg = sc.message_spec()
    claim_output(out, COMMAND, {"model": entry.card.ref, "model_version": sc.version}, inputs=[entry.folder],
                 overwrite=overwrite)
    out = Path(out)
    rng = np.random.default_rng(0)
    example = torch.from_numpy((0.1 * rng.standard_normal((2, n))).astype(np.float32))
    check = (0.1 * rng.standard_normal((3, n))).astype(np.float32)
    files: dict[str, Any] = {}
    for seed, net in zip(sc.seeds, sc.modules, strict=True):
        data = onnx_bytes(net.device_half, example, batch_axis="windows")
        with torch.no_grad():
            want = net.device_half(torch.from_numpy(check)).float().numpy()
        got = session(data).run(None, {"x": check})[0]
        scale = max(1.0, float(np.abs(want).max()))
        if got.shape != want.shape or not np.allclose(got, want, rtol=TOLERANCE, atol=TOLERANCE * scale):
            raise BenchError(f"model {entry.card.ref} seed {seed}: the exported device half's outputs differ from "
                             "bench's (torch) device half; it is not exported")
        write_atomic(out / onnx_name(seed), data)
        files[str(seed)] = {"path": onnx_name(seed), "sha256": hashlib.sha256(data).hexdigest(),
                            "output_shape": msg["shape"][str(seed)]}
    manifest = {
        "schema": SCHEMA, "protocol": PROTOCOL, "detector": msg["detector"], "model": msg["model"],
        "model_version": msg["model_version"], "seeds": msg["seeds"], "files": files,
        "input": {"name": "x", "shape": ["windows", n], **device_input},
        "output": {"name": "y", "dtype": "float32"},
        "message": {"schema": msg["schema"], "dtype": msg["dtype"], "sample_rate": msg["sample_rate"],
                    "header": {"detector": msg["detector"], "model": msg["model"],
                               "model_version": msg["model_version"], "sample_rate": msg["sample_rate"],
                               "dtype": msg["dtype"]}},
        "threshold": det.score_semantics().threshold,
    }
    write_json(out / MANIFEST, manifest)
    return manifest
