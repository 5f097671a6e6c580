"""Steering: guides, classes, suppression, masks, neurons, Fourier visualization, galleries."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import inceptionism
from inceptionism.errors import ConfigError, ImageError, LayerError, OutputError
from inceptionism.featurevis import FeatureVisConfig, visualize_features
from inceptionism.gallery import build_gallery, cached_gallery
from inceptionism.images import picture_from_pil, to_tensor
from inceptionism.labels import GROUPS, resolve_class, resolve_classes
from inceptionism.objectives import LayerTerm, parse_terms
from inceptionism.taps import capture

from .support import hf_fraction, modules_a_dream_imports


def _photo(examples, name: str, size: tuple[int, int]) -> Image.Image:
    return Image.open(examples / f"{name}.jpg").convert("RGB").resize(size, Image.Resampling.LANCZOS)


def _probs(model, image: Image.Image) -> torch.Tensor:
    x = F.interpolate(to_tensor(picture_from_pil(image)), size=(224, 224), mode="bilinear", antialias=True)
    with torch.no_grad():
        return model(x).softmax(-1)[0]


def _best_match_cosine(model, image: Image.Image, guide: Image.Image, layer: str) -> float:
    with capture(model, [layer]) as run, torch.no_grad():
        x = run(to_tensor(picture_from_pil(image)))[layer][0].flatten(1)
        g = run(to_tensor(picture_from_pil(guide)))[layer][0].flatten(1)
    cos = F.normalize(x, dim=0).T @ F.normalize(g, dim=0)  # (N, M)
    return float(cos.max(1).values.mean())


def test_guide_makes_features_match_the_guide(model, examples, tmp_path):
    src, guide = _photo(examples, "chelsea", (192, 128)), _photo(examples, "coffee", (192, 128))
    guide_path = tmp_path / "guide.png"
    guide.save(guide_path)
    params = dict(model=model, seed=0, octaves=2, steps=8)
    plain = inceptionism.dream(src, **params)
    guided = inceptionism.dream(src, guide=[str(guide_path)], **params)
    layer = "blocks.5.0.bn1"
    before = _best_match_cosine(model, src, guide, layer)
    assert _best_match_cosine(model, guided, guide, layer) > _best_match_cosine(model, plain, guide, layer) + 0.02
    assert _best_match_cosine(model, guided, guide, layer) > before


def test_class_visualization_from_noise_is_recognized(model):
    names = ["banana", "goldfinch", "volcano", "lemon", "tabby"]
    indices = [resolve_class(n) for n in names]
    results = visualize_features(model, [LayerTerm("class", i, kind="class") for i in indices], FeatureVisConfig(size=160, steps=96, seed=0), batch=5)
    probs = [float(_probs(model, r.image)[i]) for r, i in zip(results, indices)]
    assert sum(p >= 0.9 for p in probs) >= 4, dict(zip(names, probs))


def test_class_dreamed_into_a_photo_raises_its_probability(model, examples):
    src = _photo(examples, "coffee", (192, 128))
    banana = resolve_class("banana")
    out = inceptionism.dream(src, model=model, seed=0, octaves=2, steps=8, target_class="banana")
    assert out.info["inceptionism"]["config"]["layers"] is None  # the class alone is the objective
    assert _probs(model, out)[banana] > 10 * _probs(model, src)[banana]


def test_avoid_dog_lowers_dog_probability(model, examples):
    src = _photo(examples, "chelsea", (192, 128))
    dogs = torch.tensor(resolve_classes("dog"))
    params = dict(model=model, seed=0, octaves=3, steps=10, preset="deep")
    plain = inceptionism.dream(src, **params)
    avoided = inceptionism.dream(src, avoid_class="dog", **params)
    p_plain, p_avoided = float(_probs(model, plain)[dogs].sum()), float(_probs(model, avoided)[dogs].sum())
    assert p_avoided < 0.5 * p_plain, (p_plain, p_avoided)


def test_mask_black_untouched_white_dreamed(model, examples, tmp_path):
    src = _photo(examples, "coffee", (192, 128))
    mask = np.zeros((64, 96), np.uint8)  # half the size: resized automatically
    mask[:, 48:] = 255
    mask_path = tmp_path / "mask.png"
    Image.fromarray(mask, "L").save(mask_path)
    out = np.asarray(inceptionism.dream(src, model=model, seed=0, octaves=2, steps=6, mask=str(mask_path)), np.int16)
    ref = np.asarray(src, np.int16)
    assert np.abs(out[:, :94] - ref[:, :94]).max() <= 1  # black half, away from the resized edge
    assert np.abs(out[:, 98:] - ref[:, 98:]).mean() > 5  # white half dreamed


@pytest.mark.parametrize("make, message", [
    (lambda p: p.write_text("not an image"), "mask '.*' is not an image format"),
    (lambda p: Image.new("RGB", (96, 64), (255, 0, 0)).save(p), "has colours; it must be greyscale"),
    (lambda p: Image.new("L", (64, 64), 255).save(p), r"is 64x64 but the image is 192x128"),
])
def test_bad_masks(model, examples, tmp_path, make, message):
    path = tmp_path / "mask.png"
    make(path)
    with pytest.raises(ImageError, match=message):
        inceptionism.dream(_photo(examples, "coffee", (192, 128)), model=model, mask=str(path))


def test_guide_that_is_not_an_image(model, small_photo, tmp_path):
    bad = tmp_path / "guide.jpg"
    bad.write_bytes(b"\x00" * 100)
    with pytest.raises(ImageError, match=r"guide '.*guide.jpg' is not an image format"):
        inceptionism.dream(small_photo, model=model, guide=[str(bad)])


def test_unknown_class_suggests_names(model, small_photo):
    with pytest.raises(ConfigError, match=r"unknown class 'bananna'; did you mean banana"):
        inceptionism.dream(small_photo, model=model, target_class="bananna")
    with pytest.raises(ConfigError, match="class 1000 is out of range: 0 to 999"):
        resolve_class(1000)


def test_class_names_and_groups():
    assert resolve_class("Tabby Cat") == resolve_class("tabby") == 281
    assert resolve_class("954") == 954
    assert resolve_classes("dog")[0] == 151 and len(resolve_classes("dogs")) == 118
    assert resolve_classes("banana, 1, cat") == sorted({954, 1, *range(281, 286)})
    assert set(GROUPS) >= {"dog", "cat"}


def test_imagenet_names_are_read_without_timm_and_equal_timms(tmp_path):
    from inceptionism.labels import _imagenet_from_files, _imagenet_from_timm

    assert _imagenet_from_files() == _imagenet_from_timm()  # timm's own reader
    imported = modules_a_dream_imports(tmp_path / "out.png", "--class", "tabby cat")
    assert not {name for name in imported if name.split(".")[0] == "timm"}


def test_neuron_and_class_terms_parse():
    assert parse_terms("blocks.4.1.bn1:3@2,5*0.5, class:954, class:tiger_cat") == [
        LayerTerm("blocks.4.1.bn1", 3, 0.5, (2, 5)),
        LayerTerm("class", 954, kind="class"),
        LayerTerm("class", None, class_name="tiger cat", kind="class"),
    ]
    with pytest.raises(ConfigError, match="needs a channel"):
        parse_terms("blocks.4.1.bn1@2,5")


def test_neuron_objective_rises_and_position_is_checked(model, small_photo):
    with capture(model, ["blocks.4.1.bn1"]) as run, torch.no_grad():
        acts = run(to_tensor(picture_from_pil(Image.open(small_photo))))["blocks.4.1.bn1"][0]
    live = int(((acts[:, 2, 3] > 0.5) & (acts[:, 2, 3] < 5.5)).float().argmax())  # active, not saturated
    layers = f"blocks.4.1.bn1:{live}@2,3"
    result = inceptionism.render(small_photo, model=model, seed=0, octaves=1, steps=6, layers=layers)
    assert result.score_end > result.score_start
    with pytest.raises(LayerError, match=r"neuron position 9,1 is outside layer 'blocks.4.1.bn1', which is 4x6"):
        inceptionism.dream(small_photo, model=model, layers="blocks.4.1.bn1:5@9,1")


def test_fft_beats_pixels_at_the_same_step_count(model):
    from inceptionism.command_config import VisualizeConfig
    from inceptionism.unit_pictures import visualize_targets as visualize

    layer, channel, steps = "blocks.4.1.bn1", 7, 60
    (fft,) = visualize(model, [LayerTerm(layer, channel)], VisualizeConfig(param="fft", size=128, steps=steps, seed=0))
    (pixel,) = visualize(model, [LayerTerm(layer, channel)], VisualizeConfig(size=128, octaves=3, steps=steps // 3, seed=0))

    def activation(image: Image.Image) -> float:
        with capture(model, [layer]) as run, torch.no_grad():
            return float(run(to_tensor(picture_from_pil(image)))[layer][0, channel].mean())

    a_fft, a_pixel = activation(fft.image), activation(pixel.image)
    assert a_fft > a_pixel or (a_fft >= 0.95 * a_pixel and hf_fraction(fft.image) < hf_fraction(pixel.image))


def test_batched_channels_each_excite_their_own_channel(model):
    layer, channels = "blocks.3.1.bn1", [3, 10, 20]
    results = visualize_features(model, [LayerTerm(layer, c) for c in channels], FeatureVisConfig(size=96, steps=32, seed=0), batch=3)
    for vis in results:
        with capture(model, [layer]) as run, torch.no_grad():
            means = run(to_tensor(picture_from_pil(vis.image)))[layer][0].flatten(1).mean(1)
        others = [c for c in channels if c != vis.target]
        assert means[vis.target] > means[others].max()


def test_gallery_renders_then_uses_the_cache(model, tmp_path, monkeypatch):
    monkeypatch.setenv("INCEPTIONISM_HOME", str(tmp_path / "home"))
    cfg = FeatureVisConfig(size=48, steps=4, seed=0)
    first = build_gallery(model, "blocks.0.0.bn2", tmp_path / "g1", cfg)
    assert (first.channels, first.rendered) == (16, 16)
    html = first.index.read_text()
    assert html.count('class="cell"') == 16 and 'href="#c15"' in html and 'id="c15"' in html
    assert Image.open(tmp_path / "g1" / "ch-0015.png").size == (48, 48)
    again = cached_gallery(model.spec.name, model.weights_sha256, "blocks.0.0.bn2", tmp_path / "g2", cfg)
    assert again is not None and again.rendered == 0 and (tmp_path / "g2" / "ch-0007.png").is_file()
    assert cached_gallery(model.spec.name, model.weights_sha256, "blocks.0.0.bn2", tmp_path / "g3",
                          FeatureVisConfig(size=48, steps=5, seed=0)) is None  # other parameters: not cached

    def full_disk(source, target):  # half a picture written, then the disk is full
        target.write(source.read(100))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("inceptionism.gallery.shutil.copyfileobj", full_disk)
    with pytest.raises(OutputError, match=r"cannot write '.*g4/ch-0000\.png': No space left on device$"):
        cached_gallery(model.spec.name, model.weights_sha256, "blocks.0.0.bn2", tmp_path / "g4", cfg)
    assert list((tmp_path / "g4").iterdir()) == []  # no half-written picture (shutil.copyfile left one)


def _chroma_distance(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute difference of the Cb and Cr planes (0..255)."""
    ca = np.asarray(a.convert("YCbCr"), np.float32)[..., 1:]
    cb = np.asarray(b.convert("YCbCr"), np.float32)[..., 1:]
    return float(np.abs(ca - cb).mean())


