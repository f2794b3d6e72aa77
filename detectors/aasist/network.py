"""Standalone PyTorch implementation of AASIST and AASIST-L.

Reference
---------
J. Jung, H.-S. Heo, H. Tak, H. Shim, J. S. Chung, B.-J. Lee, H.-J. Yu,
N. Evans, "AASIST: Audio Anti-Spoofing using Integrated Spectro-Temporal
Graph Attention Networks", ICASSP 2022.  Official code (MIT licence):
https://github.com/clovaai/aasist (models/AASIST.py).

This module is bench's re-implementation, written from the paper and the official
code.  Module and parameter names follow the official model exactly, so the
published checkpoints (``AASIST.pth``, ``AASIST-L.pth``) load with
``load_state_dict(..., strict=True)`` and give the same logits.

Pipeline (shapes for the default config and a 64,600-sample input)::

    waveform (B, 64600)
      -> fixed mel-spaced sinc band-pass bank, 70 filters x 129 taps  (B, 70, 64472)
      -> |.|, 3x3 max-pool, BatchNorm, SELU                            (B, 1, 23, 21490)
      -> 6 residual blocks (2-D conv, max-pool (1,3) along time)       (B, 64, 23, 29)
      -> spectral graph  : max|.| over time  + positional emb -> GAT   23 nodes
         temporal graph  : max|.| over freq                   -> GAT   29 nodes
      -> graph pooling, two parallel branches of two heterogeneous
         (spectro-temporal) GAT layers with a learnable master node
      -> element-wise max of the branches, readout
         [max|T|, mean T, max|S|, mean S, master]  (B, 5 * gat_dims[1])
      -> linear -> logits (B, 2); index 1 = bona fide, index 0 = spoof.

Only ``torch``, ``math`` and (for the official filter construction) ``numpy`` are
imported (no torchaudio); the sinc filters live on the input's device.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "AASIST",
    "AASIST_CONFIG",
    "AASIST_L_CONFIG",
    "MIN_SAMPLES",
    "NB_SAMP",
    "SAMPLE_RATE",
    "SINC_FILTERS",
    "build_aasist",
    "min_num_samples",
]

#: Sampling rate the model was trained at (Hz).
SAMPLE_RATE = 16000
#: Training / evaluation crop length of the official recipe: 64,600 samples
#: (~4.04 s at 16 kHz).
NB_SAMP = 64600

# ---------------------------------------------------------------------------
# Presets.  Values copied from the "model_config" block of the official
# configuration files of clovaai/aasist (commit a04c986):
#   config/AASIST.conf   -> AASIST_CONFIG   (checkpoint models/weights/AASIST.pth)
#   config/AASIST-L.conf -> AASIST_L_CONFIG (checkpoint models/weights/AASIST-L.pth)
# Key names are the official ones ("architecture" is omitted: it only selects
# the model class in the official main.py).
# ---------------------------------------------------------------------------
AASIST_CONFIG: dict[str, object] = {
    "nb_samp": 64600,       # AASIST.conf model_config.nb_samp
    "first_conv": 128,      # AASIST.conf model_config.first_conv (sinc taps; made odd -> 129)
    "filts": [70, [1, 32], [32, 32], [32, 64], [64, 64]],  # AASIST.conf model_config.filts
    "gat_dims": [64, 32],   # AASIST.conf model_config.gat_dims
    "pool_ratios": [0.5, 0.7, 0.5, 0.5],        # AASIST.conf model_config.pool_ratios
    "temperatures": [2.0, 2.0, 100.0, 100.0],   # AASIST.conf model_config.temperatures
}

AASIST_L_CONFIG: dict[str, object] = {
    "nb_samp": 64600,       # AASIST-L.conf model_config.nb_samp
    "first_conv": 128,      # AASIST-L.conf model_config.first_conv
    "filts": [70, [1, 32], [32, 32], [32, 24], [24, 24]],  # AASIST-L.conf model_config.filts
    "gat_dims": [24, 32],   # AASIST-L.conf model_config.gat_dims
    "pool_ratios": [0.4, 0.5, 0.7, 0.5],        # AASIST-L.conf model_config.pool_ratios
    "temperatures": [2.0, 2.0, 100.0, 100.0],   # AASIST-L.conf model_config.temperatures
}


# ---------------------------------------------------------------------------
# Sinc front end
# ---------------------------------------------------------------------------
def _hz_to_mel(hz: torch.Tensor) -> torch.Tensor:
    """HTK-style mel scale: 2595 * log10(1 + f / 700)."""
    return 2595.0 * torch.log10(1.0 + hz / 700.0)


def _mel_to_hz(mel: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`_hz_to_mel`."""
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


