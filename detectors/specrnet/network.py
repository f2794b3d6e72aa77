"""SpecRNet (Kawa, Plata, Syga, TrustCom 2022 / arXiv 2210.06105), re-implemented in plain PyTorch.

References (read, not copied)
-----------------------------
* github.com/piotrkawa/specrnet @ d333d43: ``model.py`` (network, lines 9-164), ``config.py``
  (lines 4-11: filts, GRU/FC sizes, one output), ``model.py`` line 182 (benchmark input
  ``(batch, 1, 80, 404)``).
* github.com/piotrkawa/audio-deepfake-adversarial-attacks @ 8a1e5c8 (same authors, the code base
  the SpecRNet paper experiments come from): ``src/frontends.py`` lines 6-32 (torchaudio LFCC,
  ``n_lfcc=80``, n_fft 512, win 400, hop 160), ``src/models/specrnet.py`` (``FrontendSpecRNet``),
  ``src/trainer.py`` (``BCEWithLogitsLoss``), ``src/datasets/base_dataset.py`` (label 1 =
  bona fide, line 182; 64,600-sample crop / repeat-pad, line 329).
* github.com/piotrkawa/deepfake-whisper-features @ 67fd73f: ``src/models/specrnet.py`` (same
  network plus ``AdaptiveAvgPool2d((1, None))`` before the GRU, line 166), ``src/frontends.py``
  (lines 23-31 and 55-62: 128 LFCC + delta + delta-delta, delta window 400, <= 3000 frames).

Front ends
----------
``frontend="paper"`` (default): the SpecRNet-paper input, 80 LFCCs x 404 frames for 4 s --
torchaudio ``LFCC(sample_rate=16000, n_lfcc=80, speckwargs={n_fft: 512, win_length: 400,
hop_length: 160})`` with its defaults (128 linear triangular filters over 0-8 kHz, periodic Hann
window, centred STFT with reflect padding, power spectrum, ``AmplitudeToDB('power', top_db=80)``,
orthonormal DCT-II keeping 80 coefficients).  No deltas.
``frontend="whisper_features"``: the later deepfake-whisper-features recipe, 128 LFCCs with
delta and delta-delta (torchaudio ``ComputeDeltas(win_length=400, mode='replicate')``),
i.e. 384 feature rows, at most 3000 frames.  Same network, same parameter count.

Network (config.py: filts [1, [1, 20], [20, 64], [64, 64]], gru_node 64, 2 GRU layers, fc 64,
1 class)
------------------------------------------------------------------------------------------
BN2d(1) -> SELU -> 3 x [2-D residual block (3x3 convs, LeakyReLU 0.3, 1x1 shortcut when the
channel count changes, max-pool 2) -> FMS (``s = sigmoid(W avgpool(x) + b)``, ``x*s + s``)
-> max-pool 2] with 1->20, 20->64, 64->64 channels -> BN2d(64) -> SELU -> average over the
remaining frequency rows -> 2-layer bidirectional GRU (64 per direction), last time step ->
Linear(128, 128) -> Linear(128, 1).

Output and class convention
---------------------------
``forward`` returns ONE logit per utterance, shape ``(batch,)``.  The official trainer uses
``BCEWithLogitsLoss`` with target 1 = bona fide, 0 = spoof, so in the official convention a
HIGHER logit = MORE LIKELY BONA FIDE.  ``score(x) = -logit``: HIGHER = MORE LIKELY FAKE.

Input length
------------
Official: silence-trimmed (sox) audio cropped to its first 64,600 samples or repeat-padded to
64,600 (~4 s), giving 404 frames.  ``forward`` accepts any length >= 10,080 samples: frames =
``1 + samples // 160`` and six 2x max-pools need >= 64 frames (1 s = 101 frames -> a single
GRU step).  ``pad_or_crop`` reproduces the official crop/pad (silence trimming is not included).

Deliberate differences from the official code
---------------------------------------------
* Own torch LFCC (no torchaudio); filter bank, DCT and window are non-persistent buffers.
* The ``top_db = 80`` floor of ``AmplitudeToDB`` is applied per utterance.  In the paper-era code
  the LFCC received a 2-D ``(batch, samples)`` tensor, for which torchaudio applies ONE floor to
  the whole batch, so scores depended (slightly) on batch-mates; the whisper-features code
  unsqueezes to 4-D first, which gives the per-utterance floor used here.
* The ``AdaptiveAvgPool2d((1, None))`` of the whisper-features version is always applied; for the
  80-row paper input the frequency axis is already 1 there, so it is an identity and the network
  equals the specrnet-repo ``model.py`` (which uses a bare ``squeeze``).
* The dead ``bn1`` branch of residual blocks 2 and 3 (computed and discarded by the official code
  because ``conv1`` is applied to ``x``) is kept as a module but skipped (see rawnet2.py).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.fft
import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["TorchLFCC", "ResidualBlock2d", "SpecRNet", "pad_or_crop", "OFFICIAL"]

SAMPLE_RATE = 16000

# --- front end: audio-deepfake-adversarial-attacks src/frontends.py lines 7-9, 24-32;
#     torchaudio LFCC defaults (n_filter=128, f_min=0, f_max=sr//2, dct_type 2 'ortho',
#     log_lf=False -> AmplitudeToDB('power', top_db=80)), Spectrogram defaults (hann window,
#     center=True, pad_mode='reflect', power=2, normalized=False).
N_FFT = 512
WIN_LENGTH = 400            # 25 ms
HOP_LENGTH = 160            # 10 ms
N_FILTER = 128
N_LFCC_PAPER = 80
TOP_DB = 80.0
AMIN = 1e-10
# --- whisper-features src/frontends.py lines 23-31 (n_lfcc 128), 39-42 (delta window 400,
#     replicate), 55-62 (concat along features, keep <= 3000 frames).
N_LFCC_WF = 128
DELTA_WIN = 400
WF_MAX_FRAMES = 3000

# --- network: specrnet config.py lines 4-11; model.py lines 9-164.
FILTS = [1, [1, 20], [20, 64], [64, 64]]
NB_FC_NODE = 64
GRU_NODE = 64
NB_GRU_LAYER = 2
NB_CLASSES = 1
LRELU_SLOPE = 0.3
NB_SAMP = 64600
MIN_FRAMES = 64              # 2 ** 6 time pooling

OFFICIAL = {
    "loss": "BCEWithLogitsLoss, target 1 = bona fide (trainer.py; base_dataset.py line 182)",
    "optimizer": "Adam, lr 1e-4, weight_decay 1e-4 (configs/training/specrnet.yaml)",
    "batch_size": 8,            # --batch_size default of deepfake-whisper-features train_models.py
    "input_samples": NB_SAMP,
    "paper_params": 277_000,    # "~277 k" (paper); the official code gives 277,963
}


def pad_or_crop(wav: torch.Tensor, length: int = NB_SAMP) -> torch.Tensor:
    """Official crop / repeat-pad of a 1-D waveform to ``length`` samples (base_dataset.py
    ``apply_pad``).  Silence trimming, which the official pipeline applies first, is not done."""
    n = wav.shape[-1]
    if n >= length:
        return wav[..., :length]
    reps = length // n + 1
    return wav.repeat(reps)[:length] if wav.dim() == 1 else wav.repeat(1, reps)[..., :length]


def _linear_triangular_fbank(n_freqs: int, f_min: float, f_max: float, n_filter: int,
                             sample_rate: int) -> torch.Tensor:
    """Triangular filters with centres equally spaced in Hz (torchaudio ``linear_fbanks``
    semantics: FFT bin grid ``linspace(0, sr//2, n_freqs)``, ``n_filter + 2`` edge points,
    ``max(0, min(rising, falling))``).  Shape ``(n_freqs, n_filter)``."""
    freqs = torch.linspace(0, sample_rate // 2, n_freqs, dtype=torch.float64)
    pts = torch.linspace(f_min, f_max, n_filter + 2, dtype=torch.float64)
    width = pts[1:] - pts[:-1]
    slopes = pts.unsqueeze(0) - freqs.unsqueeze(1)               # (n_freqs, n_filter + 2)
    rising = -slopes[:, :-2] / width[:-1]
    falling = slopes[:, 2:] / width[1:]
    return torch.clamp(torch.minimum(rising, falling), min=0.0).float()


def _regression_delta(feat: torch.Tensor, win_length: int) -> torch.Tensor:
    """Regression delta over the last axis with replicate padding (torchaudio
    ``compute_deltas`` semantics): ``sum_{n=1..N} n (c[t+n] - c[t-n]) / (2 sum n^2)``."""
    n = (win_length - 1) // 2
    denom = n * (n + 1) * (2 * n + 1) / 3.0
    shape = feat.shape
    flat = feat.reshape(-1, 1, shape[-1])
    flat = F.pad(flat, (n, n), mode="replicate")
    kernel = torch.arange(-n, n + 1, device=feat.device, dtype=feat.dtype).view(1, 1, -1)
    return (F.conv1d(flat, kernel) / denom).reshape(shape)


class TorchLFCC(nn.Module):
    """torchaudio-compatible LFCC, optionally with deltas, output ``(batch, 1, rows, frames)``.

    ``rows = n_lfcc`` (paper) or ``3 * n_lfcc`` (with deltas).  ``frames = 1 + samples // hop``.
    """

    def __init__(self, n_lfcc: int = N_LFCC_PAPER, with_deltas: bool = False,
                 max_frames: int | None = None, n_fft: int = N_FFT,
                 win_length: int = WIN_LENGTH, hop_length: int = HOP_LENGTH,
                 n_filter: int = N_FILTER, sample_rate: int = SAMPLE_RATE) -> None:
        super().__init__()
        self.n_lfcc, self.with_deltas, self.max_frames = n_lfcc, with_deltas, max_frames
        self.n_fft, self.win_length, self.hop_length = n_fft, win_length, hop_length
        self.n_filter = n_filter
        fbank = _linear_triangular_fbank(n_fft // 2 + 1, 0.0, float(sample_rate // 2),
                                         n_filter, sample_rate)
        # DCT-II, orthonormal, first n_lfcc coefficients, right-multiplied: (n_filter, n_lfcc).
        dct = scipy.fft.dct(np.eye(n_filter), type=2, norm="ortho", axis=-1)[:, :n_lfcc]
        self.register_buffer("fbank", fbank, persistent=False)
        self.register_buffer("dct", torch.from_numpy(np.ascontiguousarray(dct)).float(),
                             persistent=False)
        self.register_buffer("window", torch.hann_window(win_length), persistent=False)

    @property
    def rows(self) -> int:
        return self.n_lfcc * (3 if self.with_deltas else 1)

    def num_frames(self, n_samples: int) -> int:
        frames = 1 + n_samples // self.hop_length
        return min(frames, self.max_frames) if self.max_frames else frames

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        if wav.shape[-1] <= self.n_fft // 2:
            raise ValueError("reflect padding needs more than n_fft // 2 samples")
        spec = torch.stft(wav, self.n_fft, hop_length=self.hop_length,
                          win_length=self.win_length, window=self.window, center=True,
                          pad_mode="reflect", onesided=True, return_complex=True)
        power = spec.real.square() + spec.imag.square()           # (B, 257, T)
        lin = (power.transpose(1, 2) @ self.fbank)                 # (B, T, 128)
        db = 10.0 * torch.log10(torch.clamp(lin, min=AMIN))
        floor = db.amax(dim=(1, 2), keepdim=True) - TOP_DB         # per-utterance top_db
        db = torch.maximum(db, floor)
        lfcc = (db @ self.dct).transpose(1, 2)                     # (B, n_lfcc, T)
        if self.with_deltas:
            d1 = _regression_delta(lfcc, DELTA_WIN)
            d2 = _regression_delta(d1, DELTA_WIN)
            lfcc = torch.cat([lfcc, d1, d2], dim=1)
        if self.max_frames:
            lfcc = lfcc[:, :, :self.max_frames]
        return lfcc.unsqueeze(1)

    def mac_count(self, inputs, output) -> int:
        """Window + real FFT (``n_fft log2 n_fft`` per frame) + power (2/bin) + dense filter-bank
        matmul + DCT matmul, per computed frame; deltas as their convolutions (2 x rows x
        (2N+1) per frame).  The log and top_db clamp are not counted."""
        batch, n_samples = inputs[0].shape
        frames = 1 + n_samples // self.hop_length
        n_bins = self.n_fft // 2 + 1
        per_frame = (self.win_length + int(self.n_fft * math.log2(self.n_fft)) + 2 * n_bins
                     + n_bins * self.n_filter + self.n_filter * self.n_lfcc)
        if self.with_deltas:
            taps = 2 * ((DELTA_WIN - 1) // 2) + 1
            per_frame += 2 * self.n_lfcc * taps
        return batch * frames * per_frame


class ResidualBlock2d(nn.Module):
    """SpecRNet residual block (specrnet model.py ``Residual_block2D``, lines 9-68).

    Effective official computation: ``maxpool2(conv2(lrelu(bn2(conv1(x)))) + shortcut(x))``,
    3x3 convolutions with padding 1, 1x1 conv shortcut when the channel count changes.
    """

    def __init__(self, in_ch: int, out_ch: int, first: bool = False) -> None:
        super().__init__()
        self.first = first
        if not first:
            self.bn1 = nn.BatchNorm2d(in_ch)   # present in the official block, output unused
        self.lrelu = nn.LeakyReLU(LRELU_SLOPE)
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1)
        self.conv_downsample = nn.Conv2d(in_ch, out_ch, 1) if in_ch != out_ch else None
        self.mp = nn.MaxPool2d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(self.lrelu(self.bn2(self.conv1(x))))
        identity = x if self.conv_downsample is None else self.conv_downsample(x)
        return self.mp(out + identity)


class SpecRNet(nn.Module):
    """SpecRNet with its LFCC front end, waveform in, one logit out.

    ``forward(wav)``: ``wav`` ``(batch, samples)`` float at 16 kHz (official 64,600 samples);
    returns ``(batch,)`` logits, positive = bona fide (official convention).
    ``forward_features(feats)``: the network alone on ``(batch, 1, rows, frames)`` features.
    ``score(wav)``: ``-logit``, HIGHER = MORE LIKELY FAKE.
    ``official_loss(logit, spoof_labels)``: BCE-with-logits with labels in the bench convention
    (1 = spoof/fake), converted to the official target (1 = bona fide) internally.

    No dropout anywhere; ``eval()`` switches batch norms to running statistics.
    """

    sample_rate = SAMPLE_RATE
    official_input_samples = NB_SAMP

    def __init__(self, frontend: str = "paper") -> None:
        super().__init__()
        if frontend == "paper":
            self.frontend = TorchLFCC(N_LFCC_PAPER, with_deltas=False)
        elif frontend == "whisper_features":
            self.frontend = TorchLFCC(N_LFCC_WF, with_deltas=True, max_frames=WF_MAX_FRAMES)
        else:
            raise ValueError("frontend must be 'paper' or 'whisper_features'")
        self.frontend_name = frontend
        c_in, (a_in, a_out), (b_in, b_out) = FILTS[0], FILTS[1], FILTS[2]
        self.first_bn = nn.BatchNorm2d(c_in)
        chans = [(a_in, a_out), (b_in, b_out), (b_out, b_out)]   # 1->20, 20->64, 64->64
        self.blocks = nn.ModuleList([ResidualBlock2d(i, o, first=(k == 0))
                                     for k, (i, o) in enumerate(chans)])
        self.fms = nn.ModuleList([nn.Linear(o, o) for _, o in chans])
        self.bn_before_gru = nn.BatchNorm2d(b_out)
        self.gru = nn.GRU(b_out, GRU_NODE, num_layers=NB_GRU_LAYER, batch_first=True,
                          bidirectional=True)
        self.fc1_gru = nn.Linear(GRU_NODE * 2, NB_FC_NODE * 2)
        self.fc2_gru = nn.Linear(NB_FC_NODE * 2, NB_CLASSES)
        self.min_samples = (MIN_FRAMES - 1) * HOP_LENGTH          # 10,080

    def forward_features(self, feats: torch.Tensor) -> torch.Tensor:
        """Network on LFCC features ``(batch, 1, rows, frames)`` -> ``(batch,)`` logits."""
        x = F.selu(self.first_bn(feats))
        for block, fc in zip(self.blocks, self.fms, strict=True):
            x = block(x)
            s = torch.sigmoid(fc(x.mean(dim=(2, 3))))[:, :, None, None]   # FMS
            x = F.max_pool2d(x * s + s, 2)
        x = F.selu(self.bn_before_gru(x))
        x = x.mean(dim=2).transpose(1, 2)        # average remaining rows -> (B, T, 64)
        self.gru.flatten_parameters()
        x = self.gru(x)[0][:, -1, :]
        return self.fc2_gru(self.fc1_gru(x)).squeeze(1)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        if wav.dim() != 2:
            raise ValueError(f"expected (batch, samples), got shape {tuple(wav.shape)}")
        if wav.shape[1] < self.min_samples:
            raise ValueError(f"SpecRNet needs >= {self.min_samples} samples "
                             f"({MIN_FRAMES} frames), got {wav.shape[1]}")
        return self.forward_features(self.frontend(wav))

    @torch.no_grad()
    def score(self, wav: torch.Tensor) -> torch.Tensor:
        """Per-utterance score, HIGHER = MORE LIKELY FAKE (= minus the official logit)."""
        return -self.forward(wav)

    @staticmethod
    def official_loss(logit: torch.Tensor, spoof_labels: torch.Tensor) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(logit, 1.0 - spoof_labels.float())


def convert_official_state_dict(state: dict) -> dict:
    """Map an official SpecRNet state dict (either repo) onto ``SpecRNet``."""
    names = {"block0": "blocks.0", "block2": "blocks.1", "block4": "blocks.2",
             "fc_attention0": "fms.0", "fc_attention2": "fms.1", "fc_attention4": "fms.2"}
    out = {}
    for key, value in state.items():
        head, _, rest = key.partition(".")
        if head in names:
            rest = rest.split(".", 1)[1]          # drop the Sequential index "0."
            out[f"{names[head]}.{rest}"] = value
        else:
            out[key] = value
    return out
