"""Feature visualization: the composable render loop, its parameterizations and transforms,
batch-coupled objectives, pictures grown from photos, dataset examples and honest scores."""

from __future__ import annotations

import dataclasses
import re
import shutil

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from typer.testing import CliRunner

from inceptionism import featurevis as fv
from inceptionism import objectives as obj
from inceptionism.cli import app
from inceptionism.errors import ConfigError
from inceptionism.images import load_image, read_metadata, to_tensor
from inceptionism.labels import resolve_class
from inceptionism.objectives import LayerTerm
from inceptionism.steering import unit_terms
from inceptionism.taps import capture

LAYER = "blocks.4.1.bn1"
runner = CliRunner()


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _acts(model, images: torch.Tensor, layer: str = LAYER) -> torch.Tensor:
    with capture(model, [layer]) as run, torch.no_grad():
        return run(images[:, :3])[layer]


def _photo(examples, name: str = "chelsea") -> torch.Tensor:
    return to_tensor(load_image(examples / f"{name}.jpg"))[0]


# -- the render loop and its pieces --------------------------------------------------------


@pytest.mark.parametrize("param", sorted(fv.PARAMS))
def test_every_parameterization_climbs_its_channel(model, param):
    gen = _gen()
    picture = fv.picture_for(param, 2, 64, gen=gen, device=model.device)
    before = obj.per_item_channels(LAYER, [7, 10])({LAYER: _acts(model, picture.draw().detach())})
    out = fv.render(model, obj.per_item_channels(LAYER, [7, 10]), picture, steps=12, gen=gen,
                    transforms=fv.parse_transforms("crops"))
    assert out.images.shape == (2, 4 if param == "alpha" else 3, 64, 64)
    assert bool((out.values > before + 0.3).all()), (param, before, out.values)


