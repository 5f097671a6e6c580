"""The dream loop: the objective rises, octaves, detail, tiles, filters, seeds."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.flop_counter import FlopCounterMode

import inceptionism
from inceptionism import engine
from inceptionism.config import DreamConfig
from inceptionism.engine import ascent, tiles
from inceptionism.engine.filters import cascade_smooth, gaussian_blur, lap_normalize
from inceptionism.errors import ConfigError, ImageError, LayerError
from inceptionism.objectives import parse
from inceptionism.taps import capture

from .support import hf_fraction


def test_defaults_at_least_double_the_objective_on_a_sample_photo(model, examples):
    result = inceptionism.render(examples / "chelsea.jpg", model=model, seed=0)
    assert result.config.preset == "classic"
    assert result.score_end >= 2.0 * result.score_start, (result.score_start, result.score_end)


@pytest.mark.parametrize("params", [
    {"objective": "mean"},
    {"grad_norm": "std"},
    {"lapnorm": True, "smooth": 0.0},
    {"layers": "blocks.3.1.bn1:5*2,blocks.2.0.bn1"},
    {"preset": "deep"},
])
def test_objective_rises_for_each_option(model, small_photo, params):
    result = inceptionism.render(small_photo, model=model, seed=1, octaves=2, steps=4, **params)
    assert result.score_end > result.score_start


def test_negative_weight_suppresses(model, small_photo):
    up = inceptionism.render(small_photo, model=model, seed=1, octaves=1, steps=5, layers="blocks.4.1.bn1")
    down = inceptionism.render(small_photo, model=model, seed=1, octaves=1, steps=5, layers="blocks.4.1.bn1*-1")
    assert up.score_end > up.score_start
    assert down.score_end > down.score_start  # the negated objective rose ...
    assert -down.score_end < up.score_start  # ... so the layer's own L2 fell


def test_plan_goes_above_input_and_skips_tiny_octaves():
    run, skipped = engine.plan_octaves(100, 200, [-4, -3, 0, 2], 1.4, 32)
    assert [(o.k, o.height, o.width) for o in run] == [(-3, 36, 73), (0, 100, 200), (2, 196, 392)]
    assert [o.k for o in skipped] == [-4]


def test_skipped_octaves_are_reported_not_fatal(model, small_photo):
    notices = []
    out = inceptionism.dream(small_photo, model=model, seed=0, octaves=4, steps=1, on_notice=notices.append)
    assert out.size == (96, 64)
    assert any("skipping octave -3" in n and "minimum input size of 32" in n for n in notices)


def test_octave_range_above_input_returns_input_size(model, small_photo):
    sizes = []
    out = inceptionism.dream(
        small_photo, model=model, seed=0, octave_range="0:2", steps=1,
        on_step=lambda info: sizes.append((info.k, info.width, info.height)),
    )
    assert out.size == (96, 64)
    assert sizes == [(0, 96, 64), (1, 134, 90), (2, 188, 125)]


def test_image_below_minimum_size_is_an_error(model):
    with pytest.raises(ImageError, match=r"image 20x20 is too small for efficientnet-lite0"):
        inceptionism.dream(np.zeros((20, 20, 3), np.uint8), model=model, seed=0)


def test_only_the_detail_is_carried_so_the_picture_stays_sharp(model, examples):
    # With (almost) no dreaming, four octaves must give back the photo itself, not a
    # blurred copy of its smallest octave.
    src = Image.open(examples / "chelsea.jpg").convert("RGB")
    out = inceptionism.dream(src, model=model, seed=0, octaves=4, steps=1, step_size=1e-6)
    diff = np.abs(np.asarray(out, np.int16) - np.asarray(src, np.int16))
    assert diff.max() <= 1
    assert hf_fraction(out) == pytest.approx(hf_fraction(src), rel=0.01)


def test_same_seed_same_bytes_other_seed_differs(model, small_photo):
    a = inceptionism.dream(small_photo, model=model, seed=5, octaves=2, steps=3)
    b = inceptionism.dream(small_photo, model=model, seed=5, octaves=2, steps=3)
    c = inceptionism.dream(small_photo, model=model, seed=6, octaves=2, steps=3)
    assert a.tobytes() == b.tobytes()
    assert a.tobytes() != c.tobytes()


def test_unseeded_runs_record_their_seed(model, small_photo):
    first = inceptionism.render(small_photo, model=model, octaves=1, steps=1)
    again = inceptionism.render(small_photo, model=model, octaves=1, steps=1, seed=first.config.seed)
    assert first.image.tobytes() == again.image.tobytes()


def test_alpha_is_kept(model):
    rgba = np.zeros((64, 64, 4), np.uint8)
    rgba[..., :3] = 120
    rgba[..., 3] = np.linspace(0, 255, 64, dtype=np.uint8)[None, :]
    out = inceptionism.dream(Image.fromarray(rgba, "RGBA"), model=model, seed=0, octaves=1, steps=2)
    assert out.mode == "RGBA"
    assert np.array_equal(np.asarray(out)[..., 3], rgba[..., 3])


def test_channel_out_of_range_gives_the_range(model, small_photo):
    with pytest.raises(LayerError, match=r"channel 700 is out of range for layer 'blocks.4.1.bn1': 0 to 671"):
        inceptionism.dream(small_photo, model=model, layers="blocks.4.1.bn1:700")


def test_tile_below_model_minimum_is_refused(model, small_photo):
    with pytest.raises(ConfigError, match="tile_size 16 is below efficientnet-lite0's minimum input size of 32"):
        inceptionism.dream(small_photo, model=model, tile_size=16)


def test_early_layer_costs_clearly_less_than_late_layer(model):
    def flops(layer: str) -> int:
        x = torch.rand(1, 3, 128, 128, requires_grad=True)
        with capture(model, [layer]) as run, FlopCounterMode(display=False) as counter:
            run(x)[layer].square().mean().backward()
        return counter.get_total_flops()

    assert flops("blocks.2.0.bn1") * 2.5 < flops("blocks.5.0.bn1")


def _gradients(model, x, tile, shifts):
    objective = parse("blocks.4.1.bn1,blocks.5.0.bn1")
    with capture(model, sorted(objective.layers)) as run:
        whole = tiles.objective_gradient(run, objective, x, tile=max(x.shape[-2:]), shift=(0, 0))[1]
        return whole, [tiles.objective_gradient(run, objective, x, tile=tile, shift=s)[1] for s in shifts]


def test_tiled_gradient_matches_whole_gradient_inside_tiles(model, examples):
    src = Image.open(examples / "coffee.jpg").convert("RGB").resize((192, 128))
    x = torch.from_numpy(np.asarray(src, np.float32) / 255).permute(2, 0, 1)[None]
    whole, (tiled,) = _gradients(model, x, 96, [(0, 0)])
    inside = (slice(None), slice(None), slice(16, 48), slice(16, 80))  # >= 16 px from every tile border
    corr = torch.corrcoef(torch.stack([whole[inside].flatten(), tiled[inside].flatten()]))[0, 1]
    assert corr > 0.6  # the deep layer's receptive field is wide; it still sees mostly the same thing


def _error_profile(whole: torch.Tensor, tiled: list[torch.Tensor]) -> torch.Tensor:
    """Mean |tiled - whole| gradient per column over steps, relative to the column's |whole|."""
    error = sum((g - whole).abs().mean((0, 1, 2)) for g in tiled) / len(tiled)
    return error / whole.abs().mean((0, 1, 2))


