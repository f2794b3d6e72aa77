"""ONNX Runtime in place of eager torch for the networks ``bench serve`` runs (measured faster on one CPU
thread: benchmarks/inference_backends.py, BENCHMARKS.md "Inference backends").

:class:`OnnxModule` is an ``nn.Module`` that holds an exported copy of a network and runs it with
onnxruntime's CPU provider (one intra-op thread: the server runs one inference thread per core). It
replaces the network inside a loaded scorer, so every scoring path (raw chunks, the split model's halves)
uses it unchanged. A network that does not export, or whose exported outputs differ from eager torch's,
stays on torch.
"""

from __future__ import annotations

import io
import warnings
from typing import Any

import numpy as np
import torch

from bench.errors import BenchError


class OnnxModule(torch.nn.Module):
    """``module`` exported to ONNX (dynamic batch) and run by onnxruntime; called like the module."""

    def __init__(self, module: Any, example: Any, threads: int = 1) -> None:
        super().__init__()
        self.session = session(onnx_bytes(for_onnx_runtime(module), example), threads)

    def forward(self, x: Any) -> Any:
        y = self.session.run(None, {"x": np.ascontiguousarray(x.detach().cpu().numpy(), dtype=np.float32)})[0]
        return torch.from_numpy(y)


class Conv1dAs2d(torch.nn.Module):
    """A ``Conv1d``'s arithmetic as a ``Conv2d`` of height 1: ONNX Runtime's CPU provider has blocked-layout
    (NCHWc) kernels for 2-D convolutions only, which run devox's feature encoder about 5-10% faster
    (BENCHMARKS.md, "Capacity"). Same weights (a parametrised weight, e.g. weight norm, is read at each call)."""

    def __init__(self, conv: torch.nn.Conv1d) -> None:
        super().__init__()
        self.conv = conv

    def forward(self, x: Any) -> Any:
        c = self.conv
        if c.padding_mode != "zeros" or isinstance(c.padding, str):
            return c(x)
        y = torch.nn.functional.conv2d(x.unsqueeze(2), c.weight.unsqueeze(2), c.bias, stride=(1, c.stride[0]),
                                       padding=(0, c.padding[0]), dilation=(1, c.dilation[0]), groups=c.groups)
        return y.squeeze(2)


class GroupNormAsInstanceNorm(torch.nn.Module):
    """A ``GroupNorm`` with one group per channel is an instance norm with its affine: exported as one ONNX
    ``InstanceNormalization`` carrying the scale and bias, where torch's export of ``GroupNorm`` adds a ``Mul`` and
    an ``Add`` over the whole activation (about 5% of devox's time in ONNX Runtime; BENCHMARKS.md, "Capacity")."""

    def __init__(self, norm: torch.nn.GroupNorm) -> None:
        super().__init__()
        self.norm = norm

    def forward(self, x: Any) -> Any:
        n = self.norm
        return torch.nn.functional.instance_norm(x, weight=n.weight, bias=n.bias, eps=n.eps)


def for_onnx_runtime(module: Any) -> Any:
    """A copy of ``module`` (unchanged itself) with its layers written the way ONNX Runtime's CPU provider runs
    fastest, the same arithmetic: ``Conv1d`` as :class:`Conv1dAs2d`, a per-channel ``GroupNorm`` with an affine as
    :class:`GroupNormAsInstanceNorm`. Callers check the exported outputs against eager torch."""

    def swap(layer: Any) -> Any:
        if isinstance(layer, torch.nn.Conv1d):
            return Conv1dAs2d(layer)
        if isinstance(layer, torch.nn.GroupNorm) and layer.affine and layer.num_groups == layer.num_channels:
            return GroupNormAsInstanceNorm(layer)
        return None

    return swap_layers(module, swap)


def swap_layers(module: Any, swap: Any) -> Any:
    """A deep copy of ``module`` in which every layer that ``swap(layer)`` answers with a module (not None) is
    replaced by it; the layers inside a replaced one are left as they are."""
    import copy

    out = copy.deepcopy(module)
    todo = [out]
    while todo:
        m = todo.pop()
        for name, child in m.named_children():
            new = swap(child)
            if new is None:
                todo.append(child)
            else:
                setattr(m, name, new)
    return out


def onnx_bytes(module: Any, example: Any, batch_axis: str = "batch") -> bytes:
    """``module`` (eval mode) exported to an ONNX model: input ``x``, output ``y``, axis 0 of both dynamic."""
    buf = io.BytesIO()
    module.eval()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on Python control flow (callers check the outputs)
        torch.onnx.export(module, (example,), buf, input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: batch_axis}, "y": {0: batch_axis}}, dynamo=False)
    return buf.getvalue()


def session(model: bytes, threads: int = 1) -> Any:
    """An onnxruntime CPU session of ``model`` with ``threads`` intra-op threads."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    return ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])


def _checked(module: Any, example: Any) -> OnnxModule:
    """The ONNX copy of ``module``, if its outputs match eager torch's on ``example`` and a batch of another size."""
    onnx = OnnxModule(module, example)
    with torch.no_grad():
        for x in (example, torch.cat([example, example * 0.5, example * 0.25])):
            want, got = module(x).float().numpy(), onnx(x).numpy()
            if want.shape != got.shape or not np.allclose(got, want, rtol=1e-3, atol=1e-4):
                raise BenchError("the exported network's outputs differ from eager torch's")
    return onnx


def to_onnx(scorer: Any, window_samples: int | None) -> list[str]:
    """Swap the torch networks inside ``scorer`` (a TorchScorer's modules, or a SplitScorer's device and server
    halves) for checked :class:`OnnxModule` copies; returns what was converted. Raises :class:`BenchError`
    (the scorer unchanged) when a network cannot be."""
    from bench.countermeasures.split_model import SplitScorer

    if not window_samples:
        raise BenchError("the model takes any-length input; the ONNX backend needs a fixed window")
    x = torch.randn(2, window_samples) * 0.1
    try:
        if isinstance(scorer, SplitScorer):
            pairs = []
            for net in scorer.modules:
                feats = net.device_half(x).float()
                pairs.append((_checked(net.device_half, x), _checked(net.server_half, feats)))
            for net, (dev, srv) in zip(scorer.modules, pairs, strict=True):
                net.device_half, net.server_half = dev, srv
            return ["device half", "server half"]
        mods = getattr(scorer, "modules", None)
        if not mods or not all(isinstance(m, torch.nn.Module) for m in mods):
            raise BenchError("not a torch model")
        scorer.modules = [_checked(m, x) for m in mods]
        return ["whole network"]
    except BenchError:
        raise
    except Exception as exc:  # noqa: BLE001 - the exporter's many failure types: one line, stay on torch
        raise BenchError(f"ONNX export failed ({type(exc).__name__}: {str(exc).splitlines()[0][:100]})") from None
