"""bench serve's ONNX export writes some layers the way ONNX Runtime runs fastest: the same outputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.serve.onnx_backend import Conv1dAs2d, GroupNormAsInstanceNorm, OnnxModule, for_onnx_runtime


class _Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv1d(1, 8, 10, stride=5, bias=False)
        self.norm = torch.nn.GroupNorm(8, 8)  # one group per channel, affine: an instance norm
        self.grouped = torch.nn.utils.parametrizations.weight_norm(
            torch.nn.Conv1d(8, 8, 4, padding=2, groups=2, dilation=2), dim=2)
        self.coarse = torch.nn.GroupNorm(2, 8)  # two groups: left as it is
        self.same = torch.nn.Conv1d(8, 4, 3, padding="same")  # a string padding: computed by the Conv1d itself

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.nn.functional.gelu(self.norm(self.conv(x[:, None])))
        return self.same(self.coarse(self.grouped(h))).mean(dim=2)


def test_rewritten_layers_give_the_same_outputs_and_leave_the_module_alone():
    torch.manual_seed(0)
    net = _Net().eval()
    with torch.no_grad():  # a non-trivial affine, so that dropping it would show
        net.norm.weight.uniform_(0.5, 2.0)
        net.norm.bias.uniform_(-1.0, 1.0)
    fast = for_onnx_runtime(net)
    assert isinstance(fast.conv, Conv1dAs2d) and isinstance(fast.norm, GroupNormAsInstanceNorm)
    assert isinstance(fast.coarse, torch.nn.GroupNorm) and isinstance(net.conv, torch.nn.Conv1d)
    x = torch.randn(3, 4000)
    with torch.no_grad():
        want = net(x)
        assert torch.allclose(fast(x), want, atol=1e-5, rtol=1e-5)
        got = OnnxModule(net, x)(torch.cat([x, x[:1]]))  # exported with a dynamic batch
    np.testing.assert_allclose(got.numpy()[:3], want.numpy(), atol=1e-5, rtol=1e-4)
    np.testing.assert_allclose(got.numpy()[3], want.numpy()[0], atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("affine", [True, False])
def test_only_a_per_channel_group_norm_with_an_affine_becomes_an_instance_norm(affine):
    net = torch.nn.Sequential(torch.nn.GroupNorm(4, 4, affine=affine))
    assert isinstance(for_onnx_runtime(net)[0], GroupNormAsInstanceNorm) == affine
