"""LFCC-LCNN: the ASVspoof 2021 LA baseline countermeasure, re-implemented in plain PyTorch.

Reference (read, not copied)
----------------------------
github.com/asvspoof-challenge/2021 @ 9b33f5e, folder ``LA/Baseline-LFCC-LCNN`` (Xin Wang, NII):

* ``project/baseline_LA/model.py``  -- network definition, scoring and loss
* ``sandbox/util_frontend.py``      -- LFCC front end (class ``LFCC``, ``trimf``, ``delta``)
* ``sandbox/util_dsp.py``           -- ``LinearDCT`` (orthonormal DCT-II as a fixed matrix)
* ``sandbox/block_nn.py``           -- ``MaxFeatureMap2D``, ``BLSTMLayer``
* ``project/baseline_LA/00_train.sh`` and ``config.py`` -- training recipe

Variant implemented (verified against the source, model.py lines 157-229 and 305-352)
----------------------------------------------------------------------------------
LFCC (20 static incl. log-energy + delta + delta-delta = 60 dims, 0-4 kHz)
-> LCNN (9 convolutions with Max-Feature-Map, 4 max-pools, affine-free batch norms, dropout 0.7)
-> flatten (channels x remaining frequency bins = 32 x 3 = 96) per frame
-> 2 stacked BLSTM layers (96 -> 2 x 48), added back to their input (skip connection)
-> average over all frames -> Linear(96, 1).

Output and class convention
---------------------------
``forward`` returns ONE logit per utterance, shape ``(batch,)``.  In the official code the target is
1 = bona fide, 0 = spoof (model.py ``protocol_parse``, lines 46-53), training applies
``sigmoid`` + ``BCELoss`` (lines 361, 419), and the evaluation score is the raw logit
(line 359), so in the official convention HIGHER = MORE LIKELY BONA FIDE.
``score(x)`` returns ``-logit``: HIGHER = MORE LIKELY FAKE (spoof).  It is a strictly monotone
transform of the official score, so EER and other ranking metrics are unchanged.

Input length
------------
The official recipe feeds whole utterances at their natural length (``truncate_seq = None``,
``config.py`` line 86; no ``v_truncate_lens``, model.py line 133), evaluates one trial at a time
and trains with length-sorted batches of 64 that the collate function zero-pads to the longest
item (``core_scripts/data_io/customize_collate_fn.py``); padded frames are NOT masked out of the
average pooling.  This module accepts any ``(batch, samples)`` tensor with ``samples >= 2400``:
the frame count is ``1 + samples // 160`` and the four 2x2 max-pools need at least 16 frames.
Scores of one clip therefore do not depend on its batch-mates unless you zero-pad clips to a
common length yourself (as the official trainer does).

Deliberate differences from the official code
---------------------------------------------
* Front end is not wrapped in ``torch.no_grad()`` (official model.py line 299): nothing in it is
  trainable, so outputs and parameter gradients are identical, but input gradients (e.g. for
  adversarial evaluation) now flow through the LFCC.
* Power spectrum is ``re^2 + im^2`` of a complex STFT instead of ``norm(view_as_real)^2`` (same
  value up to float rounding; the old real-valued ``torch.stft`` API no longer exists).
* Filter bank and DCT are non-persistent buffers instead of frozen ``nn.Parameter``s, and the unused
  ``input_mean/std``, ``output_mean/std`` buffers (identity normalisation in the official code: 0 and 1)
  are not kept; neither was trainable, so the
  trainable-parameter count is unchanged.  ``convert_official_state_dict`` maps an official
  checkpoint onto this module.
* Energy replaces c0 with a ``torch.cat`` instead of an in-place write (autograd-safe, same values).
* No protocol/file-name handling: labels are passed explicitly to ``official_loss``.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.fft
import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["LFCCFrontEnd", "LFCCLCNN", "convert_official_state_dict", "OFFICIAL"]

SAMPLE_RATE = 16000

# --- front-end constants: project/baseline_LA/model.py lines 112-123 (frame shift/length, FFT,
#     20 LFCC, deltas on, 0..0.5*Nyquist), lines 217-223 (with_energy=True); util_frontend.py
#     lines 125-128 (with_emphasis=True, with_delta=True defaults), line 210 (0.97 pre-emphasis),
#     line 216 (Hamming window), line 217 (zero "constant" padding), line 226 (float32 eps).
FRAME_SHIFT = 160          # 10 ms
FRAME_LENGTH = 320         # 20 ms
N_FFT = 1024
N_LFCC = 20                # triangular filters == cepstral coefficients (num_coef=None)
MAX_FREQ_FRACTION = 0.5    # only bins [0, int(0.5 * 513)) = 256 bins, i.e. 0..~4 kHz
PRE_EMPHASIS = 0.97
LOG_EPS = float(torch.finfo(torch.float32).eps)

# --- network constants: model.py lines 164-214 (LCNN, BLSTM, output layer).
DROPOUT = 0.7
POOL_FACTOR = 16           # four 2x2 max-pools
MIN_FRAMES = POOL_FACTOR   # fewer frames collapse the time axis to zero
MIN_SAMPLES = (MIN_FRAMES - 1) * FRAME_SHIFT  # frames = 1 + samples // 160 (centred STFT)

# Official training recipe (for reference / the training-step check).
OFFICIAL = {
    "loss": "BCE on sigmoid(logit), target 1 = bona fide (model.py lines 361, 396-400, 419)",
    "optimizer": "Adam, lr 3e-4, no weight decay (00_train.sh; op_manager.py lines 50-57)",
    "batch_size": 64,
    "lr_schedule": "decay factor 0.5, scheduler type 1 (00_train.sh)",
    "input_samples": None,  # variable length, whole utterance
    "trainable_params": 269_729,  # official model.py instantiated (verify_vs_official.py)
}


# ----------------------------------------------------------------------------------------------
# Front end
# ----------------------------------------------------------------------------------------------
def _triangle(x: torch.Tensor, left: float, centre: float, right: float) -> torch.Tensor:
    """Matlab-style ``trimf``: rises on (left, centre), falls on (centre, right), 1 at centre.

    Strict inequalities as in util_frontend.py ``trimf`` (lines 41-64): the end points get 0.
    """
    y = torch.zeros_like(x)
    if left < centre:
        up = (x > left) & (x < centre)
        y = torch.where(up, (x - left) / (centre - left), y)
    if centre < right:
        down = (x > centre) & (x < right)
        y = torch.where(down, (right - x) / (right - centre), y)
    return torch.where(x == centre, torch.ones_like(x), y)


def _replicate_delta(feat: torch.Tensor) -> torch.Tensor:
    """First-order difference ``x[t+1] - x[t-1]`` along time (dim 1), edges replicated.

    No normalising denominator, as in util_frontend.py ``delta`` (lines 66-83).
    """
    padded = torch.cat([feat[:, :1], feat, feat[:, -1:]], dim=1)
    return padded[:, 2:] - padded[:, :-2]


class LFCCFrontEnd(nn.Module):
    """Linear-frequency cepstral coefficients exactly as the LFCC-LCNN baseline computes them.

    Pipeline per utterance (input ``(batch, samples)`` at 16 kHz):

    1. pre-emphasis ``y[n] = x[n] - 0.97 x[n-1]`` (first sample kept);
    2. centred STFT, zero ("constant") padding of ``n_fft // 2`` on each side, periodic Hamming
       window of 320 samples zero-padded to the 1024-point FFT, hop 160;
    3. power spectrum, keep the lowest ``int(0.5 * 513) = 256`` bins;
    4. 20 triangular filters with edges equally spaced on the official (slightly stretched)
       frequency axis ``linspace(0, 4000, 256)``; ``log10(. + eps_float32)``;
    5. orthonormal DCT-II (20 -> 20);
    6. coefficient 0 replaced by ``log10(sum(power) / n_fft + eps)`` (frame log-energy);
    7. delta and delta-delta (``x[t+1] - x[t-1]``, edges replicated), concatenated.

    Output: ``(batch, frames, 60)`` with ``frames = 1 + samples // 160``.
    The filter bank, DCT matrix and window are non-persistent buffers built once at construction.
    """

    def __init__(self, frame_length: int = FRAME_LENGTH, frame_shift: int = FRAME_SHIFT,
                 n_fft: int = N_FFT, sample_rate: int = SAMPLE_RATE, n_filters: int = N_LFCC,
                 max_freq: float = MAX_FREQ_FRACTION, with_energy: bool = True,
                 with_emphasis: bool = True, with_delta: bool = True) -> None:
        super().__init__()
        self.frame_length = frame_length
        self.frame_shift = frame_shift
        self.n_fft = n_fft
        self.sample_rate = sample_rate
        self.n_filters = n_filters
        self.with_energy = with_energy
        self.with_emphasis = with_emphasis
        self.with_delta = with_delta

        n_bins_full = n_fft // 2 + 1
        # util_frontend.py lines 161-164: bin range [int(min*513), int(max*513)).
        self.max_bin = int(max_freq * n_bins_full)
        n_bins = self.max_bin
        # util_frontend.py lines 171-179: the kept bins are mapped linearly onto
        # [0, max_freq * sr/2] (this is what the official code does, even though bin k is really
        # at k * sr / n_fft Hz); filter edges equally spaced over that axis.  Built in float32 with
        # torch.linspace like the reference so that the "x == centre" ties are the same.
        # (on the CPU even under a `meta` device context: these are fixed, and read back as Python floats)
        freqs = (sample_rate / 2) * torch.linspace(0.0, max_freq, n_bins, device="cpu")
        edges = torch.linspace(float(freqs.min()), float(freqs.max()), n_filters + 2, device="cpu")
        fbank = torch.stack([
            _triangle(freqs, float(edges[i]), float(edges[i + 1]), float(edges[i + 2]))
            for i in range(n_filters)], dim=1)                         # (n_bins, n_filters)
        # Orthonormal DCT-II as a right-multiplied matrix: row i is the DCT of the i-th unit
        # vector, so ``feat @ dct`` is the DCT of ``feat`` (util_dsp.py LinearDCT, norm='ortho').
        dct = scipy.fft.dct(np.eye(n_filters), type=2, norm="ortho", axis=-1)
        self.register_buffer("fbank", fbank.float(), persistent=False)
        self.register_buffer("dct", torch.from_numpy(dct).float(), persistent=False)
        self.register_buffer("window", torch.hamming_window(frame_length), persistent=False)

    @property
    def out_dim(self) -> int:
        return self.n_filters * (3 if self.with_delta else 1)

    def num_frames(self, n_samples: int) -> int:
        return 1 + n_samples // self.frame_shift

    def power_spectrum(self, wav: torch.Tensor) -> torch.Tensor:
        """Pre-emphasised, Hamming-windowed power spectrum, ``(batch, frames, max_bin)``."""
        if self.with_emphasis:
            wav = torch.cat([wav[:, :1], wav[:, 1:] - PRE_EMPHASIS * wav[:, :-1]], dim=1)
        spec = torch.stft(wav, self.n_fft, hop_length=self.frame_shift,
                          win_length=self.frame_length, window=self.window, center=True,
                          pad_mode="constant", onesided=True, return_complex=True)
        power = spec.real.square() + spec.imag.square()                # (B, 513, T)
        return power.transpose(1, 2)[:, :, :self.max_bin]

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        power = self.power_spectrum(wav)
        log_fb = torch.log10(power @ self.fbank + LOG_EPS)
        ceps = log_fb @ self.dct
        if self.with_energy:
            energy = torch.log10(power.sum(dim=2) / self.n_fft + LOG_EPS)
            ceps = torch.cat([energy.unsqueeze(2), ceps[:, :, 1:]], dim=2)
        if not self.with_delta:
            return ceps
        d1 = _replicate_delta(ceps)
        d2 = _replicate_delta(d1)
        return torch.cat([ceps, d1, d2], dim=2)

    def mac_count(self, inputs, output) -> int:
        """Multiply-accumulates of the front end (used by ``bench.serve.compute_floor.count_macs``).

        Counted per frame: pre-emphasis (1 per sample, amortised), window (320), real FFT
        estimated as ``n_fft * log2(n_fft)`` real MACs (a split-radix real FFT needs roughly
        this many), power (2 per bin), filter bank as a dense matmul (256 x 20), DCT (20 x 20).
        Deltas, log and energy sums are not counted.
        """
        wav = inputs[0]
        batch, n_samples = wav.shape
        frames = self.num_frames(n_samples)
        per_frame = (self.frame_length + int(self.n_fft * math.log2(self.n_fft))
                     + 2 * (self.n_fft // 2 + 1) + self.max_bin * self.n_filters
                     + self.n_filters * self.n_filters)
        return batch * (frames * per_frame + n_samples * int(self.with_emphasis))


# ----------------------------------------------------------------------------------------------
# Network
# ----------------------------------------------------------------------------------------------
class MaxFeatureMap(nn.Module):
    """Max-Feature-Map over channels: split channels into two halves and keep the element-wise max.

    Same pairing as block_nn.py ``MaxFeatureMap2D`` (lines 663-710): channel ``c`` competes with
    channel ``c + C/2``.  Halves the channel count.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        first, second = x.chunk(2, dim=1)
        return torch.maximum(first, second)


