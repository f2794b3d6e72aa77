"""RawNet2: the ASVspoof 2021 LA end-to-end baseline, re-implemented in plain PyTorch.

Reference (read, not copied)
----------------------------
github.com/asvspoof-challenge/2021 @ 9b33f5e, folder ``LA/Baseline-RawNet2`` (Hemlata Tak, EURECOM):

* ``model.py``                 -- ``SincConv``, ``Residual_block``, ``RawNet``
* ``model_config_RawNet.yaml`` -- hyper-parameters (lines 7-16)
* ``main.py``                  -- loss, optimiser, scoring
* ``data_utils.py``            -- labels and the 64,600-sample crop / repeat-pad

Tak et al., "End-to-end anti-spoofing with RawNet2", ICASSP 2021.  The baseline repo states no
parameter count; the official code + yaml instantiate 17,621,410 trainable parameters (checked in
verify_vs_official.py), which is what this module has.  (A figure of 25.43 M appears in later
literature for "RawNet2"; its source/configuration could not be verified here and the official
code does not reproduce it.)

Architecture (yaml: first_conv 1024, filts [20, [20, 20], [20, 128], [128, 128]], gru_node 1024,
nb_gru_layer 3, nb_fc_node 1024, nb_classes 2)
----------------------------------------------------------------------------------------------
fixed mel-spaced sinc band-pass filters (20 x 1025 taps, no padding)
-> |.| -> max-pool 3 -> BN -> SELU
-> 2 residual blocks with 20 channels, then 4 with 128 channels; each block ends in max-pool 3 and
   is followed by filter-wise feature-map scaling (FMS): ``s = sigmoid(W avgpool_t(x) + b)``,
   ``x <- x * s + s``
-> BN -> SELU -> 3-layer GRU (1024), last time step -> Linear(1024, 1024) -> Linear(1024, 2)
-> log-softmax.

Output and class convention
---------------------------
``forward`` returns two-class LOG-PROBABILITIES ``(batch, 2)`` exactly like the official model
(they are valid logits for ``cross_entropy``).  Index 0 = spoof, index 1 = bona fide
(data_utils.py line 25: ``1 if label == 'bonafide' else 0``); the official evaluation score is
``output[:, 1]`` (main.py lines 46-47), HIGHER = MORE LIKELY BONA FIDE.
``score(x) = output[:, 0] - output[:, 1]`` = log-odds of spoof, HIGHER = MORE LIKELY FAKE.  Since
``-official = softplus(score)`` is strictly increasing in ``score``, rankings/EER are unchanged.

Input length
------------
The official recipe crops every utterance to its first 64,600 samples (~4.04 s) or, if shorter,
repeats it until 64,600 samples (data_utils.py lines 42-49, 67, 90), for training AND evaluation.
``forward`` itself runs on any length >= 3,211 samples (the sinc conv removes 1,024 samples and
seven /3 max-pools follow); other lengths simply change the number of GRU steps.  Use
``pad_or_crop`` to reproduce the official input handling.

Deliberate differences from the official code
---------------------------------------------
* Sinc filters are computed once at construction (float64, then float32) and stored as a
  non-persistent buffer; the reference recomputes them with numpy on every forward call and keeps
  them as a plain attribute.  Values agree to float32 rounding; neither version trains them.
* Residual blocks 1-5 own a ``bn1`` layer that the reference computes and then discards (its
  ``forward`` applies ``conv1`` to the block input ``x``, not to ``lrelu(bn1(x))``, model.py line
  131).  We keep ``bn1`` (so parameter count and checkpoints match) and reproduce the effective
  computation, skipping the dead branch.  ``fix_preactivation=True`` switches to the evidently
  intended pre-activation block (not the official behaviour; off by default).
* ``torch.nn.SELU(inplace=True)`` replaced by the out-of-place version (same values).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["SincFilterBank", "ResidualBlock1d", "RawNet2", "pad_or_crop", "OFFICIAL"]

SAMPLE_RATE = 16000

# --- model_config_RawNet.yaml lines 8-16.
NB_SAMP = 64600
FIRST_CONV = 1024            # made odd (1025) inside SincConv, model.py lines 39-41
FILTS = [20, [20, 20], [20, 128], [128, 128]]
GRU_NODE = 1024
NB_GRU_LAYER = 3
NB_FC_NODE = 1024
NB_CLASSES = 2
# --- model.py: sinc init uses a 512-point FFT grid for the mel range (lines 55-61);
#     LeakyReLU slope 0.3 (line 96); max-pool 3 everywhere (lines 121, 209).
SINC_NFFT = 512
LRELU_SLOPE = 0.3
POOL = 3
N_BLOCKS = 6

OFFICIAL = {
    "loss": "cross-entropy on log-softmax output, class weights [0.1 spoof, 0.9 bona fide] "
            "(main.py lines 66-67)",
    "optimizer": "Adam, lr 1e-4, weight_decay 1e-4 (main.py lines 114-117, 187)",
    "batch_size": 32,
    "input_samples": NB_SAMP,
    "code_params": 17_621_410,    # official model.py + yaml, instantiated
}


def pad_or_crop(wav: torch.Tensor, length: int = NB_SAMP) -> torch.Tensor:
    """Official input handling (data_utils.py ``pad``): keep the first ``length`` samples, or
    tile a shorter 1-D waveform until it is ``length`` long.  Accepts ``(samples,)``."""
    n = wav.shape[-1]
    if n >= length:
        return wav[..., :length]
    reps = length // n + 1
    return wav.repeat(reps)[:length] if wav.dim() == 1 else wav.repeat(1, reps)[..., :length]


def _mel_band_edges(n_filters: int, sample_rate: int, nfft: int = SINC_NFFT) -> np.ndarray:
    """Band edges (Hz) equally spaced on the HTK mel scale between the min and max of the
    ``nfft``-point frequency grid (model.py lines 55-61)."""
    to_mel = lambda hz: 2595.0 * np.log10(1.0 + hz / 700.0)     # noqa: E731
    to_hz = lambda mel: 700.0 * (10.0 ** (mel / 2595.0) - 1.0)  # noqa: E731
    grid = int(sample_rate / 2) * np.linspace(0.0, 1.0, nfft // 2 + 1)
    mel = to_mel(grid)
    return to_hz(np.linspace(mel.min(), mel.max(), n_filters + 1))


class SincFilterBank(nn.Module):
    """Fixed (non-trainable) sinc band-pass front end of the RawNet2 baseline.

    Filter ``i`` is the difference of two ideal low-pass sinc kernels with cut-offs
    ``f_{i+1}`` and ``f_i`` (consecutive mel-spaced edges), times a symmetric Hamming window,
    on ``kernel_size`` taps centred at 0 (model.py lines 68-84).  Applied as a stride-1 conv1d
    without padding, so ``out_len = samples - kernel_size + 1``.
    """

    def __init__(self, out_channels: int = FILTS[0], kernel_size: int = FIRST_CONV,
                 sample_rate: int = SAMPLE_RATE) -> None:
        super().__init__()
        if kernel_size % 2 == 0:
            kernel_size += 1                                # symmetric filters (lines 39-41)
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        edges = _mel_band_edges(out_channels, sample_rate)
        half = (kernel_size - 1) / 2
        n = np.arange(-half, half + 1)                     # tap positions
        window = np.hamming(kernel_size)
        taps = []
        for lo, hi in zip(edges[:-1], edges[1:], strict=True):
            ideal = (2 * hi / sample_rate) * np.sinc(2 * hi * n / sample_rate) \
                - (2 * lo / sample_rate) * np.sinc(2 * lo * n / sample_rate)
            taps.append(window * ideal)
        filt = torch.from_numpy(np.stack(taps)).float().unsqueeze(1)    # (C, 1, K)
        self.register_buffer("filters", filt, persistent=False)
        self.register_buffer("band_edges_hz", torch.from_numpy(edges), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:        # x: (B, 1, L)
        return F.conv1d(x, self.filters)

    def mac_count(self, inputs, output) -> int:
        """Direct convolution: every output sample costs ``kernel_size`` MACs per channel."""
        return output.numel() * self.kernel_size


class ResidualBlock1d(nn.Module):
    """RawNet2 residual block (model.py ``Residual_block``, lines 88-141).

    Effective official computation: ``conv2(lrelu(bn2(conv1(x)))) + shortcut(x)`` then
    max-pool 3, with 3-tap convolutions (padding 1) and a 1x1 conv shortcut when the channel
    count changes.  Non-first blocks also own ``bn1`` (see module docstring).
    """

    def __init__(self, in_ch: int, out_ch: int, first: bool = False,
                 fix_preactivation: bool = False) -> None:
        super().__init__()
        self.first = first
        self.fix_preactivation = fix_preactivation
        if not first:
            self.bn1 = nn.BatchNorm1d(in_ch)
        self.lrelu = nn.LeakyReLU(LRELU_SLOPE)
        self.conv1 = nn.Conv1d(in_ch, out_ch, 3, padding=1)
        self.bn2 = nn.BatchNorm1d(out_ch)
        self.conv2 = nn.Conv1d(out_ch, out_ch, 3, padding=1)
        self.conv_downsample = nn.Conv1d(in_ch, out_ch, 1) if in_ch != out_ch else None
        self.mp = nn.MaxPool1d(POOL)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.fix_preactivation and not self.first:
            out = self.conv1(self.lrelu(self.bn1(x)))
        else:
            out = self.conv1(x)                               # official behaviour
        out = self.conv2(self.lrelu(self.bn2(out)))
        identity = x if self.conv_downsample is None else self.conv_downsample(x)
        return self.mp(out + identity)


class RawNet2(nn.Module):
    """ASVspoof 2021 RawNet2 baseline.

    ``forward(wav)``: ``wav`` ``(batch, samples)`` float at 16 kHz (official: 64,600 samples,
    see ``pad_or_crop``); returns ``(batch, 2)`` log-probabilities, index 0 = spoof,
    1 = bona fide.
    ``score(wav)``: log-odds of spoof, HIGHER = MORE LIKELY FAKE.
    ``official_loss(logp, spoof_labels)``: weighted CE as in main.py, labels in the bench
    convention (1 = spoof/fake), converted to official class indices internally.

    The model has no dropout; ``eval()`` only switches batch norms to running statistics.
    """

    sample_rate = SAMPLE_RATE
    official_input_samples = NB_SAMP

    def __init__(self, fix_preactivation: bool = False) -> None:
        super().__init__()
        c0, (a_in, a_out), (b_in, b_out) = FILTS[0], FILTS[1], FILTS[2]
        self.sinc = SincFilterBank(c0, FIRST_CONV)
        self.first_bn = nn.BatchNorm1d(c0)
        # model.py lines 162-168: block0 (first) and block1 use filts[1]; block2 uses filts[2];
        # the yaml list is then mutated so blocks 3-5 are 128 -> 128.
        chans = [(a_in, a_out), (a_out, a_out), (b_in, b_out), (b_out, b_out), (b_out, b_out),
                 (b_out, b_out)]
        self.blocks = nn.ModuleList([
            ResidualBlock1d(i, o, first=(k == 0), fix_preactivation=fix_preactivation)
            for k, (i, o) in enumerate(chans)])
        # FMS: one Linear(C, C) per block (model.py lines 171-182, 264-273).
        self.fms = nn.ModuleList([nn.Linear(o, o) for _, o in chans])
        self.bn_before_gru = nn.BatchNorm1d(b_out)
        self.gru = nn.GRU(b_out, GRU_NODE, num_layers=NB_GRU_LAYER, batch_first=True)
        self.fc1_gru = nn.Linear(GRU_NODE, NB_FC_NODE)
        self.fc2_gru = nn.Linear(NB_FC_NODE, NB_CLASSES)
        self.min_samples = self._min_samples()

    def _min_samples(self) -> int:
        n = 1
        for _ in range(1 + N_BLOCKS):          # first max-pool + one per residual block
            n *= POOL
        return n + self.sinc.kernel_size - 1   # 3**7 + 1024 = 3211

    def embed(self, wav: torch.Tensor) -> torch.Tensor:
        """GRU output at the last time step, ``(batch, 1024)``."""
        if wav.dim() != 2:
            raise ValueError(f"expected (batch, samples), got shape {tuple(wav.shape)}")
        if wav.shape[1] < self.min_samples:
            raise ValueError(f"RawNet2 needs >= {self.min_samples} samples, got {wav.shape[1]}")
        x = self.sinc(wav.unsqueeze(1))
        x = F.selu(self.first_bn(F.max_pool1d(x.abs(), POOL)))
        for block, fc in zip(self.blocks, self.fms, strict=True):
            x = block(x)
            s = torch.sigmoid(fc(x.mean(dim=2))).unsqueeze(2)     # filter-wise scale
            x = x * s + s                                          # model.py line 217 etc.
        x = F.selu(self.bn_before_gru(x)).transpose(1, 2)          # (B, T, 128)
        self.gru.flatten_parameters()
        return self.gru(x)[0][:, -1, :]

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        logits = self.fc2_gru(self.fc1_gru(self.embed(wav)))      # no activation in between
        return F.log_softmax(logits, dim=1)

    @torch.no_grad()
    def score(self, wav: torch.Tensor) -> torch.Tensor:
        """Log-odds of spoof, HIGHER = MORE LIKELY FAKE."""
        logp = self.forward(wav)
        return logp[:, 0] - logp[:, 1]

    @staticmethod
    def official_loss(logp: torch.Tensor, spoof_labels: torch.Tensor) -> torch.Tensor:
        """Weighted CE of main.py (weights 0.1 for spoof, 0.9 for bona fide)."""
        target = (1 - spoof_labels.long())                         # official: 1 = bona fide
        weight = torch.tensor([0.1, 0.9], device=logp.device, dtype=logp.dtype)
        return F.cross_entropy(logp, target, weight=weight)


def convert_official_state_dict(state: dict) -> dict:
    """Map an official ``RawNet`` state dict (``model.py``) onto ``RawNet2``."""
    out = {}
    for key, value in state.items():
        head, _, rest = key.partition(".")
        if head.startswith("block") and head[5:].isdigit():
            # "block3.0.conv1.weight" -> "blocks.3.conv1.weight"
            out[f"blocks.{head[5:]}.{rest.split('.', 1)[1]}"] = value
        elif head.startswith("fc_attention"):
            # "fc_attention3.0.weight" -> "fms.3.weight"
            out[f"fms.{head[len('fc_attention'):]}.{rest.split('.', 1)[1]}"] = value
        elif head == "Sinc_conv":
            continue
        else:
            out[key] = value
    return out