def test_random_tile_offsets_spread_border_errors_so_no_seam_builds_up(model, examples):
    # Near a tile border the network sees padding instead of the neighbour, so that
    # tile's gradient is wrong there. With the grid fixed the error piles up on the
    # same columns every step (a seam); the engine's random offsets must spread it.
    src = Image.open(examples / "coffee.jpg").convert("RGB").resize((256, 128))
    x = torch.from_numpy(np.asarray(src, np.float32) / 255).permute(2, 0, 1)[None]
    gen = torch.Generator().manual_seed(0)
    shifts = [ascent._shift(gen, 0, 64, 128, 256) for _ in range(24)]
    whole, moving = _gradients(model, x, 64, shifts)
    _, fixed = _gradients(model, x, 64, [(0, 0)] * 24)

    near = torch.zeros(256, dtype=torch.bool)
    for border in (64, 128, 192):
        near[border - 10 : border + 4] = True  # SAME padding puts the error just before a border

    def concentration(profile: torch.Tensor) -> float:
        return float(profile[near].mean() / profile[~near].mean())

    fixed_c, moving_c = concentration(_error_profile(whole, fixed)), concentration(_error_profile(whole, moving))
    assert fixed_c > 1.3, fixed_c
    assert moving_c < 1.1 and moving_c < 0.8 * fixed_c, (moving_c, fixed_c)


