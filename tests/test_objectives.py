"""Objectives parse from strings and compose."""

from __future__ import annotations

import pytest
import torch

from inceptionism import objectives
from inceptionism.errors import ConfigError, LayerError
from inceptionism.objectives import LayerTerm, parse, parse_terms


def test_parse_terms_reads_channel_and_weight():
    assert parse_terms("a.b, c:3, d:4*0.5, e*-2") == [
        LayerTerm("a.b"),
        LayerTerm("c", 3),
        LayerTerm("d", 4, 0.5),
        LayerTerm("e", None, -2.0),
    ]


@pytest.mark.parametrize("text, message", [
    ("", "not of the form"),
    ("a:x", "channel 'x'"),
    ("a*heavy", "weight 'heavy'"),
    ("a,,b", "not of the form"),
])
def test_parse_terms_rejects_bad_terms(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_terms(text)


def test_negative_channel_is_a_layer_error():
    with pytest.raises(LayerError, match="channel -1"):
        parse_terms("a:-1")


def test_l2_mean_weights_and_sums():
    acts = {"a": torch.tensor([[[[1.0, -3.0]], [[2.0, 2.0]]]]), "b": torch.ones(1, 1, 1, 1)}
    assert parse("a", kind="l2")(acts).item() == pytest.approx((1 + 9 + 4 + 4) / 4)
    assert parse("a", kind="mean")(acts).item() == pytest.approx(0.5)
    assert parse("a:1", kind="mean")(acts).item() == pytest.approx(2.0)
    assert parse("a:0*-2,b", kind="mean")(acts).item() == pytest.approx(-2 * -1.0 + 1.0)


def test_objectives_compose_with_operators():
    acts = {"a": torch.full((1, 2, 2, 2), 3.0)}
    combined = objectives.layer("a", kind="mean") + 0.5 * objectives.channel("a", 1, kind="mean")
    assert combined(acts).item() == pytest.approx(4.5)
    assert (-combined)(acts).item() == pytest.approx(-4.5)
    assert (combined - objectives.layer("a", kind="mean"))(acts).item() == pytest.approx(1.5)
    assert combined.layers == frozenset({"a"})


def test_channel_objective_checks_range():
    with pytest.raises(LayerError, match="0 to 1"):
        objectives.channel("a", 5)({"a": torch.zeros(1, 2, 2, 2)})
