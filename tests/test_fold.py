"""Batch-norm folding: faster steps, the same activations, nothing left changed."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch import nn

from inceptionism.models.fold import find_folds, folded
from inceptionism.models.fuse import fused_forward
from inceptionism.taps import capture


def activations(model, layers, folds):
    saved, model.folds = model.folds, folds
    try:
        with capture(model, layers) as run, torch.no_grad():
            return run(torch.rand(1, 3, 96, 96, generator=torch.Generator().manual_seed(0)))
    finally:
        model.folds = saved


def test_folded_layers_give_the_unfolded_activations(model) -> None:
    assert len(model.folds) > 40  # EfficientNet-Lite0: every conv is followed by a batch norm
    layers = ["blocks.4.1.bn1", "blocks.4.1.conv_pw", "blocks.2.0.bn2"]  # a conv itself, too
    plain, fast = activations(model, layers, []), activations(model, layers, model.folds)
    for name in layers:
        scale = plain[name].abs().max()
        # Folded, conv_pw would output its batch norm's result: far off, not within rounding.
        assert (plain[name] - fast[name]).abs().max() <= 1e-4 * scale, name


def test_the_network_is_restored_after_a_dream(model) -> None:
    conv = model.net.get_submodule("blocks.4.1.conv_pw")
    bn = model.net.get_submodule("blocks.4.1.bn1")
    weight, bias = conv.weight, conv.bias
    with folded(model.net, model.folds, keep=()):
        assert conv.weight is not weight and "forward" in vars(bn)
    assert conv.weight is weight and conv.bias is bias and "forward" not in vars(bn)


class ReadTwice(nn.Module):
    """A convolution whose output is read by its batch norm and by a skip connection."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(3)
        self.bn.running_mean.fill_(0.5)
        self.bn.running_var.fill_(4.0)

    def forward(self, x):
        y = self.conv(x)
        return self.bn(y) + y


def test_a_convolution_read_elsewhere_is_not_folded() -> None:
    net = ReadTwice().eval()
    assert find_folds(net, torch.rand(1, 3, 16, 16), net) == []
    plain = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)).eval()
    plain[1].running_var.fill_(9.0)
    folds = find_folds(plain, torch.rand(1, 3, 16, 16), plain)
    assert [(f.conv, f.bn) for f in folds] == [("0", "1")]


def test_an_interrupt_while_folding_restores_the_network_and_is_not_masked() -> None:
    class Interrupted(nn.BatchNorm2d):  # the interrupt lands after the conv is swapped, before the norm is
        def __setattr__(self, name, value):  # noqa: ANN001
            if name == "forward":
                raise KeyboardInterrupt
            super().__setattr__(name, value)

    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)).eval()
    net[1].running_var.fill_(9.0)
    folds = find_folds(net, torch.rand(1, 3, 16, 16), net)
    assert [(f.conv, f.bn) for f in folds] == [("0", "1")]
    net[1].__class__ = Interrupted
    weight = net[0].weight
    try:
        with folded(net, folds, keep=()):
            raise AssertionError("the fold was applied")
    except KeyboardInterrupt:
        pass
    assert net[0].weight is weight and "forward" not in vars(net[1])


def _step_gradient(model, layers, folds, x):
    saved, model.folds = model.folds, folds
    try:
        with capture(model, layers) as run:
            piece = x.detach().requires_grad_(True)
            acts = run(piece)
            return torch.autograd.grad(sum(a.square().mean() for a in acts.values()), piece)[0]
    finally:
        model.folds = saved


def test_fused_convolutions_give_the_plain_gradient(model) -> None:
    """Folded and fused (conv + ReLU6 in one oneDNN call on a CPU), a step's gradient is the
    unfolded network's to float rounding; the fusion is really in place while dreaming."""
    x = torch.rand(1, 3, 128, 160, generator=torch.Generator().manual_seed(1)).contiguous(memory_format=torch.channels_last)
    layers = ["blocks.4.1", "blocks.5.1"]
    plain, fast = _step_gradient(model, layers, [], x), _step_gradient(model, layers, model.folds, x)
    assert (plain - fast).abs().max() <= 1e-4 * plain.abs().max()
    conv = model.net.get_submodule("blocks.1.0.conv_dw")  # a stride-2 "same" depthwise convolution
    with folded(model.net, model.folds, keep=()):
        assert "forward" in vars(conv) and "forward" in vars(model.net.get_submodule("blocks.2.1.conv_pw"))
    assert "forward" not in vars(conv)


