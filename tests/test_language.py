"""One objective language: every door parses the same terms, and a kind of term is known
only to its registration (issue: one objective language, parsed once)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

import inceptionism
from inceptionism import objectives as obj
from inceptionism.errors import ConfigError, LayerError
from inceptionism.objectives import LayerTerm, TermKind, kind_of, parse_terms, term_text
from inceptionism.objectives.batch import direction

SOURCE = Path(inceptionism.__file__).resolve().parent
LAYER = "blocks.4.1.bn1"


@pytest.fixture
def cosine():
    """A kind of term added the way a contributor adds one: its registration, nothing else
    (this test file is the only file it touches)."""

    def parse(item: str, rest: str, weight: float) -> LayerTerm:
        layer, _, channels = rest.partition(":")
        combination = obj.channel_combination(channels)
        if not layer or combination is None:
            raise ConfigError(f"cosine term {item!r} is not of the form cosine:LAYER:3+7")
        return LayerTerm(layer, None, weight, kind="cosine", combination=combination)

    def unit(term: LayerTerm):
        return direction(term.layer, dict(term.combination), cossim_pow=2.0)

    kind = obj.register(TermKind("cosine", "cosine:LAYER:3+7", "a direction, weighted by its cosine (lucid's "
                                 "direction_neuron)", parse, lambda term, ctx: unit(term), unit=unit,
                                 pixel=lambda term: {"layers": term_text(term)}))
    try:
        yield kind
    finally:
        obj.unregister("cosine")


def test_a_new_kind_of_term_works_in_a_dream_and_in_visualize_with_its_registration_alone(
        cosine, model, small_photo) -> None:
    (term,) = parse_terms("cosine:blocks.4.1.bn1:3+7*2")
    assert kind_of(term) is cosine and term.weight == 2.0 and term_text(term) == "cosine:blocks.4.1.bn1:3+7"
    dreamed = inceptionism.render(small_photo, model=model, layers="cosine:blocks.4.1.bn1:3+7", steps=3, octaves=1,
                                 seed=0, max_size=96)
    assert dreamed.score_end > dreamed.score_start  # the dream climbed the new term
    for param in ("fft", "pixel"):  # the batch path (unit) and the pixel path (a dream of the term)
        picture = inceptionism.visualize("cosine", "blocks.4.1.bn1:3+7", model=model, param=param, size=48, steps=3,
                                         octaves=1, seed=0) if param == "pixel" else inceptionism.visualize(
            "cosine", "blocks.4.1.bn1:3+7", model=model, param=param, size=48, steps=3, seed=0)
        assert picture.size == (48, 48)
        assert picture.info["inceptionism"]["visualize" if param == "fft" else "config"]
    with pytest.raises(LayerError, match="channel 900 is out of range"):  # checked like any term that reads a layer
        inceptionism.dream(small_photo, model=model, layers="cosine:blocks.4.1.bn1:3+900", steps=1, octaves=1)


def test_visualize_targets_and_dream_layers_are_one_grammar() -> None:
    """``visualize LAYER 3+7`` is the term ``LAYER:3+7``, the same as in --layers: a direction."""
    (short,) = parse_terms(f"{LAYER}:3+7-2")
    (long,) = parse_terms(f"direction:{LAYER}:3+7-2")
    assert short == long and kind_of(short).name == "direction"
    (cls,) = parse_terms("class:goldfinch")
    assert term_text(cls) == "class:goldfinch" and kind_of(cls).judged and not kind_of(short).judged
    with pytest.raises(ConfigError, match="not a whole number"):
        parse_terms(f"{LAYER}:3x")


def test_visualize_takes_every_kind_with_pictures_and_says_which_it_cannot(model) -> None:
    from inceptionism.steering import unit_terms

    terms = unit_terms(model, LAYER, "7,3+7")
    assert [term_text(t) for t in terms] == [f"{LAYER}:7", f"{LAYER}:3+7"]
    assert [term_text(t) for t in unit_terms(model, "class", "goldfinch,1")] == ["class:11", "class:1"]
    with pytest.raises(ConfigError, match=r"diversity:LAYER terms have no pictures.*visualize --diversity N"):
        unit_terms(model, "diversity", LAYER)  # says where it can be written
    with pytest.raises(ConfigError, match="names 11 twice"):
        unit_terms(model, "class", "goldfinch,11")


def test_no_kind_of_term_is_tested_by_name_outside_its_registration() -> None:
    """Which kind a term is, is asked of its registration (``kind_of``): no module compares a
    layer or a kind with a kind's name (``layer == "class"`` was in three files)."""
    names = "|".join(re.escape(n) for n in [*obj.TERM_KINDS, obj.LAYER.name])
    test = re.compile(rf"""(==|!=)\s*["']({names})["']|["']({names})["']\s*(==|!=)|\bin\s*[(\[{{][^)\]}}]*["']({names})["']""")
    registration = SOURCE / "objectives" / "grammar.py"
    found = [f"{path.relative_to(SOURCE)}:{n}: {line.strip()}"
             for path in sorted(SOURCE.rglob("*.py")) if path != registration
             for n, line in enumerate(path.read_text().splitlines(), 1) if test.search(line)]
    assert found == []