class BLSTMLayer(nn.Module):
    """Bidirectional LSTM whose two directions together keep the feature size (dim -> 2 x dim/2).

    block_nn.py ``BLSTMLayer`` (lines 24-44); batch-first here, the reference permutes instead.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        if dim % 2:
            raise ValueError("BLSTMLayer needs an even size")
        self.lstm = nn.LSTM(dim, dim // 2, bidirectional=True, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lstm(x)[0]


def _build_lcnn(dropout: float) -> nn.Sequential:
    """The LCNN trunk, same layer order (and therefore state-dict indices) as model.py 165-202.

    Channel bookkeeping (conv out -> MFM halves it): 64->32, 64->32, 96->48, 96->48, 128->64,
    128->64, 64->32, 64->32, 64->32.  Batch norms have ``affine=False`` (no parameters).
    """
    mfm = MaxFeatureMap
    pool = lambda: nn.MaxPool2d(2, 2)            # noqa: E731
    bn = lambda c: nn.BatchNorm2d(c, affine=False)  # noqa: E731
    return nn.Sequential(
        nn.Conv2d(1, 64, 5, 1, padding=2), mfm(), pool(),                       # 0-2
        nn.Conv2d(32, 64, 1, 1, padding=0), mfm(), bn(32),                      # 3-5
        nn.Conv2d(32, 96, 3, 1, padding=1), mfm(), pool(), bn(48),              # 6-9
        nn.Conv2d(48, 96, 1, 1, padding=0), mfm(), bn(48),                      # 10-12
        nn.Conv2d(48, 128, 3, 1, padding=1), mfm(), pool(),                     # 13-15
        nn.Conv2d(64, 128, 1, 1, padding=0), mfm(), bn(64),                     # 16-18
        nn.Conv2d(64, 64, 3, 1, padding=1), mfm(), bn(32),                      # 19-21
        nn.Conv2d(32, 64, 1, 1, padding=0), mfm(), bn(32),                      # 22-24
        nn.Conv2d(32, 64, 3, 1, padding=1), mfm(), pool(),                      # 25-27
        nn.Dropout(dropout),                                                    # 28
    )


class LFCCLCNN(nn.Module):
    """ASVspoof 2021 LA baseline LFCC-LCNN (LCNN + 2 BLSTM + average pooling + linear output).

    ``forward(wav)``: ``wav`` is ``(batch, samples)`` float, 16 kHz, ``samples >= 2400``;
    returns the official logit, shape ``(batch,)``, positive = bona fide.
    ``score(wav)``: ``-logit``, HIGHER = MORE LIKELY FAKE.
    ``official_loss(logit, spoof_labels)``: the official BCE objective with labels given in the
    bench convention (1 = spoof/fake, 0 = bona fide); converted internally to the official target.

    Dropout (p = 0.7, end of the LCNN trunk) is the only stochastic layer; in ``eval()`` mode the
    model is deterministic.
    """

    sample_rate = SAMPLE_RATE
    official_input_samples = None   # whole utterance, variable length
    min_samples = MIN_SAMPLES

    def __init__(self, dropout: float = DROPOUT) -> None:
        super().__init__()
        self.frontend = LFCCFrontEnd()
        feat_dim = self.frontend.out_dim                      # 60
        hidden = (feat_dim // POOL_FACTOR) * 32               # 3 * 32 = 96, model.py line 207
        self.lcnn = _build_lcnn(dropout)
        self.blstm = nn.Sequential(BLSTMLayer(hidden), BLSTMLayer(hidden))
        self.output = nn.Linear(hidden, 1)                    # model.py line 213 (v_emd_dim = 1)

    def _check(self, wav: torch.Tensor) -> None:
        if wav.dim() != 2:
            raise ValueError(f"expected (batch, samples), got shape {tuple(wav.shape)}")
        if wav.shape[1] < MIN_SAMPLES:
            raise ValueError(f"LFCC-LCNN needs >= {MIN_SAMPLES} samples "
                             f"({MIN_FRAMES} frames), got {wav.shape[1]}")

    def embed(self, wav: torch.Tensor) -> torch.Tensor:
        """Pooled 96-dim utterance embedding (input of the output layer)."""
        self._check(wav)
        feats = self.frontend(wav)                            # (B, T, 60)
        h = self.lcnn(feats.unsqueeze(1))                     # (B, 32, T//16, 3)
        batch, _, frames, _ = h.shape
        h = h.permute(0, 2, 1, 3).reshape(batch, frames, -1)  # (B, T//16, 96), channel-major
        return (self.blstm(h) + h).mean(dim=1)                # model.py line 348

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        return self.output(self.embed(wav)).squeeze(1)

    @torch.no_grad()
    def score(self, wav: torch.Tensor) -> torch.Tensor:
        """Per-utterance score, HIGHER = MORE LIKELY FAKE (= minus the official score)."""
        return -self.forward(wav)

    @staticmethod
    def official_loss(logit: torch.Tensor, spoof_labels: torch.Tensor) -> torch.Tensor:
        """BCE as in model.py (sigmoid + BCELoss, target 1 = bona fide), in a stable form."""
        target = 1.0 - spoof_labels.float()
        return F.binary_cross_entropy_with_logits(logit, target)


def convert_official_state_dict(state: dict) -> dict:
    """Map a state dict of the official ``Model`` (single sub-model) onto ``LFCCLCNN``.

    Front-end tensors (``m_frontend.*``) and the official identity-normalisation buffers
    (``input_mean/std``, ``output_mean/std``) are skipped: the front end is rebuilt deterministically
    here and the normalisation is the identity.
    """
    out = {}
    for key, value in state.items():
        if key.startswith("m_transform.0."):
            out["lcnn." + key[len("m_transform.0."):]] = value
        elif key.startswith("m_before_pooling.0."):
            rest = key[len("m_before_pooling.0."):]          # e.g. "1.l_blstm.weight_ih_l0"
            idx, _, name = rest.split(".", 2)
            out[f"blstm.{idx}.lstm.{name}"] = value
        elif key.startswith("m_output_act.0."):
            out["output." + key[len("m_output_act.0."):]] = value
    return out
