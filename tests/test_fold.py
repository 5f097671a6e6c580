"""Batch-norm folding: faster steps, the same activations, nothing left changed."""

from __future__ import annotations

import torch
from torch import nn

from inceptionism.models.fold import find_folds, folded
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
