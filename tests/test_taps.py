"""Capturing activations: truncated forward, hooks released, layer listing."""

from __future__ import annotations

import pytest
import torch

from inceptionism.errors import LayerError
from inceptionism.taps import capture, layer_info, list_layers


def _hook_count(model) -> int:
    return sum(len(m._forward_hooks) for m in model.modules())


def test_forward_stops_at_the_deepest_requested_layer(model):
    calls = []
    handle = model.net.conv_head.register_forward_hook(lambda *a: calls.append("head"))
    late = model.net.blocks[6].register_forward_hook(lambda *a: calls.append("block6"))
    try:
        with capture(model, ["blocks.1.0.bn1"]) as run:
            run(torch.rand(1, 3, 64, 64))
        assert calls == []
        with capture(model, ["blocks.6.0.bn1"]) as run:
            run(torch.rand(1, 3, 64, 64))
        assert calls == []  # blocks.6 as a whole finishes after its first block's bn1
        with capture(model, ["conv_head"]) as run:
            run(torch.rand(1, 3, 64, 64))
        assert "head" in calls
    finally:
        handle.remove()
        late.remove()


def test_hooks_are_removed_even_on_error(model):
    before = _hook_count(model)
    with pytest.raises(RuntimeError):
        with capture(model, ["blocks.4.1.bn1", "blocks.2.0.bn1"]):
            assert _hook_count(model) == before + 2
            raise RuntimeError("boom")
    assert _hook_count(model) == before


def test_captures_every_requested_layer_with_gradients(model):
    x = torch.rand(1, 3, 64, 64, requires_grad=True)
    with capture(model, ["blocks.5.0.bn1", "blocks.2.0.bn1"]) as run:
        acts = run(x)
    assert set(acts) == {"blocks.5.0.bn1", "blocks.2.0.bn1"}
    (acts["blocks.5.0.bn1"].square().mean() + acts["blocks.2.0.bn1"].mean()).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_listing_is_in_data_flow_order_with_channels(model):
    layers = list_layers(model)
    names = [info.name for info in layers]
    assert names.index("blocks.2.0.bn1") < names.index("blocks.4.1.bn1") < names.index("blocks.5.0.bn1")
    info = {i.name: i for i in layers}["blocks.4.1.bn1"]
    assert (info.channels, info.height, info.width) == (672, 14, 14)
    assert {i.name: i for i in layers}["conv_head"].channels == 1280
    assert all(not name.endswith(".act") for name in names)  # pass-through leaves are folded away


def test_unknown_layer_lists_nearest_names(model):
    with pytest.raises(LayerError, match=r"unknown layer 'blocks.4.1.bn9'.*nearest: .*blocks.4.1.bn1"):
        layer_info(model, "blocks.4.1.bn9")


def test_non_spatial_layer_is_refused(model):
    with pytest.raises(LayerError, match="classifier"):
        layer_info(model, "classifier")