#: How the fixed sinc filters are built: ``float64`` (bench's default: computed in float64, rounded to float32
#: once) or ``official`` (the official code's construction, whose sinc runs in float32: the filters differ by up
#: to 1.5e-7, the logits by up to about 1e-5; needed to reproduce the official scores of a published checkpoint).
SINC_FILTERS = ("float64", "official")


def sinc_filterbank(n_filters: int, kernel_size: int, sample_rate: int = SAMPLE_RATE,
                    construction: str = "float64") -> torch.Tensor:
    """Fixed (non-learnable) mel-spaced band-pass sinc filters.

    The band edges are ``n_filters + 1`` points equally spaced on the mel
    scale between 0 Hz and Nyquist; filter ``i`` is the difference of two
    ideal low-pass sinc responses (cut-offs ``edge[i+1]`` and ``edge[i]``)
    multiplied by a symmetric Hamming window.  Computed in float64 and
    returned as float32 of shape ``(n_filters, kernel_size)``.
    ``kernel_size`` must be odd (symmetric filters). ``construction="official"``
    returns :func:`official_sinc_filterbank` instead.
    """
    if kernel_size % 2 != 1:
        raise ValueError("kernel_size must be odd")
    if construction not in SINC_FILTERS:
        raise ValueError(f"sinc_filters must be one of {', '.join(SINC_FILTERS)}, not {construction!r}")
    if construction == "official":
        return official_sinc_filterbank(n_filters, kernel_size, sample_rate)
    dt, cpu = torch.float64, "cpu"  # fixed filters: computed on the CPU even under a `meta` device context
    nyquist = sample_rate // 2
    # The official code evaluates the mel scale on a 257-point grid (NFFT=512)
    # and takes its min / max, i.e. mel(0 Hz) and mel(Nyquist).
    mel_lo = _hz_to_mel(torch.tensor(0.0, dtype=dt, device=cpu))
    mel_hi = _hz_to_mel(torch.tensor(float(nyquist), dtype=dt, device=cpu))
    edges = _mel_to_hz(torch.linspace(float(mel_lo), float(mel_hi), n_filters + 1, dtype=dt, device=cpu))
    half = (kernel_size - 1) // 2
    t = torch.arange(-half, half + 1, dtype=dt, device=cpu)          # (K,)
    f = edges[:, None] / sample_rate                                 # normalised cut-offs
    lowpass = 2.0 * f * torch.sinc(2.0 * f * t[None, :])             # (n_filters+1, K)
    bandpass = lowpass[1:] - lowpass[:-1]                            # (n_filters, K)
    window = torch.hamming_window(kernel_size, periodic=False, dtype=dt, device=cpu)
    return (bandpass * window).to(torch.float32)