def test_every_piece_swaps_optimizer_transforms_and_objective_included(model):
    seen = []

    def recorder(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        seen.append(tuple(x.shape))
        return x

    picture = fv.pixels(1, 48, gen=_gen(), device=model.device)
    objective = obj.channel(LAYER, 7, kind="mean") - obj.channel(LAYER, 10, kind="mean")
    out = fv.render(model, objective, picture, steps=5, gen=_gen(), transforms=[fv.crops(3, 0.5), recorder],
                    optimizer=lambda tensors: torch.optim.SGD(tensors, lr=20.0))
    assert seen == [(3, 3, 48, 48)] * 5  # the crops stacked three copies; the recorder saw every step
    start = objective({LAYER: _acts(model, torch.full((1, 3, 48, 48), 0.5))})
    assert float(out.values[0]) > float(start[0]) + 0.5


def test_visualize_goes_through_the_one_render_loop(model, monkeypatch):
    calls = []
    real = fv.units.render

    def counted(*args, **kwargs):
        calls.append(kwargs["steps"])
        return real(*args, **kwargs)

    monkeypatch.setattr(fv.units, "render", counted)
    from inceptionism.command_config import VisualizeConfig
    from inceptionism.unit_pictures import visualize_targets

    shown = list(visualize_targets(model, unit_terms(model, LAYER, "7,10"), VisualizeConfig(param="maco", size=48, steps=3, seed=0)))
    assert calls == [3] and [s.target for s in shown] == [7, 10]


def test_alpha_turns_what_does_not_matter_transparent(model):
    gen = _gen()
    picture = fv.alpha(1, 64, gen=gen, device=model.device)
    start = float(picture.draw().detach()[:, 3].mean())
    out = fv.render(model, obj.neuron(LAYER, 7, 1, 1), picture, steps=40, gen=gen,
                    transforms=fv.parse_transforms("pad:4"))
    opacity = out.images[0, 3]
    corner, rest = float(opacity[:24, :24].mean()), float(opacity[32:, 32:].mean())
    assert float(opacity.mean()) < start - 0.05  # the transparency cost took opacity away
    assert corner > rest + 0.05, (corner, rest)  # and kept it where the neuron looks


def test_importance_map_shows_where_a_neuron_looks(model):
    picture = fv.fourier(1, 64, gen=_gen(), device=model.device)
    out = fv.render(model, obj.neuron(LAYER, 7, 0, 0), picture, steps=6, gen=_gen())
    importance = out.importance[0]
    assert importance.shape == (64, 64) and float(importance.max()) == pytest.approx(1.0)
    assert float(importance[:24, :24].mean()) > 4 * float(importance[40:, 40:].mean())


def test_a_picture_growing_from_its_centre_is_seen_there_first_then_whole(model):
    from inceptionism.featurevis.render import centre_disc

    disc = [centre_disc(step, 10, 0.5, 64, 64) for step in range(10)]
    assert disc[5:] == [None] * 5  # half the steps, then the whole picture
    assert float(disc[0][32, 32]) > 0.95 and float(disc[0][0, 0]) < 0.01  # the centre, not the corners
    assert [round(float(d.mean()), 2) for d in disc[:5]] == sorted(round(float(d.mean()), 2) for d in disc[:5])
    importance = {}
    for grow in (0.0, 1.0, 0.5):
        picture = fv.pixels(1, 64, gen=_gen(), device=model.device)
        out = fv.render(model, obj.class_logit(resolve_class("zebra")), picture, steps=4, gen=_gen(),
                        grow_from_centre=grow)
        centre, corners = out.importance[0, 24:40, 24:40].mean(), out.importance[0, :12, :12].mean()
        importance[grow] = float(corners / centre)
    # the corners were hidden (a gradient a tenth of the centre's at most), then seen once the share was over
    assert importance[1.0] < 0.05 < 0.2 < importance[0.5] < importance[0.0] + 0.1, importance


def test_visualize_grows_pictures_from_the_centre_when_asked_and_records_it(model, monkeypatch):
    from inceptionism.command_config import VisualizeConfig
    from inceptionism.unit_pictures import visualize_targets

    seen = []
    real = fv.units.render
    monkeypatch.setattr(fv.units, "render", lambda *a, **k: seen.append(k["grow_from_centre"]) or real(*a, **k))
    small = {"param": "fft", "size": 48, "steps": 2, "seed": 0}
    classes = list(visualize_targets(model, unit_terms(model, "class", "zebra"), VisualizeConfig(**small)))
    channels = list(visualize_targets(model, unit_terms(model, LAYER, "7"), VisualizeConfig(**small)))
    chosen = list(visualize_targets(model, unit_terms(model, LAYER, "7"), VisualizeConfig(**small, grow_from_centre=0.3)))
    assert seen == [0.0, 0.0, 0.3]  # off unless asked (the blind panel read it no better: docs/featurevis.md)
    assert [s.metadata["visualize"].get("grow_from_centre") for s in classes + channels + chosen] == [None, None, 0.3]
    for given, words in (({"param": "pixel"}, "works with param fft, alpha or maco, not pixel"),
                         ({"param": "fft", "photo": "x.jpg"}, "with photo it grows out of the photo"),
                         ({"param": "fft", "grow_from_centre": 2.0}, "grow_from_centre")):
        with pytest.raises(ConfigError, match=words.replace("(", r"\(")):
            VisualizeConfig(**given, **({} if "grow_from_centre" in given else {"grow_from_centre": 0.5}))


def test_maco_keeps_the_magnitude_and_moves_only_the_phase(model):
    gen = _gen()
    picture = fv.maco(1, 64, gen=gen, device=model.device)
    assert [t.shape for t in picture.tensors] == [(1, 3, 64, 33)]  # a phase per frequency, nothing else

    def spectrum(img: torch.Tensor) -> torch.Tensor:
        x = torch.logit(img.double().clamp(1e-7, 1 - 1e-7))
        x = torch.einsum("bchw,dc->bdhw", x, torch.linalg.inv(fv.param.COLOR_SQRT.double()))
        # Columns 0 and 64/2 of a real picture's half spectrum are their own mirror images: a
        # picture is real only if the phases there pair up, so there the magnitude moves too
        return torch.fft.rfft2(x - x.mean((2, 3), keepdim=True)).abs()[..., 1:-1].flatten()

    before = spectrum(picture.draw().detach())
    fv.render(model, obj.channel(LAYER, 7), picture, steps=10, gen=gen)
    after = picture.draw().detach()
    assert float(F.cosine_similarity(before, spectrum(after), dim=0)) > 0.9999
    assert float((after - fv.maco(1, 64, gen=_gen(), device=model.device).draw().detach()).abs().mean()) > 0.02


def test_transforms_parse_and_name_the_bad_item():
    assert len(fv.parse_transforms("standard")) == 5 and fv.parse_transforms("none") == []
    x = torch.rand(2, 3, 32, 32)
    assert fv.parse_transforms("pad:4,crops:3x0.5")[1](x, _gen()).shape == (6, 3, 32, 32)
    for bad, said in (("wobble:3", "'wobble:3'"), ("crops:0x0.5", "out of range"), ("rotate:400", "out of range")):
        with pytest.raises(ConfigError, match=said):
            fv.parse_transforms(bad)


def test_noise_with_a_range_gives_each_copy_its_own_strength_within_it():
    x = torch.full((2, 3, 64, 64), 0.5)
    seen = fv.parse_transforms("pad:2,crops:4x0.5,noise:0.1-0.4")[-1](x.repeat(4, 1, 1, 1), _gen())
    strengths = (seen - 0.5).flatten(1).std(1)  # (copies x B): one strength each
    assert float(strengths.min()) > 0.1 * 0.95 and float(strengths.max()) < 0.4 * 1.05
    assert float(strengths.max() - strengths.min()) > 0.1  # drawn per copy, not once
    fixed = (fv.parse_transforms("noise:0.3")[0](x.repeat(4, 1, 1, 1), _gen()) - 0.5).flatten(1).std(1)
    assert float((fixed - 0.3).abs().max()) < 0.3 * 0.05
    assert fv.TRANSFORM_SETS["noisy-crops"] == "pad:16,crops:1x0.5,noise:0-0.4"
    for bad, said in (("noise:0.4-0.1", "empty range: write the lower noise first, e.g. noise:0.1-0.4"),
                      ("noise:0-1.5", "out of range: noise takes 0 to 1")):
        with pytest.raises(ConfigError, match=re.escape(said)):
            fv.parse_transforms(bad)


def test_view_shows_the_network_a_smaller_smoothed_picture_and_passes_the_gradient_back(model):
    checks = torch.zeros(1, 3, 64, 64)
    checks[..., ::2, ::2] = checks[..., 1::2, 1::2] = 1.0  # the finest pattern a picture holds
    seen = fv.parse_transforms("view:0.625")[0](checks, _gen())
    assert seen.shape == (1, 3, 40, 40)
    assert float(seen.std()) < 0.02  # smoothed to its mean, not aliased into a coarser pattern (std 0.16)
    assert fv.view(1.0)(checks, _gen()) is checks
    # the fast set: a 224 px picture's padded crop (256 px) seen at 160 px, then the noise
    assert fv.TRANSFORM_SETS["noisy-crops-fast"] == "pad:16,crops:1x0.5,view:0.625,noise:0-0.4"
    fast = fv.parse_transforms("noisy-crops-fast")
    x = torch.rand(2, 3, 224, 224, requires_grad=True)
    out = x
    for transform in fast:
        out = transform(out, _gen())
    assert out.shape == (2, 3, 160, 160)
    out.sum().backward()
    assert float(x.grad.abs().sum()) > 0
    # class pictures grown so carry their class, seen whole (in Lite0's own top 5 at a small budget)
    cfg = fv.FeatureVisConfig(size=160, steps=64, seed=0, transforms="noisy-crops-fast")
    for shown in fv.visualize_features(model, unit_terms(model, "class", "goldfinch,volcano"), cfg):
        with torch.no_grad():
            logits = model(to_tensor(load_image_from(shown.image), model.device))
        assert shown.term.channel in logits.topk(5).indices[0].tolist(), shown.target
        assert shown.metadata["visualize"]["transforms"] == "noisy-crops-fast"
    # shown less than the network's smallest input: refused before the network runs, naming both sizes
    tiny = fv.FeatureVisConfig(size=32, steps=2, seed=0, transforms="view:0.1")
    with pytest.raises(ConfigError, match=re.escape("pictures of 3 px a side, below its smallest input, 32 px")):
        fv.visualize_features(model, unit_terms(model, "class", "goldfinch"), tiny)
    small = fv.picture_for("fft", 1, 16, gen=_gen(), device=model.device)  # the picture itself is too small
    with pytest.raises(ConfigError, match=re.escape("size 16 is below efficientnet-lite0's smallest input, 32 px")):
        fv.render(model, obj.class_logit(1), small, steps=1, gen=_gen())
    assert fv.view(0.5)(checks.to(torch.bfloat16), _gen()).dtype == torch.bfloat16  # CPU has no bf16 kernel
    exact = checks.double() / 3  # float64 keeps its precision (not a float32 round trip)
    assert torch.equal(fv.view(0.5)(exact, _gen()),
                       F.interpolate(exact, size=(32, 32), mode="bilinear", align_corners=False, antialias=True))
    for bad in ("view:0.05", "view:1.5"):
        with pytest.raises(ConfigError, match=re.escape(f"transform '{bad}' is out of range: view takes 0.1 to 1")):
            fv.parse_transforms(bad)


def test_auto_transforms_show_class_pictures_through_noise_and_every_other_picture_plain_crops(model, examples):
    assert fv.FeatureVisConfig(size=32, steps=1, seed=0).transforms == "auto"
    assert [fv.chosen("auto", classes=True), fv.chosen(" auto ", classes=True, param="alpha"), fv.chosen("auto"),
            fv.chosen("auto", classes=True, param="maco"), fv.chosen("standard", classes=True)] == [
        "noisy-crops", "noisy-crops", "crops", "crops", "standard"]
    cfg = fv.FeatureVisConfig(size=64, steps=2, seed=0)
    goldfinch = unit_terms(model, "class", "goldfinch")

    def ran(shown) -> str:
        return shown.metadata["visualize"]["transforms"]  # recorded as it ran, never "auto"

    said = {"class": ran(fv.visualize_features(model, goldfinch, cfg)[0]),
            "class, maco": ran(fv.visualize_features(model, goldfinch, dataclasses.replace(cfg, param="maco"))[0]),
            "channel": ran(fv.visualize_features(model, [LayerTerm(LAYER, 7)], cfg)[0]),
            "accentuated": ran(fv.accentuate(model, _photo(examples), LAYER, 7, cfg)),
            "caricature": ran(fv.caricature(model, _photo(examples), LAYER, cfg))}
    assert said == {"class": "noisy-crops", "class, maco": "crops", "channel": "crops", "accentuated": "crops",
                    "caricature": "crops"}
    # what auto stands for is what runs: the same pixels as the set written out
    for terms, written in ((goldfinch, "pad:16,crops:1x0.5,noise:0-0.4"), ([LayerTerm(LAYER, 7)], "crops")):
        plain = fv.visualize_features(model, terms, dataclasses.replace(cfg, transforms=written))[0]
        assert np.array_equal(np.asarray(plain.image), np.asarray(fv.visualize_features(model, terms, cfg)[0].image))


def test_a_recipe_and_a_gallery_cache_say_the_transforms_that_ran(model, tmp_path, monkeypatch):
    from inceptionism import gallery
    from inceptionism.command_config import VISUALIZE_RECIPE, VisualizeConfig
    from inceptionism.unit_pictures import visualize_targets

    cfg = VisualizeConfig(param="fft", size=64, steps=2, seed=0)
    terms = [LayerTerm(LAYER, 7), *unit_terms(model, "class", "goldfinch")]
    recipes = [shown.metadata[VISUALIZE_RECIPE]["transforms"] for shown in visualize_targets(model, terms, cfg)]
    assert recipes == ["crops", "noisy-crops"]  # --config of either picture replays the set it was grown with
    monkeypatch.setattr(gallery, "gallery_cache_dir", lambda: tmp_path)
    auto = fv.FeatureVisConfig(size=64, steps=2, seed=0)
    assert gallery._cache_dir("m", "w", LAYER, auto) == gallery._cache_dir(
        "m", "w", LAYER, dataclasses.replace(auto, transforms="crops"))


def _grey(batch: int = 1, size: int = 32):
    return fv.picture_for("fft", batch, size, gen=_gen(), device=torch.device("cpu"))


@pytest.mark.parametrize(("call", "field", "words"), [
    (lambda m: fv.render(m, obj.channel(LAYER, 7), _grey(), steps=1.5, gen=_gen()), "steps", "from 1 to 100000"),
    (lambda m: fv.render(m, obj.channel(LAYER, 7), _grey(), steps=float("nan"), gen=_gen()), "steps", "not nan"),
    (lambda m: fv.render(m, obj.channel(LAYER, 7), _grey(), steps=0, gen=_gen()), "steps", "not 0"),
    (lambda m: fv.render(m, obj.channel(LAYER, 7), _grey(), steps=-1, gen=_gen()), "steps", "not -1"),
    (lambda m: fv.render(m, obj.channel(LAYER, 7), _grey(), steps=True, gen=_gen()), "steps", "not True"),
    (lambda m: fv.render(m, obj.channel(LAYER, 7), _grey(), steps=1, gen=_gen(), transforms=[3]), "transforms",
     "a list of functions"),
    (lambda m: fv.render(m, obj.channel(LAYER, 7), _grey(), steps=1, gen=_gen(), transforms=[lambda x, g: None]),
     "transforms", "returned NoneType"),
    (lambda m: fv.render(m, obj.channel(LAYER, 7), _grey(2), steps=1, gen=_gen(),
                         transforms=[lambda x, g: x[:1]]), "transforms", "returned (1, 3, 32, 32)"),
    (lambda m: fv.render(m, obj.per_item_channels(LAYER, [1, 2, 3]), _grey(2), steps=1, gen=_gen()), "objective",
     "a batch of 2 pictures cannot hold 3 targets"),
    (lambda m: fv.render(m, obj.Objective(lambda a: a[LAYER].mean(), frozenset([LAYER]), "x"), _grey(2), steps=1,
                         gen=_gen()), "objective", "gave values of shape () for 2 pictures seen"),
    (lambda m: fv.render(m, "blocks.4.1.bn1:7", _grey(), steps=1, gen=_gen()), "objective", "must be an Objective"),
    (lambda m: fv.render(m, obj.per_item_channels(LAYER, [9999]), _grey(), steps=1, gen=_gen()), "channels",
     "channel 9999 is out of range for layer 'blocks.4.1.bn1'"),
    (lambda m: obj.per_item_channels(LAYER, [-1]), "channels", "whole numbers from 0"),
    (lambda m: fv.picture_for("fft", 1, -4, gen=_gen(), device=m.device), "size", "from 16 to 4096, not -4"),
    (lambda m: fv.picture_for("fft", 1, 10**9, gen=_gen(), device=m.device), "size", "not 1000000000"),
    (lambda m: fv.picture_for("fft", 0, 32, gen=_gen(), device=m.device), "batch", "from 1 to 1024, not 0"),
    (lambda m: fv.picture_for("wavelet", 1, 32, gen=_gen(), device=m.device), "param", "is not one of"),
    (lambda m: fv.picture_for("fft", 1, 32, gen=_gen(), device=m.device, init=torch.rand(1, 3, 16, 16)), "init",
     "(B, 3, 32, 32)"),
    (lambda m: obj.direction(LAYER, [1.0, float("nan")]), "vector", "finite entries"),
    (lambda m: obj.direction(LAYER, {3: float("nan")}), "vector", "to finite numbers"),
    (lambda m: obj.direction(LAYER, {-3: 1.0}), "vector", "whole numbers from 0"),
    (lambda m: fv.render(m, obj.channel(LAYER, 7), _grey(), steps=1, gen=_gen(), grow_from_centre=1.5),
     "grow_from_centre", "1.5 is not a share of the steps from 0 to 1"),
    (lambda m: fv.render(m, obj.channel(LAYER, 7), _grey(), steps=1, gen=_gen(), grow_from_centre="half"),
     "grow_from_centre", "'half' is not a share"),
])  # fmt: skip
def test_odd_arguments_to_the_render_loop_and_its_pieces_are_errors_naming_them(model, call, field, words):
    from inceptionism.errors import InceptionismError

    with pytest.raises(InceptionismError) as caught:
        call(model)
    assert caught.value.field == field and words in str(caught.value), caught.value


def test_render_takes_transforms_in_their_written_form_or_none(model):
    for transforms in ("pad:4,jitter:2", None, ()):
        out = fv.render(model, obj.channel(LAYER, 7), _grey(), steps=2, gen=_gen(), transforms=transforms)
        assert out.images.shape == (1, 3, 32, 32)


# -- objectives that couple the batch, and the grammar's kinds -----------------------------


def _gram_similarity(model, images: torch.Tensor) -> float:
    grams = obj.batch._gram(_acts(model, images).float())
    return float(grams[0] @ grams[1])


def test_diversity_makes_the_pictures_of_one_channel_differ(model):
    base = dict(size=64, steps=24, seed=0, param="fft")
    alike = fv.visualize_features(model, [LayerTerm(LAYER, 7)], fv.FeatureVisConfig(**base, pictures=2, diversity=0.0))
    apart = fv.visualize_features(model, [LayerTerm(LAYER, 7)], fv.FeatureVisConfig(**base, pictures=2, diversity=8.0))
    tensor = lambda shown: torch.stack([to_tensor(load_image_from(v.image))[0] for v in shown])  # noqa: E731
    assert _gram_similarity(model, tensor(apart)) < _gram_similarity(model, tensor(alike)) - 0.02
    assert [v.metadata["visualize"]["picture"] for v in apart] == [0, 1]


def load_image_from(image: Image.Image):
    from inceptionism.images import picture_from_pil

    return picture_from_pil(image.convert("RGB"))


def test_direction_is_the_projection_on_the_unit_vector(model):
    x = torch.randn(2, 8, 3, 3)
    value = obj.direction("a", {3: 1.0, 5: -1.0})({"a": x})
    assert torch.allclose(value, ((x[:, 3] - x[:, 5]) / 2**0.5).flatten(1).mean(1))
    with pytest.raises(Exception, match="channel 9 is out of range"):
        obj.direction("a", {9: 1.0})({"a": x})


def test_an_interaction_picture_raises_both_channels(model):
    shown = fv.visualize_features(model, unit_terms(model, LAYER, "7+10"),
                                  fv.FeatureVisConfig(size=64, steps=24, seed=0))
    assert shown[0].target == "7+10"
    acts = _acts(model, to_tensor(load_image_from(shown[0].image))).mean((2, 3))[0]
    grey = _acts(model, torch.full((1, 3, 64, 64), 0.5)).mean((2, 3))[0]
    assert float(acts[7]) > float(grey[7]) + 0.5 and float(acts[10]) > float(grey[10]) + 0.5


def test_grammar_kinds_are_registered_once_and_parse():
    direction, = obj.parse_terms("direction:blocks.4.1.bn1:3+7-2*0.5")
    assert (direction.kind, direction.layer, direction.combination, direction.weight) == (
        "direction", "blocks.4.1.bn1", ((3, 1.0), (7, 1.0), (2, -1.0)), 0.5)
    assert obj.parse_terms("diversity:blocks.4.1.bn1")[0].kind == "diversity"
    with pytest.raises(ValueError, match="registered twice"):
        obj.register(obj.TERM_KINDS["class"])
    with pytest.raises(ConfigError, match="direction:LAYER:3\\+7-2"):
        obj.parse_terms("direction:blocks.4.1.bn1:three")
    assert set(obj.TERM_KINDS) == {"class", "direction", "diversity", "caricature", "concept"}


def test_a_dream_takes_a_direction_and_refuses_batch_only_kinds(model, small_photo):
    import inceptionism

    dreamed = inceptionism.render(str(small_photo), model=model, layers=f"direction:{LAYER}:7+10", octaves=1, steps=2,
                                  seed=0)
    assert dreamed.image.size == (96, 64)
    assert dreamed.score_end > 1.1 * dreamed.score_start  # the projection on channels 7 and 10 grew
    with pytest.raises(ConfigError, match="for feature visualization"):
        inceptionism.dream(str(small_photo), model=model, layers=f"diversity:{LAYER}", octaves=1, steps=2)


def test_caricature_grows_what_the_layer_saw_in_the_photo(model, examples):
    photo = _photo(examples)
    cfg = fv.FeatureVisConfig(size=64, steps=40, seed=0)
    shown = fv.caricature(model, photo, LAYER, cfg)
    target = fv.photo_features(model, fv.photos._square(photo, 64), [LAYER])[LAYER].flatten()
    made = _acts(model, to_tensor(load_image_from(shown.image))).flatten()
    noise = _acts(model, torch.rand(1, 3, 64, 64, generator=_gen())).flatten()
    assert float(F.cosine_similarity(made, target, dim=0)) > float(F.cosine_similarity(noise, target, dim=0)) + 0.2


def test_accentuation_grows_the_channel_and_keeps_the_photo(model, examples):
    photo = _photo(examples)
    start = fv.photos._square(photo, 96)
    cfg = fv.FeatureVisConfig(size=96, steps=24, seed=0)
    made = {"kept": fv.accentuate(model, photo, LAYER, 7, cfg, closeness=5.0),
            "loose": fv.accentuate(model, photo, LAYER, 7, cfg, closeness=0.0),
            "free": fv.visualize_features(model, [LayerTerm(LAYER, 7)], cfg)[0]}
    pictures = {name: to_tensor(load_image_from(v.image)) for name, v in made.items()}
    acts = {name: _acts(model, x)[0] for name, x in pictures.items()}
    photo_acts = _acts(model, start)[0]
    assert float(acts["kept"][7].mean()) > float(photo_acts[7].mean()) + 0.5  # the channel grew in the photo
    assert float((pictures["kept"] - start).abs().mean()) < float((pictures["free"] - start).abs().mean()) / 3
    features = {name: float((a - photo_acts).norm()) for name, a in acts.items()}
    assert features["kept"] < 0.9 * features["loose"], features  # the anchor held the layer near the photo's


# -- honest scores -------------------------------------------------------------------------


def test_chroma_is_zero_for_grey_and_large_for_red():
    assert float(fv.chroma(torch.full((1, 3, 4, 4), 0.5))[0]) == pytest.approx(0.0, abs=1e-3)
    red = torch.zeros(1, 3, 4, 4)
    red[:, 0] = 1
    assert float(fv.chroma(red)[0]) == pytest.approx(((0.168736 * 255) ** 2 + 127.5**2) ** 0.5, rel=1e-4)


def test_a_network_may_not_judge_its_own_pictures(model):
    with pytest.raises(ConfigError, match="cannot judge"):
        fv.transferability(torch.rand(1, 3, 64, 64), [1], model, source=model)


def test_transferability_counts_a_judges_top1_and_top5(model, examples):
    from inceptionism.models import load_model

    judge = load_model("efficientnet-lite1")
    cat = F.interpolate(_photo(examples)[None], size=(224, 224), mode="bilinear", antialias=True)
    verdict = fv.transferability(cat.repeat(2, 1, 1, 1), [resolve_class("tabby"), resolve_class("volcano")], judge,
                                 source=model)
    assert verdict.top5.tolist() == [True, False] and float(verdict.probability[1]) < 0.01


def test_sanity_check_says_whose_activation_a_picture_is(model, examples):
    scan = fv.scan_photos(model, LAYER, examples, [7])
    cfg = fv.FeatureVisConfig(size=96, steps=48, seed=0)
    picture = to_tensor(load_image_from(fv.visualize_features(model, [LayerTerm(LAYER, 7)], cfg)[0].image))[0]
    own = fv.sanity(model, LAYER, 7, picture, scan.means)
    other = fv.sanity(model, LAYER, 10, picture, scan.means)
    assert own.explained and own.rank == 1 and own.z > 3, own
    assert not other.explained and other.rank > 1
    # a unit that barely varied on the few photos cannot win on its near-zero spread
    unit = 100
    seen = float(_acts(model, picture[None])[0, unit].mean())
    rigged = scan.means.clone()
    rigged[:, unit] = seen - 0.05 + 1e-4 * torch.arange(len(rigged))
    assert fv.sanity(model, LAYER, 7, picture, rigged, spread_floor=0.0).rank > 1
    assert fv.sanity(model, LAYER, 7, picture, rigged).rank == 1


# -- dataset examples ----------------------------------------------------------------------


def test_examples_stream_a_folder_best_first_and_skip_what_is_not_a_picture(model, examples, tmp_path):
    for name in ("chelsea", "coffee", "astronaut"):
        shutil.copy(examples / f"{name}.jpg", tmp_path / f"{name}.jpg")
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg")
    scan = fv.scan_photos(model, LAYER, tmp_path, [7, 10], top=2)
    assert [p.name for p in scan.paths] == ["astronaut.jpg", "chelsea.jpg", "coffee.jpg"]
    assert len(scan.skipped) == 1 and "broken.jpg" in scan.skipped[0]
    for found in scan.examples.values():
        assert len(found) == 2 and found[0].score >= found[1].score
        assert all(0 <= v <= 1 for e in found for v in e.box)
    assert scan.means.shape == (3, 672)


def test_examples_command_writes_a_sheet_and_refuses_a_missing_folder(examples, tmp_path):
    out = tmp_path / "ex.png"
    result = runner.invoke(app, ["examples", LAYER, "7", str(examples), "-o", str(out), "--top", "2", "--quiet"])
    assert result.exit_code == 0, result.output
    assert Image.open(out).size == (320, 160)
    assert len(read_metadata(out)["examples"]["photos"]) == 2
    result = runner.invoke(app, ["examples", LAYER, "7", str(tmp_path / "nowhere"), "-o", str(out)])
    assert result.exit_code != 0 and "is not a folder" in result.output


def test_a_channel_named_twice_is_refused_not_drawn_twice(examples, tmp_path, monkeypatch):
    monkeypatch.setattr(fv, "scan_photos", lambda *a, **k: pytest.fail("scanned for a refused command"))
    for command in (["examples", LAYER, "7,7,7", str(examples)], ["visualize", LAYER, "7,8,7"]):
        result = runner.invoke(app, [*command, "-o", str(tmp_path / "ex.png"), "-q"])
        assert result.exit_code == 2 and "names 7 twice; give each once" in result.output, result.output
    assert not any(tmp_path.iterdir())


def test_visualize_command_names_diversity_pictures_and_judges_classes(tmp_path):
    out = tmp_path / "v.png"
    args = ["visualize", LAYER, "7,3+7", "--param", "maco", "--diversity", "2", "--size", "48", "--steps", "2",
            "--seed", "1", "-o", str(out), "--quiet"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v-3+7-0.png", "v-3+7-1.png", "v-7-0.png", "v-7-1.png"]
    result = runner.invoke(app, ["visualize", "class", "goldfinch", "--param", "fft", "--size", "48", "--steps", "2",
                                 "--judge", "efficientnet-lite2", "-o", str(tmp_path / "c.png"), "--quiet"])
    assert result.exit_code == 0 and "efficientnet-lite2 sees" in result.output, result.output
    result = runner.invoke(app, ["visualize", "class", "goldfinch", "--judge", "efficientnet-lite0",
                                 "-o", str(tmp_path / "d.png")])
    assert result.exit_code != 0 and "cannot judge" in result.output


def test_the_library_judges_class_pictures_as_the_command_does(model, monkeypatch):
    """judge is the library's too (it was taken and ignored): a verdict in each class picture's
    metadata, and a channel picture refused before anything grows."""
    import inceptionism

    shown = inceptionism.visualize("class", "goldfinch", model=model, param="fft", size=48, steps=2, seed=0,
                                   judge="efficientnet-lite1")
    verdict = shown.info["inceptionism"]["judged"]
    assert verdict["network"] == "efficientnet-lite1" and 0 <= verdict["probability"] <= 1
    assert isinstance(verdict["first"], str) and isinstance(verdict["top5"], bool)
    monkeypatch.setattr(fv.units, "render", lambda *a, **k: pytest.fail("a picture grew"))
    with pytest.raises(ConfigError, match=r"judge grades pictures of class:CLASS, not blocks.4.1.bn1:7"):
        inceptionism.visualize(LAYER, 7, model=model, param="fft", size=48, steps=2, judge="efficientnet-lite1")


def test_visualize_command_writes_where_the_objective_looked_beside_each_picture(tmp_path):
    """The importance map (MACO's) goes beside the picture with its parameters; the pixel path,
    which keeps none, refuses the flag before anything is written."""
    out = tmp_path / "m.png"
    args = ["visualize", LAYER, "7", "--param", "maco", "--transforms", "none", "--size", "64", "--steps", "4",
            "--seed", "0", "--importance", "-o", str(out), "--quiet"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    heat = np.asarray(Image.open(tmp_path / "m-importance.png"), np.float32)
    assert heat.shape == (64, 64) and heat.max() == 255 and heat.std() > 5
    assert read_metadata(tmp_path / "m-importance.png")["visualize"]["param"] == "maco"
    result = runner.invoke(app, ["visualize", LAYER, "7", "--importance", "-o", str(tmp_path / "p.png")])
    assert result.exit_code == 2 and "importance works with param fft, alpha or maco" in result.output
    assert not (tmp_path / "p.png").exists()


def test_gallery_shows_dataset_examples_beside_each_channel(model, examples, tmp_path):
    from inceptionism.gallery import add_examples, build_gallery

    layer = "blocks.0.0.bn1"  # 32 channels: a small gallery
    cfg = fv.FeatureVisConfig(size=32, steps=2, seed=0)
    build_gallery(model, layer, tmp_path, cfg, batch=32)
    assert add_examples(model, layer, tmp_path, examples, cfg) == 4
    page = (tmp_path / "index.html").read_text()
    assert page.count('class="ex"') == 64 and (tmp_path / "ex-0031.jpg").is_file()
    assert Image.open(tmp_path / "ex-0000.jpg").size == (288, 96)


def test_pictures_grown_from_a_photo_report_every_step(model, examples):
    from inceptionism.engine import Callbacks
    from inceptionism.command_config import VisualizeConfig
    from inceptionism.unit_pictures import visualize_targets

    seen = []
    cfg = VisualizeConfig(photo=str(examples / "chelsea.jpg"), param="fft", size=48, steps=3, seed=0)
    shown = list(visualize_targets(model, unit_terms(model, LAYER, "7,10"), cfg, callbacks=Callbacks(on_step=seen.append)))
    assert [v.target for v in shown] == [7, 10]
    assert [(s.octave, s.octaves, s.step) for s in seen] == [(k, 2, step) for k in (1, 2) for step in (1, 2, 3)]