def test_keep_colors_keeps_the_photos_chroma_and_the_dreams_luminance(model, examples):
    photo = Image.open(examples / "coffee.jpg").convert("RGB")
    args = dict(model=model, preset="deep", max_size=160, octaves=2, steps=6, seed=0)
    plain = inceptionism.dream(photo, **args)
    kept = inceptionism.dream(photo, keep_colors=True, **args)
    small = photo.resize(plain.size, Image.Resampling.BILINEAR)
    assert _chroma_distance(plain, small) > 3 * _chroma_distance(kept, small)
    assert _chroma_distance(kept, small) < 2.0
    luma = lambda im: np.asarray(im.convert("L"), np.float32)  # noqa: E731
    assert np.abs(luma(kept) - luma(plain)).mean() < 2.0  # the dream's patterns stay
    assert kept.info["inceptionism"]["config"]["keep_colors"] is True


@pytest.mark.parametrize("mode", ["strong", "weak", "avg"])
def test_channels_chosen_by_the_picture(model, small_photo, mode):
    from inceptionism.images import load_image, to_tensor
    from inceptionism.taps import capture

    result = inceptionism.render(small_photo, model=model, layers="blocks.4.1.bn1", channels=f"{mode}:4",
                                 octaves=1, steps=2, seed=0)  # fmt: skip
    chosen = [int(term.split(":")[1]) for term in result.config.layers.split(",")]
    assert len(chosen) == 4 and all(t.startswith("blocks.4.1.bn1:") for t in result.config.layers.split(","))
    assert result.metadata["config"]["layers"] == result.config.layers  # recorded, so --config reproduces it
    assert result.metadata["channels_chosen_by"] == f"{mode}:4" and result.config.channels is None
    again = inceptionism.render(small_photo, inceptionism.DreamConfig.from_dict(result.metadata["config"]), model=model)
    assert np.array_equal(np.asarray(again.image), np.asarray(result.image))
    with capture(model, ["blocks.4.1.bn1"]) as run, torch.no_grad():
        means = run(to_tensor(load_image(small_photo)))["blocks.4.1.bn1"][0].mean((1, 2))
    others = [c for c in range(means.numel()) if c not in chosen]
    if mode == "strong":
        assert means[chosen].min() >= means[others].max()
    elif mode == "weak":
        assert means[chosen].max() <= means[others].min()
    else:
        distance = (means - means.median()).abs()
        assert distance[chosen].max() <= distance[others].min()


