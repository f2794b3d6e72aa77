"""DevoX's detector network: wav2vec 2.0 on 8 kHz audio, cut after the convolutional feature encoder.

Built from ``transformers``' wav2vec 2.0 modules (``Wav2Vec2ForPreTraining``, so that its
initialisation, and weights loaded from a local checkpoint, are the library's):

- ``device_half`` (:class:`DeviceHalf`, the phone): 16 kHz -> 8 kHz (a windowed-sinc low-pass and
  2:1 decimation), zero-mean unit-variance normalisation per window (what wav2vec 2.0's feature
  extractor does), and the 7-layer convolutional feature encoder: (B, N) -> (B, C, T), one frame
  per 320 samples at 8 kHz (40 ms hops; 24 frames for one second), C = the last conv layer's width.
- ``server_half`` (:class:`ServerHalf`, the edge): feature projection, time masking with the learned
  mask embedding (training only), the transformer encoder, and the classifier (projection, mean
  pooling over time, linear layer; as ``Wav2Vec2ForSequenceClassification``). During training the
  Gumbel vector quantiser turns the unmasked features into codebook entries and a contrastive loss
  trains the transformer's outputs at masked steps to pick them out among distractors (wav2vec
  2.0's pre-training objective, plus its codebook-diversity term): DevoX Sec. III.D's "feature
  quantization layer [that] selects and masks crucial information [...] learning against the
  transformer block output, creating a dictionary". It is added to the classification loss with
  weight ``contrastive_weight`` (0 turns it off); at inference the quantiser is not used.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

#: transformers' Wav2Vec2Config defaults are wav2vec 2.0 base (95 M parameters); the small one trains on 2 CPU cores
BASE: dict[str, Any] = {}
SMALL: dict[str, Any] = {
    "conv_dim": [64] * 7, "hidden_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
    "intermediate_size": 256, "num_conv_pos_embeddings": 16, "num_conv_pos_embedding_groups": 4,
    "num_codevector_groups": 2, "num_codevectors_per_group": 32, "codevector_dim": 64, "proj_codevector_dim": 64,
    "num_negatives": 10, "mask_time_length": 4,
}
COMMON: dict[str, Any] = {"mask_time_prob": 0.2, "mask_time_min_masks": 2, "feat_extract_norm": "group",
                          "do_stable_layer_norm": False}


def wav2vec2_config(overrides: dict[str, Any]) -> Any:
    from transformers import Wav2Vec2Config

    cfg = Wav2Vec2Config(**{**COMMON, **overrides})
    cfg._attn_implementation = "eager"  # the same arithmetic on every machine (sdpa may pick other kernels)
    return cfg


def halfband_filter(taps: int = 63) -> np.ndarray:
    """A windowed-sinc low-pass (Hann) with its cut-off at a quarter of the input rate (3.6 kHz of 16 kHz, a bit
    below the 4 kHz Nyquist of 8 kHz), unit gain at DC."""
    n = np.arange(taps) - (taps - 1) / 2
    fc = 0.225  # cycles per input sample: 3.6 kHz at 16 kHz
    h = 2 * fc * np.sinc(2 * fc * n) * np.hanning(taps + 2)[1:-1]
    return (h / h.sum()).astype(np.float32)


class DeviceHalf(nn.Module):
    """What the phone runs: 16 kHz windows -> 8 kHz -> normalised -> conv feature encoder."""

    def __init__(self, feature_extractor: nn.Module, in_rate: int = 16_000, rate: int = 8_000) -> None:
        super().__init__()
        if in_rate % rate:
            raise ValueError("the device half decimates by an integer factor")
        self.factor = in_rate // rate
        self.feature_extractor = feature_extractor
        self.register_buffer("lowpass", torch.from_numpy(halfband_filter()).view(1, 1, -1), persistent=False)
        self.register_buffer("block_lowpass", block_filter(halfband_filter(), self.factor), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.factor > 1:
            x = decimate(x, self.block_lowpass, self.lowpass.shape[-1], self.factor)
        x = (x - x.mean(dim=1, keepdim=True)) / torch.sqrt(x.var(dim=1, keepdim=True) + 1e-7)
        return self.feature_extractor(x)


#: outputs per block in :func:`decimate`
DECIMATE_BLOCK = 32


def block_filter(h: np.ndarray, factor: int, block: int = DECIMATE_BLOCK) -> torch.Tensor:
    """The FIR ``h`` rearranged for :func:`decimate`: weights (block, factor * block, taps) of a convolution
    over blocks of ``factor * block`` input samples that yields ``block`` outputs per block."""
    stride = factor * block
    taps = -(-(factor * (block - 1) + len(h)) // stride)
    w = np.zeros((block, stride, taps), np.float32)
    for m in range(block):
        for k, v in enumerate(h):
            i = factor * m + k
            w[m, i % stride, i // stride] = v
    return torch.from_numpy(w)


def decimate(x: torch.Tensor, w: torch.Tensor, n_taps: int, factor: int) -> torch.Tensor:
    """``conv1d(x[:, None], h, stride=factor, padding=n_taps // 2)[:, 0]`` for (batch, samples) ``x``, computed
    as one dense convolution over blocks of samples (``w`` = :func:`block_filter` of ``h``): the same sums in
    another order (outputs equal to float32 rounding), about 8x faster in ONNX Runtime, whose one-channel strided
    convolution is slow (BENCHMARKS.md, "Capacity")."""
    block, stride, taps = w.shape
    pad = n_taps // 2
    n = x.shape[1]
    n_out = (n + 2 * pad - n_taps) // factor + 1
    n_blocks = -(-n_out // block) + taps - 1
    p = nn.functional.pad(x, (pad, n_blocks * stride - n - pad))
    y = nn.functional.conv1d(p.reshape(x.shape[0], n_blocks, stride).transpose(1, 2), w)
    return y.transpose(1, 2).reshape(x.shape[0], -1)[:, :n_out]


class ServerHalf(nn.Module):
    """What the edge runs: features (B, C, T) -> (B, n_classes) logits; the contrastive term while training."""

    def __init__(self, pt: nn.Module, n_classes: int = 2, contrastive_weight: float = 0.1) -> None:
        super().__init__()
        cfg = pt.config
        self.config = cfg
        self.feature_projection = pt.wav2vec2.feature_projection
        self.masked_spec_embed = pt.wav2vec2.masked_spec_embed
        self.encoder = pt.wav2vec2.encoder
        self.dropout_features = pt.dropout_features
        self.quantizer = pt.quantizer
        self.project_hid = pt.project_hid
        self.project_q = pt.project_q
        self.projector = nn.Linear(cfg.hidden_size, cfg.classifier_proj_size)
        self.classifier = nn.Linear(cfg.classifier_proj_size, n_classes)
        self.contrastive_weight = float(contrastive_weight)
        self.last_aux: torch.Tensor | None = None

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        extract = feats.transpose(1, 2)
        hidden, norm_extract = self.feature_projection(extract)
        mask = self._mask(hidden) if self.training else None
        if mask is not None:
            hidden = hidden.clone()
            hidden[mask] = self.masked_spec_embed.to(hidden.dtype)
        enc = self.encoder(hidden).last_hidden_state
        logits = self.classifier(self.projector(enc).mean(dim=1))
        if mask is not None and self.contrastive_weight > 0:
            self.last_aux = self.contrastive_weight * self._contrastive(enc, norm_extract, mask)
        return logits

    def _mask(self, hidden: torch.Tensor) -> torch.Tensor | None:
        from transformers.models.wav2vec2.modeling_wav2vec2 import _compute_mask_indices

        b, t, _ = hidden.shape
        if t < 2 or self.config.mask_time_prob <= 0:
            return None
        m = _compute_mask_indices((b, t), self.config.mask_time_prob, min(self.config.mask_time_length, t - 1),
                                  min_masks=self.config.mask_time_min_masks)
        return torch.from_numpy(m).to(hidden.device)

    def _contrastive(self, enc: torch.Tensor, norm_extract: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """wav2vec 2.0's contrastive + diversity loss at the masked steps, per masked step."""
        from transformers.models.wav2vec2.modeling_wav2vec2 import _sample_negative_indices

        cfg = self.config
        predicted = self.project_hid(enc)
        q, perplexity = self.quantizer(self.dropout_features(norm_extract), mask_time_indices=mask)
        q = self.project_q(q.to(self.project_q.weight.dtype))
        b, t, h = q.shape
        neg = _sample_negative_indices((b, t), cfg.num_negatives, mask_time_indices=mask.cpu().numpy())
        neg = torch.from_numpy(neg).long().to(q.device)
        negatives = q.reshape(-1, h)[neg.view(-1)].view(b, t, -1, h).permute(2, 0, 1, 3)
        targets = torch.cat([q[None], negatives], dim=0)
        logits = torch.cosine_similarity(predicted.float()[None], targets.float(), dim=-1)
        logits = logits / cfg.contrastive_logits_temperature
        same = (q[None] == negatives).all(-1)
        if same.any():
            logits[1:][same] = float("-inf")
        logits = logits.permute(1, 2, 0).reshape(-1, logits.size(0))
        target = torch.where(mask.flatten(), 0, -100).long()
        n_masked = mask.sum().clamp(min=1)
        contrastive = nn.functional.cross_entropy(logits, target, reduction="sum", ignore_index=-100)
        n_code = cfg.num_codevectors_per_group * cfg.num_codevector_groups
        diversity = (n_code - perplexity) / n_code * n_masked
        return (contrastive + cfg.diversity_loss_weight * diversity) / n_masked


class DevoXNet(nn.Module):
    """The whole model; ``forward = server_half(device_half(x))`` (used in training)."""

    feature_rate = 8_000

    def __init__(self, wav2vec2: dict[str, Any] | None = None, contrastive_weight: float = 0.1,
                 n_classes: int = 2, message_dtype: str = "float16", pretrained_model: Any = None) -> None:
        super().__init__()
        from transformers.models.wav2vec2.modeling_wav2vec2 import Wav2Vec2ForPreTraining

        pt = pretrained_model
        if pt is None:
            pt = Wav2Vec2ForPreTraining(wav2vec2_config(wav2vec2 or {}))
        self.message_dtype = message_dtype
        self.device_half = DeviceHalf(pt.wav2vec2.feature_extractor, rate=self.feature_rate)
        self.server_half = ServerHalf(pt, n_classes, contrastive_weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.server_half(self.device_half(x))

    def auxiliary_loss(self) -> torch.Tensor | None:
        """The contrastive term of the last training forward pass (then cleared)."""
        aux, self.server_half.last_aux = self.server_half.last_aux, None
        return aux

    def frames(self, n_samples_16k: int) -> int:
        """Feature frames the device half makes from ``n_samples_16k`` samples at 16 kHz."""
        n = math.floor((n_samples_16k + 2 * (self.device_half.lowpass.shape[-1] // 2)
                        - self.device_half.lowpass.shape[-1]) / self.device_half.factor) + 1
        cfg = self.server_half.config
        for k, s in zip(cfg.conv_kernel, cfg.conv_stride, strict=True):
            n = (n - k) // s + 1
        return int(n)


def pretrained_wav2vec2(path: str) -> Any:
    """A local wav2vec 2.0 checkpoint folder (``config.json`` + weights, as ``save_pretrained`` writes, e.g. a
    downloaded facebook/wav2vec2-base) loaded as ``Wav2Vec2ForPreTraining``; parts it lacks (the quantiser of a
    fine-tuned CTC model) are freshly initialised. Offline only: a Hub id is not fetched."""
    from transformers.models.wav2vec2.modeling_wav2vec2 import Wav2Vec2ForPreTraining

    return Wav2Vec2ForPreTraining.from_pretrained(path, local_files_only=True, attn_implementation="eager")
