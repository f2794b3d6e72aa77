"""Eager torch vs TorchScript vs ONNX Runtime for what `bench serve` runs per chunk (issue #12).

Usage:

    BENCH_MODEL_STORE=zoo/store python benchmarks/inference_backends.py --model devox@1 --model aasist-l@1

For each model: the whole network on 1-second chunks (raw mode) at batch 1, 8 and 32, and for split models
the server half alone (privacy mode), on one thread (the edge-cpu profile's inference thread): median ms
per batch over repeats, and whether the outputs match eager torch. TorchScript is torch.jit.trace; ONNX is
torch.onnx.export (the TorchScript-based exporter) run by onnxruntime's CPU provider with one intra-op
thread. A backend that cannot convert the model is reported with its error, not skipped silently.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

from bench.serve.engine import median_ms as _median

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import header, table  # noqa: E402


def median_ms(fn, repeats: int) -> float:
    fn()  # warm-up
    return _median(fn, repeats)


def backends(module, example, repeats: int) -> dict[str, tuple[float | None, str]]:
    """{backend: (median ms, note)} for ``module`` on ``example``."""
    import torch

    out: dict[str, tuple[float | None, str]] = {}
    with torch.no_grad():
        ref = module(example).float().numpy()
        out["eager"] = (median_ms(lambda: module(example), repeats), "")
        try:
            traced = torch.jit.trace(module, example, check_trace=False)
            traced = torch.jit.freeze(traced.eval())
            same = np.allclose(traced(example).float().numpy(), ref, atol=1e-4, rtol=1e-3)
            out["torchscript"] = (median_ms(lambda: traced(example), repeats), "" if same else "outputs differ")
        except Exception as exc:  # noqa: BLE001 - report why a backend does not apply
            out["torchscript"] = (None, f"{type(exc).__name__}: {str(exc).splitlines()[0][:80]}")
    try:
        import onnxruntime as ort

        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "m.onnx"
            torch.onnx.export(module, (example,), str(path), input_names=["x"], output_names=["y"],
                              dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}}, dynamo=False)
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = 1
            opts.inter_op_num_threads = 1
            sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
            feed = {"x": example.numpy()}
            same = np.allclose(sess.run(None, feed)[0], ref, atol=1e-4, rtol=1e-3)
            out["onnxruntime"] = (median_ms(lambda: sess.run(None, feed), repeats), "" if same else "outputs differ")
    except Exception as exc:  # noqa: BLE001
        out["onnxruntime"] = (None, f"{type(exc).__name__}: {str(exc).splitlines()[0][:80]}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", action="append", required=True)
    ap.add_argument("--batches", default="1,8,32")
    ap.add_argument("--repeats", type=int, default=30)
    args = ap.parse_args()

    import torch

    from bench.serve.engine import ModelSlot

    torch.set_num_threads(1)
    rows = []
    for ref in args.model:
        slot = ModelSlot(ref, backend="torch")  # eager torch networks: the baseline every backend is compared with
        net = slot.scorer.modules[0] if hasattr(slot.scorer, "modules") else None
        if net is None:
            rows.append([ref, "-", "-", "-", "-", "-", "not a torch model"])
            continue
        n = slot.spec.samples or 16000
        parts = [("whole model (raw mode)", net, lambda b, n=n: torch.randn(b, n) * 0.1)]
        if slot.split:
            shape = slot.scorer.feature_shape(slot.seeds[0])
            parts.append(("server half (privacy mode)", net.server_half,
                          lambda b, shape=shape: torch.randn(b, *shape)))
        for what, module, make in parts:
            module.eval()
            for b in (int(x) for x in args.batches.split(",")):
                res = backends(module, make(b), args.repeats)
                eager = res["eager"][0]
                cells = []
                for name in ("eager", "torchscript", "onnxruntime"):
                    ms, note = res[name]
                    cells.append("failed: " + note if ms is None else f"{ms:.2f}" + (f" ({eager / ms:.2f}x)" if
                                 name != "eager" else "") + (f" {note}" if note else ""))
                rows.append([ref, what, str(b), *cells, f"{eager / b:.2f}"])
    models = " ".join("--model " + m for m in args.model)
    print("\n".join([header("Inference backends for bench serve (one thread)"),
                     f"- command: `python benchmarks/inference_backends.py {models}`",
                     "- ms per batch, median of repeats; (Nx) = speed-up over eager torch", "",
                     table(["model", "part", "batch", "eager torch ms", "TorchScript ms", "ONNX Runtime ms",
                            "eager ms per chunk"], rows)]))


if __name__ == "__main__":
    main()