@pytest.mark.parametrize("text", ["strong:0", "loud:3", "strong", "avg:x"])
def test_bad_channel_modes_name_the_option(text):
    with pytest.raises(ConfigError, match=f"channels '{text}' is not MODE:K"):
        inceptionism.DreamConfig(channels=text)


def test_the_checks_probe_the_network_at_its_small_size_unless_a_position_needs_more(model, monkeypatch):
    """A pass at 224 px was 0.05 s of every command; names and channels are the same at 64 px."""
    from inceptionism import taps
    from inceptionism.api import check_config, resolve_config

    sizes = []
    listed = taps._list_layers_cached
    monkeypatch.setattr(taps, "_list_layers_cached", lambda m, size: sizes.append(size) or listed(m, size))
    check_config(resolve_config(seed=0, layers="blocks.4.1.bn1:3,45-46*0.5"), model, 512, 512)
    assert set(sizes) == {model.spec.probe_size} == {64}
    with pytest.raises(LayerError, match="channel 9999"):
        check_config(resolve_config(seed=0, layers="blocks.4.1.bn1:9999"), model, 512, 512)
    sizes.clear()
    check_config(resolve_config(seed=0, layers="blocks.4.1.bn1:3@2,2"), model, 512, 512)
    assert 224 in sizes  # a neuron's position is checked against the layer's size, measured at 224 px
