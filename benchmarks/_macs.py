"""Multiply-accumulate (MAC) counter based on forward hooks.

``count_macs(model, n_samples)`` runs one forward pass on a ``(1, n_samples)`` waveform and adds up

* ``nn.Conv1d`` / ``nn.Conv2d``: ``output elements x in_channels / groups x prod(kernel)``;
* ``nn.Linear``: ``output elements x in_features``;
* ``nn.LSTM`` / ``nn.GRU``: for every layer, direction and time step the gate matrices,
  ``gates x hidden x (layer_input + hidden)`` with 4 gates for LSTM and 3 for GRU
  (``layer_input`` = input size for layer 0, ``hidden x directions`` above);
  projections, element-wise gate products and non-linearities are not counted;
* any other module that defines ``mac_count(inputs, output) -> int``: that number, and none of its
  sub-modules are hooked separately.  The three countermeasures use this for their fixed front
  ends: the RawNet2 sinc convolution (direct convolution, 1025 MACs per output sample and
  channel) and the LFCC front ends (window, FFT estimated as ``n_fft log2 n_fft`` real MACs per
  frame, power, dense filter-bank matmul, DCT matmul; see their docstrings).

Not counted anywhere: batch norm, activations, pooling, Max-Feature-Map, FMS scaling
(``x*s + s``), residual additions, averaging, log/softmax.
"""

from __future__ import annotations

import torch
import torch.nn as nn

__all__ = ["count_macs", "mac_breakdown"]


def _conv_macs(module: nn.modules.conv._ConvNd, output: torch.Tensor) -> int:
    per_output = (module.in_channels // module.groups)
    for k in module.kernel_size:
        per_output *= k
    return output.numel() * per_output


def _rnn_macs(module: nn.RNNBase, inputs) -> int:
    x = inputs[0]
    if isinstance(x, nn.utils.rnn.PackedSequence):
        steps_total = int(x.batch_sizes.sum())         # sum over time of active sequences
    else:
        batch, steps = (x.shape[0], x.shape[1]) if module.batch_first else (x.shape[1], x.shape[0])
        if x.dim() == 2:                               # unbatched input (T, F)
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


def mac_breakdown(model: nn.Module, n_samples: int, batch: int = 1) -> dict[str, int]:
    """MACs per hooked module (qualified name -> MACs) for one forward on random input."""
    counts: dict[str, int] = {}
    handles = []
    owned: set[int] = set()
    custom = [(n, m) for n, m in model.named_modules() if callable(getattr(m, "mac_count", None))]
    for _, m in custom:
        for sub in m.modules():
            if sub is not m:
                owned.add(id(sub))

    def make_hook(name, module):
        def hook(mod, inputs, output):
            if callable(getattr(mod, "mac_count", None)):
                macs = int(mod.mac_count(inputs, output))
            elif isinstance(mod, (nn.Conv1d, nn.Conv2d)):
                macs = _conv_macs(mod, output)
            elif isinstance(mod, nn.Linear):
                macs = output.numel() // mod.out_features * mod.in_features * mod.out_features
            elif isinstance(mod, (nn.LSTM, nn.GRU)):
                macs = _rnn_macs(mod, inputs)
            else:
                return
            counts[name] = counts.get(name, 0) + macs
        return hook

    for name, module in model.named_modules():
        if id(module) in owned:
            continue
        if callable(getattr(module, "mac_count", None)) or isinstance(
                module, (nn.Conv1d, nn.Conv2d, nn.Linear, nn.LSTM, nn.GRU)):
            handles.append(module.register_forward_hook(make_hook(name or "<root>", module)))

    was_training = model.training
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    gen = torch.Generator().manual_seed(0)
    wav = (0.1 * torch.randn(batch, n_samples, generator=gen)).to(device)
    try:
        model.eval()
        with torch.no_grad():
            model(wav)
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    return counts


def count_macs(model: nn.Module, n_samples: int) -> int:
    """Total MACs of one forward pass at batch 1 on ``n_samples`` samples (see module doc)."""
    return sum(mac_breakdown(model, n_samples).values())