def test_auto_tile_size_bounds_a_4000x3000_photo(model):
    objective = parse("blocks.4.1.bn1,blocks.5.0.bn1")
    side = tiles.auto_tile_size(model, objective.layers, 3000, 4000)
    assert model.spec.min_size <= side < 3000
    per_pixel = tiles.activation_bytes_per_pixel(model, objective.layers)
    assert side * side * per_pixel < 3 << 30  # one tile's saved activations stay under 3 GiB
    assert tiles.auto_tile_size(model, objective.layers, 128, 96) == 128  # small images go whole
    # On a CPU, huge single passes are slow per pixel: even when memory allows, tiles stay <= 1024.
    assert tiles.auto_tile_size(model, objective.layers, 1200, 1100) <= 1024


def test_split_even():
    assert tiles.split_even(600, 512) == [(0, 300), (300, 600)]
    assert tiles.split_even(100, 512) == [(0, 100)]


def test_gradient_normalization_units():
    g = torch.randn(1, 3, 32, 32) * 7
    cfg = DreamConfig(smooth=0.0)
    assert ascent.normalize_gradient(g, cfg, 0.0).abs().mean().item() == pytest.approx(1.0, rel=1e-4)
    std_cfg = DreamConfig(smooth=0.0, grad_norm="std")
    assert ascent.normalize_gradient(g, std_cfg, 0.0).std().item() == pytest.approx(1.0, rel=1e-4)


def test_smoothing_keeps_colour_and_softens_noise():
    g = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0)) + torch.tensor([1.0, 0.0, -1.0]).view(1, 3, 1, 1)
    s = cascade_smooth(g, 2.0)
    assert torch.allclose(s.mean((2, 3)), g.mean((2, 3)), atol=0.02)  # mean colour kept
    assert (s - gaussian_blur(s, 1.0)).std() < 0.2 * (g - gaussian_blur(g, 1.0)).std()


@pytest.mark.parametrize("sigma", [0.4, 1.0, 2.5, 6.0])
def test_fft_smoothing_equals_direct_convolution_with_reflected_borders(sigma):
    # The FFT path must be the same filter as the direct separable convolution,
    # borders included: an odd, non-square image, a radius far from its sides.
    from inceptionism.engine.filters import _spatial_blur

    g = torch.randn(1, 3, 83, 130, generator=torch.Generator().manual_seed(1))
    direct = sum(_spatial_blur(g, s) for s in (0.5 * sigma, sigma, 2 * sigma)) / 3
    fast = cascade_smooth(g, sigma)
    assert fast.shape == g.shape
    assert (fast - direct).abs().max() < 1e-5
    assert (gaussian_blur(g, sigma) - _spatial_blur(g, sigma)).abs().max() < 1e-5


def test_lap_normalize_balances_frequency_bands():
    gen = torch.Generator().manual_seed(0)
    noise = torch.randn(1, 3, 64, 64, generator=gen)
    out = lap_normalize(noise, 4)
    hf_in = (noise - gaussian_blur(noise, 1.0)).square().mean() / noise.square().mean()
    hf_out = (out - gaussian_blur(out, 1.0)).square().mean() / out.square().mean()
    assert hf_out < 0.6 * hf_in


def test_lapnorm_visualization_has_less_high_frequency_energy(model):
    from inceptionism.objectives import LayerTerm
    from inceptionism.command_config import VisualizeConfig
    from inceptionism.unit_pictures import visualize_targets as visualize

    args = dict(size=96, octaves=2, steps=10, seed=0)
    (plain,) = visualize(model, [LayerTerm("blocks.4.1.bn1", 7)], VisualizeConfig(**args))
    (lap,) = visualize(model, [LayerTerm("blocks.4.1.bn1", 7)], VisualizeConfig(lapnorm=True, **args))
    for vis in (plain, lap):
        assert vis.metadata["score_end"] > vis.metadata["score_start"]
    assert hf_fraction(lap.image) < 0.6 * hf_fraction(plain.image)


def test_visualize_returns_a_picture_with_its_parameters():
    pic = inceptionism.visualize("blocks.3.0.bn1", 2, size=64, octaves=1, steps=2, seed=0, device="cpu")
    assert pic.size == (64, 64)
    assert pic.info["inceptionism"]["config"]["layers"] == "blocks.3.0.bn1:2"