def test_a_dream_parses_its_layers_once(model, small_photo, monkeypatch) -> None:
    """The checks, the objective and the recorded config all read the same parsed terms: each
    term of --layers is matched against the grammar once per dream (it was four to five times)."""
    from inceptionism.objectives import grammar

    matched = []

    class Counting:
        def match(self, text):  # noqa: ANN001, ANN202
            matched.append(text)
            return pattern.match(text)

    pattern = grammar._TERM
    monkeypatch.setattr(grammar, "_TERM", Counting())
    layers = "blocks.3.0*0.731,blocks.4.1:7*0.419"  # weights no other test uses: not parsed before
    inceptionism.render(small_photo, model=model, layers=layers, steps=1, octaves=1, seed=0, max_size=64)
    assert sorted(matched) == ["blocks.3.0*0.731", "blocks.4.1:7*0.419"]


def test_every_kind_is_written_at_a_door_or_says_where(model, examples, tmp_path) -> None:
    """caricature:LAYER had no door: visualize writes it now, a picture made of a photo's
    features; without the photo it says so. Every built-in kind is checked."""
    cat = inceptionism.visualize("caricature", LAYER, model=model, param="fft", size=48, steps=3, seed=0,
                                 photo=str(examples / "chelsea.jpg"))
    assert cat.size == (48, 48) and cat.info["inceptionism"]["visualize"]["caricature"] is True
    with pytest.raises(ConfigError, match=r"caricature:blocks.4.1.bn1 is a picture made of a photo's features: "
                                          "give --photo"):
        inceptionism.visualize("caricature", LAYER, model=model, param="fft", size=48, steps=3)
    from inceptionism.steering import unit_terms

    from inceptionism.dictionaries import ConceptDictionary, save_dictionary
    from inceptionism.taps import probe_means

    atoms = torch.nn.functional.normalize(torch.rand(3, 672), dim=1)  # a concept dictionary of this network
    save_dictionary(tmp_path / "d.safetensors", ConceptDictionary(atoms, "nmf", {
        "network": model.spec.name, "weights_sha256": model.weights_sha256, "layer": LAYER,
        "probe": probe_means(model, LAYER).tolist()}))
    for kind in obj.TERM_KINDS.values():
        written = {"class": "tench", "direction": f"{LAYER}:3+7",
                   "concept": f"{tmp_path / 'd.safetensors'}:1"}.get(kind.name, LAYER)
        try:
            unit_terms(model, kind.name, written)  # visualize takes it, or says where it goes
        except ConfigError as exc:
            assert "visualize --diversity" in str(exc), kind.name
        if kind.in_dreams:  # and dreams take those that read one picture
            (term,) = parse_terms(f"{kind.name}:{written}")
            from inceptionism.steering import check_term

            check_term(model, term)


def test_visualize_targets_read_as_people_write_them(model) -> None:
    """Found by a review: class names with spaces (691 of ImageNet's 1000), a neuron's @Y,X,
    weights, several layers, 'all' of a kind: each taken or refused in one clear line."""
    from inceptionism.steering import unit_terms

    assert [term_text(t) for t in unit_terms(model, "class", "golden retriever, tench")] == ["class:207", "class:0"]
    (cls,) = parse_terms("class:golden retriever*0.5")  # --layers too
    assert cls.class_name == "golden retriever" and cls.weight == 0.5
    with pytest.raises(ConfigError, match="not for .blocks.4.1.bn1:7@1,2."):
        unit_terms(model, LAYER, "7@1,2")  # one neuron: refused as a neuron, not as a bad position
    with pytest.raises(ConfigError, match="target '3\\*-1' has a weight"):
        unit_terms(model, LAYER, "3*-1")
    with pytest.raises(ConfigError, match="is not one layer"):
        unit_terms(model, f"{LAYER},blocks.5.0", "3")
    with pytest.raises(ConfigError, match="all names every channel of a layer; class:CLASS takes"):
        unit_terms(model, "class", "all")
    assert len(unit_terms(model, LAYER, "all")) == 672
