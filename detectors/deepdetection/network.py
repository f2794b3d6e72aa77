"""DeepDetection's networks: the autoencoder's encoder on the phone, a 1-D CNN classifier on the server.

What the paper (Kim et al., Applied Sciences 2022; ``../shared/papers/deepdetection.txt``) states, and
bench's reading of what it leaves out:

- Input: raw audio "sliced to 1000" samples (Sec. 3.1.2). No sample rate is given; ASVspoof 2019 is
  16 kHz, so :attr:`DeepDetectionNet.feature_rate` is 16,000.
- :class:`Encoder` (Sec. 3.2, the device half): two Conv1d layers, channels 1 -> 16 -> 8, lengths
  1000 -> 988 -> 978, each followed by ReLU, then MaxPool1d with kernel and stride 6 -> 163: output
  (8, 163). The paper gives the lengths, not the kernels: kernel 13 then 11 without padding (stride 1)
  is bench's inference from them (1000 - 12 = 988, 988 - 10 = 978; floor(978 / 6) = 163).
- :class:`Decoder` (Sec. 3.2, used only to train the encoder as an autoencoder): MaxUnpool1d(6) with
  the encoder's pooling indices, then two layers back to (1, 1000). The paper says "two Conv1d layers"
  whose "shape [...] is identical to the encoder"; a Conv1d cannot lengthen 163 -> 1000 without padding,
  so bench reads them as the transposed convolutions of the encoder's (ConvTranspose1d 8 -> 16 kernel
  11, ReLU, ConvTranspose1d 16 -> 1 kernel 13; lengths 978 -> 988 -> 1000, no output activation).
- :class:`Classifier` (Sec. 3.3, the server half): four Conv1d layers, output channels 32, 64, 32, 8,
  kernel ("filter size") 15, stride 1, lengths 163 -> 149 -> 135 -> 121 -> 107, flattened to 8 x 107 =
  856 (the paper's number), then fully connected 64 and n_users + 1 outputs (one class per enrolled user
  and one "deep voice" class; the paper: 20 users + 1 = 21). The paper names the activation (ReLU) for
  the encoder only; bench puts ReLU after each classifier convolution and the first FC layer. No padding
  is bench's inference from 856 = 8 x 107. The output has no softmax (cross-entropy applies it; Sec. 3.3).
  bench puts the deep-voice class LAST (index n_users).
"""

from __future__ import annotations

import torch
from torch import nn

SLICE = 1000  #: samples per slice (Sec. 3.1.2)
FEATURE_SHAPE = (8, 163)  #: what the encoder sends per slice (Sec. 3.2 / 3.3)
POOL = 6


class Encoder(nn.Module):
    """(B, 1000) or (B, 1, 1000) slices -> (B, 8, 163) features (the phone's half)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(1, 16, 13)
        self.conv2 = nn.Conv1d(16, 8, 11)
        self.pool = nn.MaxPool1d(POOL, stride=POOL, return_indices=True)

    def encode_with_indices(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.dim() == 2:
            x = x[:, None]
        h = torch.relu(self.conv2(torch.relu(self.conv1(x))))
        return self.pool(h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encode_with_indices(x)[0]


class Decoder(nn.Module):
    """(B, 8, 163) features + the encoder's pooling indices -> (B, 1, 1000) reconstructed slices."""

    def __init__(self) -> None:
        super().__init__()
        self.unpool = nn.MaxUnpool1d(POOL, stride=POOL)
        self.deconv1 = nn.ConvTranspose1d(8, 16, 11)
        self.deconv2 = nn.ConvTranspose1d(16, 1, 13)

    def forward(self, features: torch.Tensor, indices: torch.Tensor | None = None) -> torch.Tensor:
        """``indices=None``: each pooled value is put back at the start of its pooling window (what someone
        holding only the features, not the indices, can do)."""
        b, c, n = features.shape
        if indices is None:
            indices = (torch.arange(n, device=features.device) * POOL).expand(b, c, n)
        h = self.unpool(features, indices, output_size=(b, c, n * POOL))
        return self.deconv2(torch.relu(self.deconv1(h)))


class Classifier(nn.Module):
    """(B, 8, 163) features -> (B, n_classes) logits (the server's half)."""

    def __init__(self, n_classes: int) -> None:
        super().__init__()
        chans = [FEATURE_SHAPE[0], 32, 64, 32, 8]
        layers: list[nn.Module] = []
        for cin, cout in zip(chans[:-1], chans[1:], strict=True):
            layers += [nn.Conv1d(cin, cout, 15, stride=1), nn.ReLU()]
        self.convs = nn.Sequential(*layers)
        self.fc1 = nn.Linear(8 * 107, 64)
        self.fc2 = nn.Linear(64, n_classes)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        h = self.convs(features).flatten(1)
        return self.fc2(torch.relu(self.fc1(h)))


class DeepDetectionNet(nn.Module):
    """The whole model: ``forward(x) = server_half(device_half(x))``; ``decoder`` for the autoencoder stage."""

    feature_rate = 16_000

    def __init__(self, n_users: int, deep_voice_index: int | None = None, message_dtype: str = "float16") -> None:
        super().__init__()
        if n_users < 1:
            raise ValueError("DeepDetection needs at least one enrolled user")
        self.n_users = int(n_users)
        self.deep_voice_index = self.n_users if deep_voice_index is None else int(deep_voice_index)
        if self.deep_voice_index != self.n_users:
            raise ValueError(f"the deep-voice class is the last one (index {self.n_users}), not "
                             f"{self.deep_voice_index}")
        self.message_dtype = message_dtype
        self.device_half = Encoder()
        self.decoder = Decoder()
        self.server_half = Classifier(self.n_users + 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.server_half(self.device_half(x))

    def encode_with_indices(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(features (B, 8, 163), pooling indices): what the decoder needs to invert the encoder."""
        return self.device_half.encode_with_indices(x)

    def decode(self, features: torch.Tensor, indices: torch.Tensor | None = None) -> torch.Tensor:
        """(B, 1000) slices reconstructed from features (and the pooling indices, if known)."""
        return self.decoder(features, indices)[:, 0]

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """The autoencoder: (B, 1000) -> (B, 1000)."""
        return self.decode(*self.encode_with_indices(x))

    def window_scores(self, logits: torch.Tensor) -> torch.Tensor:
        """Per slice: the softmax probability of the deep-voice class (higher = fake)."""
        return torch.softmax(logits.float(), dim=1)[:, self.deep_voice_index]


def classifier_params(n_users: int) -> int:
    """Parameters of the classifier: 124,104 + 65 (n_users + 1)."""
    convs = sum(cin * cout * 15 + cout for cin, cout in ((8, 32), (32, 64), (64, 32), (32, 8)))
    return convs + (856 * 64 + 64) + 65 * (n_users + 1)


ENCODER_PARAMS = (1 * 16 * 13 + 16) + (16 * 8 * 11 + 8)  # 1,640
DECODER_PARAMS = (8 * 16 * 11 + 16) + (16 * 1 * 13 + 1)  # 1,633