def test_a_bf16_network_step_raises_the_objective_as_an_fp32_step_does(model, examples):
    x = torch.from_numpy(np.array(Image.open(examples / "chelsea.jpg").convert("RGB").resize((128, 96))))
    x = (x.permute(2, 0, 1)[None].float() / 255).contiguous()
    objective = parse("blocks.4.1.bn1,blocks.5.0.bn1")
    with capture(model, sorted(objective.layers)) as run:
        v32, g32 = tiles.objective_gradient(run, objective, x, tile=128, shift=(0, 0))
        v16, g16 = tiles.objective_gradient(run, objective, x, tile=128, shift=(0, 0), precision="bf16")
        assert g16.dtype == torch.float32 and v16.dtype == torch.float32  # the image side stays fp32
        assert abs(v16.item() - v32.item()) < 0.01 * v32.item()
        cosine = torch.nn.functional.cosine_similarity(g16.flatten(), g32.flatten(), dim=0)
        assert 0.8 < cosine < 0.9999  # the same direction, and really computed in bf16

        def gain(g):  # the fp32 objective after one small normalized step along g: a step of 0.02 went past
            # the objective's peak along g, where the two gains' ratio was 0.86 on one CPU and above 0.9 on others
            return tiles.objective_value(run, objective, x + 0.005 * g / g.abs().mean(), tile=128) - v32

        assert gain(g16) > 0.9 * gain(g32) > 0


def test_precision_must_be_known():
    with pytest.raises(ConfigError, match="precision 'fp8' is not one of auto, fp32, bf16"):
        DreamConfig(precision="fp8")


def test_recursive_and_detail_octaves_both_climb_and_differ(model, small_photo):
    args = dict(model=model, octaves=3, steps=4, seed=2, max_size=96)
    detail = inceptionism.render(small_photo, **args)
    recursive = inceptionism.render(small_photo, octave_mode="recursive", octave_blend=0.7, **args)
    for result in (detail, recursive):
        assert result.score_end > 1.05 * result.score_start  # the objective rose
    a, b = (np.asarray(r.image, np.float32) for r in (detail, recursive))
    assert np.abs(a - b).mean() > 2.0  # a different picture, not the same one twice
    assert recursive.config.octave_mode == "recursive" and recursive.metadata["config"]["octave_blend"] == 0.7
    with pytest.raises(ConfigError, match="octave_blend = 2.0 is out of range"):
        inceptionism.render(small_photo, octave_blend=2, **args)


def test_tv_weight_makes_the_dream_smoother(model, small_photo):
    def total_variation(image) -> float:
        a = np.asarray(image, np.float32)
        return float(np.abs(np.diff(a, axis=0)).mean() + np.abs(np.diff(a, axis=1)).mean())

    args = dict(model=model, octaves=2, steps=8, seed=5, max_size=96, smooth=0.0, preset="deep")
    plain = inceptionism.render(small_photo, **args)
    smooth = inceptionism.render(small_photo, tv_weight=0.2, **args)
    assert total_variation(smooth.image) < 0.85 * total_variation(plain.image)
    assert smooth.score_end > smooth.score_start  # still a dream: the objective rose


def test_schedules_go_from_the_first_octave_to_the_last(model, small_photo):
    cfg = DreamConfig(octaves=3, steps="6:2", step_size="0.012:0.004", jitter=[8, 0], smooth="0:2")
    assert [cfg.for_octave(k).steps for k in cfg.octave_indices()] == [6, 4, 2]
    assert [round(cfg.for_octave(k).step_size, 4) for k in cfg.octave_indices()] == [0.012, 0.008, 0.004]
    assert [cfg.for_octave(k).jitter for k in cfg.octave_indices()] == [8, 4, 0] and cfg.total_steps() == 12
    seen = []
    result = inceptionism.render(small_photo, cfg.replace(seed=1, max_size=96), model=model,
                                 callbacks=engine.Callbacks(on_step=lambda info: seen.append((info.octave, info.steps))))
    assert [n for _, n in sorted(set(seen))] == [6, 4, 2]  # each octave ran its own number of steps
    assert result.metadata["config"]["step_size"] == [0.012, 0.004]  # recorded as the schedule
    assert DreamConfig.from_dict(result.metadata["config"]).step_size == (0.012, 0.004)
    with pytest.raises(ConfigError, match="step_size = -0.1 is out of range"):
        DreamConfig(step_size="0.01:-0.1")
    with pytest.raises(ConfigError, match="steps 'a:b' is not a number or START:END"):
        DreamConfig(steps="a:b")


def test_a_cancel_takes_effect_within_a_step_of_many_tiles(model, small_photo):
    from inceptionism.engine import Callbacks

    tiles = []

    def cancel_at_the_third_tile() -> None:
        tiles.append(1)
        if len(tiles) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        inceptionism.render(small_photo, model=model, steps=1, octaves=1, tile_size=32, seed=0,
                            callbacks=Callbacks(on_tile=cancel_at_the_third_tile))
    assert len(tiles) == 3  # a 96x64 picture in 32 px tiles is 6 tiles a step: it stopped inside the step
