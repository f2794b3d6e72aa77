"""A model's compute floor: the multiply-accumulates (MACs) it needs for an input, divided by the measured
peak MAC rate of the processor it runs on. No implementation can score that input faster on that processor,
so a measured time is read against it (``bench latency``, ``benchmarks/detector_zoo.py``).

MACs are counted with forward hooks, over whatever forward passes run (:func:`macs_during`) or for one
``(1, n_samples)`` waveform (:func:`count_macs`):

* ``nn.Conv1d`` / ``nn.Conv2d``: ``output elements x in_channels / groups x prod(kernel)``;
* ``nn.Linear``: ``output elements x in_features``;
* ``nn.LSTM`` / ``nn.GRU``: for every layer, direction and time step the gate matrices,
  ``gates x hidden x (layer_input + hidden)`` with 4 gates for LSTM and 3 for GRU
  (``layer_input`` = input size for layer 0, ``hidden x directions`` above);
  projections, element-wise gate products and non-linearities are not counted;
* any other module that defines ``mac_count(inputs, output) -> int``: that number, and none of its
  sub-modules are hooked separately. The countermeasures use this for their fixed front ends: the
  RawNet2 / AASIST sinc convolution (direct convolution) and the LFCC front ends (window, FFT estimated
  as ``n_fft log2 n_fft`` real MACs per frame, power, dense filter-bank matmul, DCT matmul).

Not counted anywhere: batch norm, activations, pooling, Max-Feature-Map, FMS scaling (``x*s + s``),
residual additions, averaging, log/softmax, and work outside torch modules. The floor is therefore a
lower bound.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable, Iterator
from typing import Any

import torch
import torch.nn as nn

__all__ = ["count_macs", "mac_breakdown", "macs_during", "peak_mac_rate", "floor_ms"]

_LAYERS = (nn.Conv1d, nn.Conv2d, nn.Linear, nn.LSTM, nn.GRU)


def _conv_macs(module: nn.modules.conv._ConvNd, output: torch.Tensor) -> int:
    per_output = module.in_channels // module.groups
    for k in module.kernel_size:
        per_output *= k
    return output.numel() * per_output


def _rnn_macs(module: nn.RNNBase, inputs: tuple[Any, ...]) -> int:
    x = inputs[0]
    if isinstance(x, nn.utils.rnn.PackedSequence):
        steps_total = int(x.batch_sizes.sum())  # sum over time of active sequences
    else:
        batch, steps = (x.shape[0], x.shape[1]) if module.batch_first else (x.shape[1], x.shape[0])
        if x.dim() == 2:  # unbatched input (T, F)
            batch, steps = 1, x.shape[0]
        steps_total = batch * steps
    gates = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}[module.mode]
    dirs = 2 if module.bidirectional else 1
    hidden = module.hidden_size
    total = 0
    for layer in range(module.num_layers):
        layer_in = module.input_size if layer == 0 else hidden * dirs
        total += dirs * gates * hidden * (layer_in + hidden)
    return total * steps_total


def _module_macs(mod: nn.Module, inputs: tuple[Any, ...], output: Any) -> int:
    if callable(getattr(mod, "mac_count", None)):
        return int(mod.mac_count(inputs, output))
    if isinstance(mod, (nn.Conv1d, nn.Conv2d)):
        return _conv_macs(mod, output)
    if isinstance(mod, nn.Linear):
        return output.numel() // mod.out_features * mod.in_features * mod.out_features
    return _rnn_macs(mod, inputs)  # LSTM / GRU


@contextlib.contextmanager
def _hooked(models: list[nn.Module], counts: dict[str, int]) -> Iterator[None]:
    """Forward hooks on every countable module of ``models`` that add its MACs to ``counts[name]``."""
    handles = []
    for i, model in enumerate(models):
        owned: set[int] = set()
        for _, m in model.named_modules():
            if callable(getattr(m, "mac_count", None)):
                owned.update(id(sub) for sub in m.modules() if sub is not m)
        for name, module in model.named_modules():
            if id(module) in owned or not (callable(getattr(module, "mac_count", None)) or isinstance(module, _LAYERS)):
                continue
            key = f"{i}:{name or '<root>'}" if len(models) > 1 else name or "<root>"

            def hook(mod: nn.Module, inputs: tuple[Any, ...], output: Any, key: str = key) -> None:
                counts[key] = counts.get(key, 0) + _module_macs(mod, inputs, output)

            handles.append(module.register_forward_hook(hook))
    try:
        yield
    finally:
        for h in handles:
            h.remove()


class MacCount:
    """MACs counted by :func:`macs_during`: ``total`` and ``by_module``."""

    def __init__(self) -> None:
        self.by_module: dict[str, int] = {}

    @property
    def total(self) -> int:
        return sum(self.by_module.values())


@contextlib.contextmanager
def macs_during(models: list[nn.Module]) -> Iterator[MacCount]:
    """Count the MACs of every forward pass of ``models`` (or their sub-modules) run inside the block, e.g.
    a scorer scoring one chunk exactly as it does in service (its windows, its seeds)."""
    count = MacCount()
    with _hooked(models, count.by_module):
        yield count


def mac_breakdown(model: nn.Module, n_samples: int, batch: int = 1) -> dict[str, int]:
    """MACs per hooked module (qualified name -> MACs) for one forward on random input."""
    counts: dict[str, int] = {}
    was_training = model.training
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    gen = torch.Generator().manual_seed(0)
    wav = (0.1 * torch.randn(batch, n_samples, generator=gen)).to(device)
    try:
        model.eval()
        with _hooked([model], counts), torch.no_grad():
            model(wav)
    finally:
        model.train(was_training)
    return counts


def count_macs(model: nn.Module, n_samples: int) -> int:
    """Total MACs of one forward pass at batch 1 on ``n_samples`` samples (see the module doc)."""
    return sum(mac_breakdown(model, n_samples).values())


@functools.cache
def peak_mac_rate(device: str = "cpu", repeats: int = 5) -> float:
    """Multiply-accumulates per second of a float32 square matmul (best of ``repeats``), measured once per
    process and device: on the CPU on one thread (1024 x 1024, about 25 ms a product on a current core), on a
    CUDA GPU 4096 x 4096 (TF32 as torch is set). Takes well under a second."""
    on_gpu = str(device).startswith("cuda")
    n = 4096 if on_gpu else 1024
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(n, n, generator=gen).to(device), torch.randn(n, n, generator=gen).to(device)
    sync: Callable[[], None] = torch.cuda.synchronize if on_gpu else (lambda: None)
    threads = torch.get_num_threads()
    try:
        if not on_gpu:
            torch.set_num_threads(1)
        a @ b  # warm-up
        sync()
        best = float("inf")
        for _ in range(repeats):
            t = time.perf_counter()
            a @ b
            sync()
            best = min(best, time.perf_counter() - t)
    finally:
        if not on_gpu:
            torch.set_num_threads(threads)
    return n**3 / best


def floor_ms(macs: int | None, peak: float | None) -> float | None:
    """The compute floor in milliseconds: ``macs`` at ``peak`` MACs per second (None when either is unknown)."""
    return 1000.0 * macs / peak if macs and peak else None
