"""TensorFlow's "same" padding without copying the input (models/same.py)."""

from __future__ import annotations

import pytest
import torch
from timm.layers.conv2d_same import Conv2dSame
from torch.utils._python_dispatch import TorchDispatchMode

from inceptionism.models.same import Conv2dSameByTaps, same_padding, without_pad_copies


class PadShapes(TorchDispatchMode):
    """The shapes of the tensors ``constant_pad_nd`` was asked to pad."""

    def __init__(self) -> None:
        super().__init__()
        self.shapes: list[tuple[int, ...]] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        if func.overloadpacket.__name__ == "constant_pad_nd":
            self.shapes.append(tuple(args[0].shape))
        return func(*args, **(kwargs or {}))


def test_same_padding_is_tensorflows():
    assert same_padding(224, 3, 2) == (0, 1)  # even input, stride 2: one more after
    assert same_padding(225, 3, 2) == (1, 1)
    assert same_padding(224, 5, 2) == (1, 2)
    assert same_padding(224, 3, 1) == (1, 1)


@pytest.mark.parametrize("kernel", [3, 5])
@pytest.mark.parametrize("groups", [1, 8])
@pytest.mark.parametrize("size", [(40, 40), (41, 39), (40, 37)])
def test_taps_equal_the_padded_convolution_and_copy_no_input(kernel, groups, size):
    torch.manual_seed(0)
    reference = Conv2dSame(8, 8, kernel, stride=2, groups=groups, bias=True)
    ours = without_pad_copies(torch.nn.Sequential(Conv2dSame(8, 8, kernel, stride=2, groups=groups, bias=True)))[0]
    ours.load_state_dict(reference.state_dict())
    assert type(ours) is Conv2dSameByTaps
    x = torch.randn(2, 8, *size, requires_grad=True)
    y_ref = reference(x)
    (g_ref,) = torch.autograd.grad(y_ref.square().sum(), x)
    with PadShapes() as pads:
        y = ours(x)
        (g,) = torch.autograd.grad(y.square().sum(), x)
    assert y.shape == y_ref.shape
    torch.testing.assert_close(y, y_ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(g, g_ref, rtol=1e-5, atol=1e-5)
    assert all(shape == tuple(ours.weight.shape) for shape in pads.shapes), pads.shapes  # only the kernel is padded


def test_the_default_network_pads_by_taps(model):
    strided = {type(m) for m in model.net.modules() if isinstance(m, torch.nn.Conv2d) and m.stride != (1, 1)}
    assert strided == {Conv2dSameByTaps}


def test_timm_networks_pad_by_taps():
    from inceptionism.models import load_model

    net = load_model("timm/tf_efficientnet_b0", pretrained=False, cache=False).net
    assert not any(type(m) is Conv2dSame for m in net.modules())
    assert any(type(m) is Conv2dSameByTaps for m in net.modules())