@pytest.fixture
def fused_calls(monkeypatch):
    """How many convolutions ran fused (the custom function's calls)."""
    from inceptionism.models import fuse

    calls = []
    apply = fuse._ConvReLU6.apply
    monkeypatch.setattr(fuse._ConvReLU6, "apply", lambda *a: calls.append(1) or apply(*a))
    return calls


@pytest.mark.parametrize("threads", [1, 2])
def test_a_dream_is_the_same_to_the_bit_with_the_fusion(model, examples, monkeypatch, fused_calls, threads) -> None:
    """Outputs keep their bytes: fused only where PyTorch itself would use oneDNN, the
    recorded avoid-a-class dream (the whole network, down to the head's small 1x1
    convolution that PyTorch keeps on its own kernel, at one thread more of them) gives the
    plain path's pixels exactly."""
    from inceptionism.api import render
    from inceptionism.models import fuse
    from inceptionism.runtime import cpu_threads

    image = examples / "chelsea.jpg"
    params = dict(preset="deep", avoid_class="dog", max_size=96, steps=3, octaves=2, seed=6)
    with cpu_threads(threads):
        fast = np.asarray(render(image, model=model, **params).image)
        assert fused_calls  # the fused path ran
        monkeypatch.setattr(fuse, "_POINTWISE", None)  # fusable() says no: the plain path
        plain = np.asarray(render(image, model=model, **params).image)
    assert np.array_equal(fast, plain)


def test_a_requested_activation_inside_a_norm_is_still_seen(model) -> None:
    """A layer inside a norm (its ReLU6) is not fused away: the hook on it still fires."""
    layers = ["blocks.2.1.bn1.act", "blocks.3.0"]
    plain, fast = activations(model, layers, []), activations(model, layers, model.folds)
    for name in layers:
        assert (plain[name] - fast[name]).abs().max() <= 1e-4 * plain[name].abs().max(), name


def test_the_fused_path_falls_back_where_it_cannot_be_used(model, fused_calls) -> None:
    """Under bf16 autocast, or with oneDNN turned off, the fused call is not taken: the folded
    network still runs, as PyTorch would run it."""
    x = torch.rand(1, 3, 96, 96, generator=torch.Generator().manual_seed(0))
    with capture(model, ["blocks.3.0"]) as run, torch.no_grad():
        exact = run(x)["blocks.3.0"]
        assert fused_calls
        fused_calls.clear()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            rough = run(x)["blocks.3.0"].float()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's note on oneDNN's TF32 for Intel GPUs
            with torch.backends.mkldnn.flags(enabled=False):
                native = run(x)["blocks.3.0"]
    assert not fused_calls
    assert (exact - rough).abs().max() <= 0.1 * exact.abs().max()
    assert (exact - native).abs().max() <= 1e-4 * exact.abs().max()


@pytest.mark.parametrize("c_in, c_out, kernel, stride, padding, groups", [
    (8, 8, 3, 1, 1, 8), (8, 8, 5, 1, 2, 8),  # depthwise at stride 1
    (8, 8, 4, 2, 1, 8),  # depthwise at stride 2 with a zero tap ("same" padding)
    (4, 12, 1, 1, 0, 1), (3, 6, 4, 2, 1, 1),  # expansion and the stem
])
def test_the_fused_convolution_matches_conv_then_relu6(c_in, c_out, kernel, stride, padding, groups,
                                                       fused_calls) -> None:
    gen = torch.Generator().manual_seed(2)
    # large enough that PyTorch itself would use oneDNN for each (a small 1x1 one it would not)
    x = (4 * torch.randn(1, c_in, 80, 96, generator=gen)).contiguous(memory_format=torch.channels_last)
    conv = nn.Conv2d(c_in, c_out, kernel, stride, padding, groups=groups).requires_grad_(False)
    conv.weight.copy_(torch.randn(conv.weight.shape, generator=gen) / kernel)  # not the global generator's
    conv.bias.copy_(torch.randn(c_out, generator=gen))
    grad = torch.randn(1, c_out, *conv(x).shape[-2:], generator=gen)
    a = x.clone().requires_grad_(True)
    y_plain = nn.functional.relu6(conv(a))
    (g_plain,) = torch.autograd.grad(y_plain, a, grad)
    b = x.clone().requires_grad_(True)
    y_fast = fused_forward(conv, nn.ReLU6())(b)
    (g_fast,) = torch.autograd.grad(y_fast, b, grad)
    assert fused_calls  # compared with the fused call, not the plain path with itself
    assert 0 < (y_plain == 0).float().mean() and 0 < (y_plain == 6).float().mean()  # both ends of the clamp are hit
    assert torch.allclose(y_fast, y_plain, atol=1e-5)
    assert torch.allclose(g_fast, g_plain, atol=1e-5)