def official_sinc_filterbank(n_filters: int, kernel_size: int, sample_rate: int = SAMPLE_RATE) -> torch.Tensor:
    """The same filters, built with the precision of each step of the official ``CONV`` layer (clovaai/aasist
    ``models/AASIST.py``, run under NumPy 2): band edges in float64 (the mel scale's ends taken from a
    257-point frequency grid), the sinc argument and ``np.sinc`` in float32, the low-pass gain product and the
    band-pass difference in float64, rounded to float32 and multiplied by the float32 Hamming window. Bit for
    bit equal to the official filters (tests/test_aasist_official.py)."""
    import numpy as np

    grid = (sample_rate // 2) * np.linspace(0.0, 1.0, 257)          # NFFT = 512
    mel = 2595.0 * np.log10(1.0 + grid / 700.0)
    edges = 700.0 * (10.0 ** (np.linspace(mel.min(), mel.max(), n_filters + 1) / 2595.0) - 1.0)
    half = (kernel_size - 1) // 2
    t = np.arange(-half, half + 1, dtype=np.float32)
    sr32 = np.float32(sample_rate)

    def lowpass(cut: np.float64) -> np.ndarray:                     # float64 gain x float32 sinc -> float64
        return np.float64(2 * cut / sample_rate) * np.sinc(t * np.float32(2 * cut) / sr32)

    window = np.hamming(kernel_size).astype(np.float32)
    rows = [window * (lowpass(edges[i + 1]) - lowpass(edges[i])).astype(np.float32) for i in range(n_filters)]
    return torch.from_numpy(np.stack(rows))


class SincConv(nn.Module):
    """Fixed sinc band-pass filter bank applied as a 1-D convolution.

    Has no trainable parameters.  The filters are kept in a *non-persistent*
    buffer ``band_pass`` (so they follow ``.to(device)`` but are not part of
    the state_dict, matching the official checkpoints) and are moved/cast to
    the input's device and dtype at every call, so the layer works on CUDA.

    Training-only augmentation: when ``freq_aug=True`` *and* the module is in
    training mode, a random contiguous block of 0..19 filters is zeroed
    ("frequency masking", official ``Freq_aug``).  In eval mode the layer is
    deterministic whatever ``freq_aug`` says.
    """

    def __init__(self, out_channels: int, kernel_size: int,
                 sample_rate: int = SAMPLE_RATE, in_channels: int = 1,
                 stride: int = 1, padding: int = 0, dilation: int = 1, construction: str = "float64"):
        super().__init__()
        if in_channels != 1:
            raise ValueError(f"SincConv needs a single input channel, got {in_channels}")
        if kernel_size % 2 == 0:  # symmetric filters need an odd length
            kernel_size += 1
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.sample_rate = sample_rate
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.register_buffer("band_pass",
                             sinc_filterbank(out_channels, kernel_size, sample_rate, construction),
                             persistent=False)

    def filters(self, x: torch.Tensor, freq_aug: bool = False) -> torch.Tensor:
        """Filter weights ``(out_channels, 1, kernel_size)`` on ``x``'s device/dtype."""
        w = self.band_pass.to(device=x.device, dtype=x.dtype)
        if freq_aug and self.training:
            width = int(torch.randint(0, 20, ()).item())           # 0..19 filters
            start = int(torch.randint(0, self.out_channels - width + 1, ()).item())
            w = w.clone()
            w[start:start + width] = 0.0
        return w.unsqueeze(1)

    def forward(self, x: torch.Tensor, freq_aug: bool = False) -> torch.Tensor:
        """x: ``(B, 1, T)`` -> ``(B, out_channels, T')``."""
        return F.conv1d(x, self.filters(x, freq_aug), stride=self.stride,
                        padding=self.padding, dilation=self.dilation)

    def mac_count(self, inputs, output) -> int:
        """Direct convolution: ``kernel_size`` MACs per output sample and filter (for bench.serve.compute_floor)."""
        return output.numel() * self.kernel_size

    def extra_repr(self) -> str:
        return (f"out_channels={self.out_channels}, kernel_size={self.kernel_size}, "
                f"sample_rate={self.sample_rate}")


# ---------------------------------------------------------------------------
# Encoder
# ---------------------------------------------------------------------------
class Residual_block(nn.Module):  # official class name kept
    """2-D residual block: conv(2x3) -> BN -> SELU -> conv(2x3) (+ skip) -> max-pool(1,3).

    The first conv pads the frequency axis by one and the second removes it
    again, so the frequency size is preserved; time shrinks 3x in the pool.
    A 1x3 conv projects the skip path when the channel count changes.

    Note on ``bn1``: in the official code the pre-activation ``bn1 -> SELU``
    is computed and then overwritten (``out = self.conv1(x)``), so it never
    influences the output; the released weights were trained that way.  The
    module is kept (its statistics are in the checkpoints) but not evaluated.
    """

    def __init__(self, nb_filts: Sequence[int], first: bool = False):
        super().__init__()
        c_in, c_out = int(nb_filts[0]), int(nb_filts[1])
        self.first = first
        if not first:
            self.bn1 = nn.BatchNorm2d(c_in)  # unused in forward, see class doc
        self.conv1 = nn.Conv2d(c_in, c_out, kernel_size=(2, 3), padding=(1, 1), stride=1)
        self.selu = nn.SELU(inplace=True)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, kernel_size=(2, 3), padding=(0, 1), stride=1)
        self.downsample = c_in != c_out
        if self.downsample:
            self.conv_downsample = nn.Conv2d(c_in, c_out, kernel_size=(1, 3),
                                             padding=(0, 1), stride=1)
        self.mp = nn.MaxPool2d((1, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(self.selu(self.bn2(self.conv1(x))))
        skip = self.conv_downsample(x) if self.downsample else x
        return self.mp(out + skip)


# ---------------------------------------------------------------------------
# Graph layers
# ---------------------------------------------------------------------------
def _xavier_param(*size: int) -> nn.Parameter:
    p = nn.Parameter(torch.empty(*size))
    nn.init.xavier_normal_(p)
    return p


def _node_bn(bn: nn.BatchNorm1d, x: torch.Tensor) -> torch.Tensor:
    """BatchNorm over the feature dim of a node tensor ``(B, N, D)``."""
    b, n, d = x.shape
    return bn(x.reshape(b * n, d)).reshape(b, n, d)


class GraphAttentionLayer(nn.Module):
    """Homogeneous graph attention layer on a fully connected graph.

    For nodes ``h_i`` the edge score is ``w^T tanh(W_a (h_i * h_j)) / temp``,
    normalised by a softmax over neighbours ``j``.  Output:
    ``SELU(BN(W_1 sum_j a_ij h_j + W_2 h_i))``.  Input dropout p=0.2 (training only).
    """

    def __init__(self, in_dim: int, out_dim: int, temperature: float = 1.0):
        super().__init__()
        self.att_proj = nn.Linear(in_dim, out_dim)
        self.att_weight = _xavier_param(out_dim, 1)
        self.proj_with_att = nn.Linear(in_dim, out_dim)
        self.proj_without_att = nn.Linear(in_dim, out_dim)
        self.bn = nn.BatchNorm1d(out_dim)
        self.input_drop = nn.Dropout(p=0.2)
        self.act = nn.SELU(inplace=True)
        self.temp = float(temperature)

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, N, D)`` -> attention matrix ``(B, N, N)``, rows sum to one."""
        pair = x.unsqueeze(2) * x.unsqueeze(1)                        # (B, N, N, D)
        score = torch.matmul(torch.tanh(self.att_proj(pair)), self.att_weight)
        return torch.softmax(score.squeeze(-1) / self.temp, dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.input_drop(x)
        att = self.attention(x)
        out = self.proj_with_att(torch.matmul(att, x)) + self.proj_without_att(x)
        return self.act(_node_bn(self.bn, out))


class HtrgGraphAttentionLayer(nn.Module):
    """Heterogeneous (spectro-temporal) graph attention layer with a master node.

    The two node types are first projected separately and concatenated.
    Edge scores use one of three attention vectors depending on the edge type
    (type1-type1: ``att_weight11``, type2-type2: ``att_weight22``, mixed:
    ``att_weight12``).  A master node attends to all nodes (``att_projM``,
    ``att_weightM``) and is updated with its own projections; it receives no
    messages back to the other nodes.  Returns the updated type-1 nodes,
    type-2 nodes and master node.
    """

    def __init__(self, in_dim: int, out_dim: int, temperature: float = 1.0):
        super().__init__()
        self.proj_type1 = nn.Linear(in_dim, in_dim)
        self.proj_type2 = nn.Linear(in_dim, in_dim)
        self.att_proj = nn.Linear(in_dim, out_dim)
        self.att_projM = nn.Linear(in_dim, out_dim)
        self.att_weight11 = _xavier_param(out_dim, 1)
        self.att_weight22 = _xavier_param(out_dim, 1)
        self.att_weight12 = _xavier_param(out_dim, 1)
        self.att_weightM = _xavier_param(out_dim, 1)
        self.proj_with_att = nn.Linear(in_dim, out_dim)
        self.proj_without_att = nn.Linear(in_dim, out_dim)
        self.proj_with_attM = nn.Linear(in_dim, out_dim)
        self.proj_without_attM = nn.Linear(in_dim, out_dim)
        self.bn = nn.BatchNorm1d(out_dim)
        self.input_drop = nn.Dropout(p=0.2)
        self.act = nn.SELU(inplace=True)
        self.temp = float(temperature)

    def attention(self, x: torch.Tensor, n1: int) -> torch.Tensor:
        """Node-to-node attention ``(B, N, N)``; the first ``n1`` nodes are type 1."""
        n = x.size(1)
        pair = torch.tanh(self.att_proj(x.unsqueeze(2) * x.unsqueeze(1)))   # (B, N, N, D)
        # scores under the three edge-type vectors, columns: 11, 12, 22
        w = torch.cat([self.att_weight11, self.att_weight12, self.att_weight22], dim=1)
        scores = torch.matmul(pair, w)                                       # (B, N, N, 3)
        node_type = (torch.arange(n, device=x.device) >= n1).long()        # 0 / 1
        edge_type = node_type[:, None] + node_type[None, :]                 # 0, 1, 2
        idx = edge_type.view(1, n, n, 1).expand(x.size(0), n, n, 1)
        score = scores.gather(-1, idx).squeeze(-1)
        return torch.softmax(score / self.temp, dim=-1)

    def master_attention(self, x: torch.Tensor, master: torch.Tensor) -> torch.Tensor:
        """Master-to-node attention ``(B, 1, N)``."""
        score = torch.matmul(torch.tanh(self.att_projM(x * master)), self.att_weightM)
        return torch.softmax(score / self.temp, dim=1).transpose(1, 2)

    def forward(self, x1: torch.Tensor, x2: torch.Tensor,
                master: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        n1, n2 = x1.size(1), x2.size(1)
        x = torch.cat([self.proj_type1(x1), self.proj_type2(x2)], dim=1)
        if master is None:
            master = x.mean(dim=1, keepdim=True)
        x = self.input_drop(x)

        # master node update (uses the nodes before this layer's update)
        att_m = self.master_attention(x, master)
        master = self.proj_with_attM(torch.matmul(att_m, x)) + self.proj_without_attM(master)

        att = self.attention(x, n1)
        out = self.proj_with_att(torch.matmul(att, x)) + self.proj_without_att(x)
        out = self.act(_node_bn(self.bn, out))
        return out[:, :n1], out[:, n1:n1 + n2], master


class GraphPool(nn.Module):
    """Graph pooling: keep the top ``max(int(N * k), 1)`` nodes by a learned score.

    Scores are ``sigmoid(w^T h + b)``; the kept nodes are gated by their score
    (``h * score``) and returned in descending score order.  Dropout ``p`` on
    the scorer input is training only.
    """

    def __init__(self, k: float, in_dim: int, p: float):
        super().__init__()
        self.k = k
        self.in_dim = in_dim
        self.sigmoid = nn.Sigmoid()
        self.proj = nn.Linear(in_dim, 1)
        self.drop = nn.Dropout(p=p) if p > 0 else nn.Identity()

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        scores = self.sigmoid(self.proj(self.drop(h)))                # (B, N, 1)
        n_keep = max(int(h.size(1) * self.k), 1)
        _, idx = torch.topk(scores, n_keep, dim=1)
        return torch.gather(h * scores, 1, idx.expand(-1, -1, h.size(2)))


# ---------------------------------------------------------------------------
# Full model
# ---------------------------------------------------------------------------
class AASIST(nn.Module):
    """AASIST spoofing counter-measure (AASIST or AASIST-L depending on the config).

    Args:
        filts: ``[n_sinc, [c_in, c_out] x 4]``: number of sinc filters and the
            channel pairs of the residual blocks (the 4th pair is reused for
            blocks 5 and 6).
        gat_dims: ``[d_gat, d_htrg]``: output dims of the spectral/temporal
            GAT layers and of the heterogeneous layers.
        pool_ratios: node keep ratios; ``[0]`` spectral pool, ``[1]`` temporal
            pool, ``[2]`` all four pools after the heterogeneous layers.
            ``[3]`` is unused (as in the official code).
        temperatures: softmax temperatures; ``[0]`` GAT-S, ``[1]`` GAT-T,
            ``[2]`` all heterogeneous layers.  ``[3]`` is unused (as official).
        first_conv: sinc filter length (rounded up to odd: 128 -> 129 taps).
        nb_samp: the input length the model was trained on (64,600); stored
            for reference only, the forward pass does not crop or pad.
        sinc_filters: how the fixed sinc filters are built (:data:`SINC_FILTERS`):
            ``float64`` (default) or ``official`` (the official code's float32
            construction, to reproduce a published checkpoint's scores exactly).
            The filters are not in the state_dict: both load the same weights.

    Input: ``(batch, samples)`` float waveform at 16 kHz, nominally
    ``nb_samp = 64,600`` samples (4.04 s), the official training/eval crop
    (the official data loader tiles shorter files and keeps the first
    64,600 samples of longer ones; the model itself does not crop or pad).
    Other lengths run as well: the spectral graph always has
    ``filts[0] // 3`` (= 23) nodes, while the temporal graph has
    ``floor((T - K + 1) / 3**7)`` nodes for ``K`` sinc taps (29 for 64,600,
    7 for 16,000 samples), so scores depend on the length and are only
    calibrated for 64,600.  Inputs shorter than :data:`MIN_SAMPLES` (2,315
    samples for a 129-tap sinc) fail because a max-pool runs out of frames.

    Output: logits ``(batch, 2)``; index 1 = bona fide, index 0 = spoof
    (the official score is ``logits[:, 1]``).

    Stochastic parts (all training-only): dropout in every GAT layer
    (p=0.2), in every graph pool (p=0.3), on the branch outputs
    (``drop_way``, p=0.2) and on the final embedding (``drop``, p=0.5),
    and optional sinc frequency masking (``freq_aug=True``).  In eval mode
    the forward pass is deterministic and consumes no random numbers.
    """

    def __init__(self, *, filts: Sequence, gat_dims: Sequence[int],
                 pool_ratios: Sequence[float], temperatures: Sequence[float],
                 first_conv: int = 128, nb_samp: int = NB_SAMP, sinc_filters: str = "float64"):
        super().__init__()
        filts = [filts[0]] + [list(f) for f in filts[1:]]
        self.filts = filts
        self.gat_dims = list(gat_dims)
        self.pool_ratios = list(pool_ratios)
        self.temperatures = list(temperatures)
        self.first_conv = first_conv
        self.nb_samp = nb_samp
        n_spec = filts[0] // 3          # spectral nodes after the 3x3 max-pool (70 -> 23)
        d_enc = filts[-1][-1]
        d_gat, d_htrg = self.gat_dims

        self.sinc_filters = sinc_filters
        self.conv_time = SincConv(out_channels=filts[0], kernel_size=first_conv, in_channels=1,
                                  construction=sinc_filters)
        self.first_bn = nn.BatchNorm2d(num_features=1)
        self.drop = nn.Dropout(0.5, inplace=True)
        self.drop_way = nn.Dropout(0.2, inplace=True)
        self.selu = nn.SELU(inplace=True)

        # Official layout: each block wrapped in its own nn.Sequential (keys encoder.i.0.*).
        self.encoder = nn.Sequential(
            nn.Sequential(Residual_block(filts[1], first=True)),
            nn.Sequential(Residual_block(filts[2])),
            nn.Sequential(Residual_block(filts[3])),
            nn.Sequential(Residual_block(filts[4])),
            nn.Sequential(Residual_block(filts[4])),
            nn.Sequential(Residual_block(filts[4])),
        )

        self.pos_S = nn.Parameter(torch.randn(1, n_spec, d_enc))   # spectral positional emb.
        self.master1 = nn.Parameter(torch.randn(1, 1, d_gat))
        self.master2 = nn.Parameter(torch.randn(1, 1, d_gat))

        t = self.temperatures
        self.GAT_layer_S = GraphAttentionLayer(d_enc, d_gat, temperature=t[0])
        self.GAT_layer_T = GraphAttentionLayer(d_enc, d_gat, temperature=t[1])
        self.HtrgGAT_layer_ST11 = HtrgGraphAttentionLayer(d_gat, d_htrg, temperature=t[2])
        self.HtrgGAT_layer_ST12 = HtrgGraphAttentionLayer(d_htrg, d_htrg, temperature=t[2])
        self.HtrgGAT_layer_ST21 = HtrgGraphAttentionLayer(d_gat, d_htrg, temperature=t[2])
        self.HtrgGAT_layer_ST22 = HtrgGraphAttentionLayer(d_htrg, d_htrg, temperature=t[2])

        r = self.pool_ratios
        self.pool_S = GraphPool(r[0], d_gat, 0.3)
        self.pool_T = GraphPool(r[1], d_gat, 0.3)
        self.pool_hS1 = GraphPool(r[2], d_htrg, 0.3)
        self.pool_hT1 = GraphPool(r[2], d_htrg, 0.3)
        self.pool_hS2 = GraphPool(r[2], d_htrg, 0.3)
        self.pool_hT2 = GraphPool(r[2], d_htrg, 0.3)

        self.out_layer = nn.Linear(5 * d_htrg, 2)

    # -- helpers ----------------------------------------------------------
    def _branch(self, out_T, out_S, master, layer_a, layer_b, pool_S, pool_T):
        """One inference branch: heterogeneous GAT, pool, second GAT with residual."""
        t, s, m = layer_a(out_T, out_S, master=master)
        s, t = pool_S(s), pool_T(t)
        t_aug, s_aug, m_aug = layer_b(t, s, master=m)
        return t + t_aug, s + s_aug, m + m_aug

    def embed(self, x: torch.Tensor, freq_aug: bool = False) -> torch.Tensor:
        """Waveform ``(B, T)`` -> readout embedding ``(B, 5 * gat_dims[1])`` (before dropout)."""
        if x.dim() != 2:
            raise ValueError(f"expected a (batch, samples) waveform, got shape {tuple(x.shape)}")
        x = self.conv_time(x.unsqueeze(1), freq_aug=freq_aug)       # (B, F, T')
        x = F.max_pool2d(torch.abs(x).unsqueeze(1), (3, 3))          # (B, 1, F/3, T'/3)
        x = self.selu(self.first_bn(x))
        e = self.encoder(x).abs()                                   # (B, C, S, T)

        e_S = e.amax(dim=3).transpose(1, 2) + self.pos_S            # (B, S, C)
        out_S = self.pool_S(self.GAT_layer_S(e_S))
        e_T = e.amax(dim=2).transpose(1, 2)                         # (B, T, C)
        out_T = self.pool_T(self.GAT_layer_T(e_T))

        b = x.size(0)
        T1, S1, M1 = self._branch(out_T, out_S, self.master1.expand(b, -1, -1),
                                  self.HtrgGAT_layer_ST11, self.HtrgGAT_layer_ST12,
                                  self.pool_hS1, self.pool_hT1)
        T2, S2, M2 = self._branch(out_T, out_S, self.master2.expand(b, -1, -1),
                                  self.HtrgGAT_layer_ST21, self.HtrgGAT_layer_ST22,
                                  self.pool_hS2, self.pool_hT2)
        T1, T2, S1, S2, M1, M2 = (self.drop_way(z) for z in (T1, T2, S1, S2, M1, M2))
        out_T, out_S, master = torch.maximum(T1, T2), torch.maximum(S1, S2), torch.maximum(M1, M2)

        return torch.cat([out_T.abs().amax(dim=1), out_T.mean(dim=1),
                          out_S.abs().amax(dim=1), out_S.mean(dim=1),
                          master.squeeze(1)], dim=1)

    def forward(self, x: torch.Tensor, freq_aug: bool = True, return_hidden: bool = False
                ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Waveform ``(B, T)`` at 16 kHz -> logits ``(B, 2)`` (index 1 = bona fide).

        ``freq_aug`` enables sinc frequency masking, in training mode only (on by default, as the official
        recipe trains; eval mode ignores it).
        With ``return_hidden=True`` returns ``(hidden, logits)`` like the
        official model (``hidden`` after the training-only dropout).
        """
        hidden = self.drop(self.embed(x, freq_aug=freq_aug))
        logits = self.out_layer(hidden)
        return (hidden, logits) if return_hidden else logits


def build_aasist(config: dict[str, object]) -> AASIST:
    """Build from a config dict (official ``model_config`` keys; extra keys ignored)."""
    keys = ("filts", "gat_dims", "pool_ratios", "temperatures", "first_conv", "nb_samp", "sinc_filters")
    return AASIST(**{k: config[k] for k in keys if k in config})


def min_num_samples(first_conv: int = 128, n_blocks: int = 6) -> int:
    """Shortest input that survives the 3x max-pool and the ``n_blocks`` (1,3) pools."""
    k = first_conv + 1 if first_conv % 2 == 0 else first_conv
    return 3 * 3 ** n_blocks + k - 1


#: Shortest accepted input for the official configs (2,315 samples).
MIN_SAMPLES = min_num_samples(128)
