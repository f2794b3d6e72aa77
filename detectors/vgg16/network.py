"""VGG16 (Simonyan & Zisserman, ICLR 2015, configuration D) on a log-mel spectrogram, in plain PyTorch.

Reference
---------
K. Simonyan, A. Zisserman, "Very Deep Convolutional Networks for Large-Scale Image Recognition",
ICLR 2015, Table 1 column D ("VGG16"): thirteen 3x3 convolutions (stride 1, padding 1, ReLU)
in five blocks of 64, 64 | 128, 128 | 256, 256, 256 | 512, 512, 512 | 512, 512, 512 channels, a
2x2 max-pool (stride 2) after each block, then FC-4096, FC-4096 (ReLU, dropout 0.5 after each)
and the output layer.  No batch normalisation (the paper predates it).  The 7x7 adaptive average
pool before the classifier is the usual modern addition (it is an identity for the paper's
224x224 input and lets other image sizes reach the same 512 x 7 x 7 = 25,088 classifier input).
Module names and order follow the common ``features`` / ``avgpool`` / ``classifier`` layout,
so an ``nn.Sequential`` index names the same layer as in other VGG16 implementations.

What bench changed for spectrograms (its choices; DevoX, which compares against "VGG-16", gives
no input features, sizes or training for it)
------------------------------------------------------------------------------------------
* One input channel (a log-mel "image") instead of three (RGB): the first convolution has
  64 x 1 x 3 x 3 weights instead of 64 x 3 x 3 x 3.
* Two outputs (logits), class 1 = fake: bench's convention, no re-orientation needed.
* ``width``: every channel count and the 4,096-unit FC layers are divided by it (1 = the
  paper-sized network).  ``pool``: the side of the adaptive average pool (7 as in VGG16).
  ``batch_norm=True`` adds BatchNorm after every convolution (VGG16-BN); off by default.
* Initialisation as the widely used torchvision recipe: Kaiming-normal convolutions (fan-out,
  ReLU), zero biases, linear weights N(0, 0.01).

Parameter counts (1 input channel, 2 outputs, no batch norm)
------------------------------------------------------------
``width=1, pool=7``: 134,267,586 = 14,713,536 in the convolutions + 119,554,050 in the
classifier (25,088 x 4,096 + 4,096; 4,096 x 4,096 + 4,096; 4,096 x 2 + 2).  The ImageNet VGG16
(3 input channels, 1,000 classes) has 138,357,544.
``width=8, pool=7`` (``vgg16-small``): 2,100,250 = 230,424 in the convolutions + 1,869,826 in the
classifier (3,136 x 512 + 512; 512 x 512 + 512; 512 x 2 + 2).
The mel front end has no trainable parameters (its filter bank and window are non-persistent
buffers), so neither count depends on ``n_mels``.

Front end (``LogMel``)
----------------------
16 kHz waveform (B, N) -> centred STFT (n_fft 512, periodic Hann window of 400 samples = 25 ms
zero-padded to 512, hop 160 = 10 ms, reflect padding) -> power |X|^2 -> ``n_mels`` triangular
mel filters (HTK mel scale, 0 - 8 kHz, unnormalised peaks of 1: torchaudio's and librosa's
``htk=True, norm=None`` filters) -> ``log(1e-6 + mel power)`` -> per-utterance normalisation
(minus the mean, divided by the standard deviation, both over all mel bins and frames of that
utterance) -> (B, 1, n_mels, 1 + N // 160).  Five 2x2 max-pools need at least 32 rows and 32
frames: ``n_mels >= 32`` and N >= 4,960 samples (0.31 s).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn as nn

__all__ = ["CFG_D", "LogMel", "VGG16", "mel_filterbank", "MIN_SAMPLES"]

# Table 1, configuration D: channels, "M" = 2x2 max-pool with stride 2.
CFG_D: list[int | str] = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
FC_UNITS = 4096
DROPOUT = 0.5
N_POOLS = sum(1 for v in CFG_D if v == "M")          # 5
MIN_SIDE = 2 ** N_POOLS                               # 32 rows and 32 frames

SAMPLE_RATE = 16_000
N_FFT = 512
WIN_LENGTH = 400      # 25 ms
HOP_LENGTH = 160      # 10 ms
LOG_EPS = 1e-6
NORM_EPS = 1e-5
MIN_SAMPLES = (MIN_SIDE - 1) * HOP_LENGTH             # 4,960: frames = 1 + N // 160 >= 32


def mel_filterbank(n_mels: int, n_fft: int = N_FFT, sample_rate: int = SAMPLE_RATE, f_min: float = 0.0,
                   f_max: float | None = None) -> np.ndarray:
    """(n_fft // 2 + 1, n_mels) triangular filters, centres equally spaced on the HTK mel scale
    (``2595 log10(1 + f / 700)``), peaks of 1 (no area normalisation)."""
    f_max = sample_rate / 2 if f_max is None else f_max
    freqs = np.linspace(0.0, sample_rate / 2, n_fft // 2 + 1)

    def to_mel(f: np.ndarray | float) -> np.ndarray:
        return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)

    edges = 700.0 * (10.0 ** (np.linspace(to_mel(f_min), to_mel(f_max), n_mels + 2) / 2595.0) - 1.0)
    width = np.diff(edges)                                    # (n_mels + 1,)
    ramps = edges[None, :] - freqs[:, None]                   # (n_freqs, n_mels + 2)
    rising = -ramps[:, :-2] / width[:-1]
    falling = ramps[:, 2:] / width[1:]
    return np.maximum(0.0, np.minimum(rising, falling))


class LogMel(nn.Module):
    """Waveform (B, N) at 16 kHz -> normalised log-mel image (B, 1, n_mels, 1 + N // 160)."""

    def __init__(self, n_mels: int = 128) -> None:
        super().__init__()
        self.n_mels = n_mels
        fbank = torch.from_numpy(mel_filterbank(n_mels)).float()
        self.register_buffer("fbank", fbank, persistent=False)
        self.register_buffer("window", torch.hann_window(WIN_LENGTH), persistent=False)

    @staticmethod
    def num_frames(n_samples: int) -> int:
        return 1 + n_samples // HOP_LENGTH

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(wav, N_FFT, hop_length=HOP_LENGTH, win_length=WIN_LENGTH, window=self.window,
                          center=True, pad_mode="reflect", onesided=True, return_complex=True)
        power = spec.real.square() + spec.imag.square()                     # (B, 257, T)
        logmel = torch.log(LOG_EPS + (power.transpose(1, 2) @ self.fbank))  # (B, T, n_mels)
        mean = logmel.mean(dim=(1, 2), keepdim=True)
        var = logmel.var(dim=(1, 2), keepdim=True, unbiased=False)
        return ((logmel - mean) / torch.sqrt(var + NORM_EPS)).transpose(1, 2).unsqueeze(1)

    def mac_count(self, inputs, output) -> int:
        """Per frame: window (400), real FFT estimated as ``n_fft log2 n_fft``, power (2 per bin) and the dense
        filter-bank matmul (257 x n_mels); the log and the normalisation are not counted."""
        batch, n_samples = inputs[0].shape
        n_bins = N_FFT // 2 + 1
        per_frame = WIN_LENGTH + int(N_FFT * math.log2(N_FFT)) + 2 * n_bins + n_bins * self.n_mels
        return batch * self.num_frames(n_samples) * per_frame


class VGG16(nn.Module):
    """VGG16 (configuration D) on the log-mel image of a 16 kHz waveform; (B, N) -> (B, 2) logits, class 1 = fake.

    ``width``: divisor of every channel count and of the 4,096-unit FC layers (1 = the paper's sizes; it must
    divide 64).  ``n_mels``: mel rows of the input image (>= 32).  ``pool``: side of the adaptive average pool
    before the classifier (7 in VGG16).  ``batch_norm``: BatchNorm after each convolution (plain VGG16: off).
    ``dropout``: the classifier's two dropout layers (0.5 in VGG16).
    """

    sample_rate = SAMPLE_RATE
    min_samples = MIN_SAMPLES

    def __init__(self, width: int = 1, n_mels: int = 128, pool: int = 7, batch_norm: bool = False,
                 dropout: float = DROPOUT, n_classes: int = 2) -> None:
        super().__init__()
        if not (isinstance(width, int) and width >= 1 and 64 % width == 0):
            raise ValueError(f"width must be a divisor of 64 (1, 2, 4, ..., 64), got {width!r}")
        if not (isinstance(n_mels, int) and MIN_SIDE <= n_mels <= N_FFT // 2 + 1):
            raise ValueError(f"n_mels must be an integer from {MIN_SIDE} to {N_FFT // 2 + 1}, got {n_mels!r}")
        if not (isinstance(pool, int) and pool >= 1):
            raise ValueError(f"pool must be a positive integer, got {pool!r}")
        self.width, self.n_mels, self.pool, self.batch_norm = width, n_mels, pool, bool(batch_norm)
        self.frontend = LogMel(n_mels)
        layers: list[nn.Module] = []
        channels = 1
        for v in CFG_D:
            if v == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
                continue
            out = int(v) // width
            layers.append(nn.Conv2d(channels, out, kernel_size=3, padding=1))
            if batch_norm:
                layers.append(nn.BatchNorm2d(out))
            layers.append(nn.ReLU(inplace=True))
            channels = out
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((pool, pool))
        fc = FC_UNITS // width
        self.classifier = nn.Sequential(
            nn.Linear(channels * pool * pool, fc), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(fc, fc), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(fc, n_classes))
        self._initialise()

    def _initialise(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, 0.01)
                nn.init.zeros_(m.bias)

    def forward_features(self, image: torch.Tensor) -> torch.Tensor:
        """The network alone on a (B, 1, rows, frames) image -> (B, n_classes) logits."""
        x = self.avgpool(self.features(image))
        return self.classifier(torch.flatten(x, 1))

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        if wav.dim() != 2:
            raise ValueError(f"expected (batch, samples), got shape {tuple(wav.shape)}")
        if wav.shape[1] < MIN_SAMPLES:
            raise ValueError(f"VGG16 needs >= {MIN_SAMPLES} samples ({MIN_SIDE} frames for {N_POOLS} 2x2 "
                             f"max-pools), got {wav.shape[1]}")
        return self.forward_features(self.frontend(wav))
