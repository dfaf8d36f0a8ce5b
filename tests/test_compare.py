"""Runs side by side: lockstep by fraction, one batched network call per step, identical to running alone."""

import numpy as np
import pytest
import torch

from core.diffusion.samplers import SamplerConfig
from core.diffusion.schedules import NoiseSchedule
from core.errors import DiffusionVizError
from core.models.checkpoint import LoadedModel
from core.models.unet import UNet, UNetConfig
from core.runs.chain import run_chain
from core.runs.compare import CompareRun, compare_chains, parse_runs
from core.runs.spec import RunSpec


@pytest.fixture
def model():
    torch.manual_seed(0)
    net = UNet(UNetConfig(base_channels=8, channel_mults=(1, 2), attention_resolutions=(), groups=4, image_size=8))
    for p in net.parameters():
        torch.nn.init.normal_(p, std=0.05)
    calls = []

    def forward(x, t):
        calls.append(len(t))
        return net(x, t)

    m = LoadedModel(net.eval(), NoiseSchedule.cosine(40), "eps", 8, 3, torch.device("cpu"), "tiny", forward=forward)
    m.calls = calls
    return m


def test_runs_advance_together_and_end_together(model):
    runs = [CompareRun(model, SamplerConfig("ddpm")), CompareRun(model, SamplerConfig("ddim", steps=10))]
    ticks = list(compare_chains(runs, seed=3))
    assert len(ticks) == 1 + 40  # the start, then the longest run's steps
    assert all(f.final for f in ticks[-1])
    assert ticks[20][0].n == 19 and ticks[20][1].n in (4, 5)  # halfway through DDPM, DDIM is halfway too


def test_one_batched_call_per_step_with_per_sample_t(model):
    runs = [CompareRun(model, SamplerConfig("ddim", steps=20)) for _ in range(4)]
    list(compare_chains(runs, seed=0))
    assert model.calls == [4] * 20


def test_identical_configs_give_identical_runs_and_equal_the_run_alone(model):
    config = SamplerConfig("ddpm", seed=5)
    runs = [CompareRun(model, config), CompareRun(model, config)]
    last = list(compare_chains(runs, seed=5))[-1]
    torch.testing.assert_close(last[0].x_t, last[1].x_t)
    alone = list(run_chain(RunSpec(model, config)))[-1]
    torch.testing.assert_close(last[0].x_t, alone.x_t, rtol=1e-4, atol=1e-4)


def test_from_an_image_every_run_starts_from_the_same_noised_image(model):
    image = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    runs = [CompareRun(model, SamplerConfig("ddim", steps=5)), CompareRun(model, SamplerConfig("ddpm"))]
    start = next(compare_chains(runs, image=image, paper_t=20, seed=1))
    assert start[0].t == start[1].t == 20
    torch.testing.assert_close(start[0].x_t, start[1].x_t)


def test_the_runs_option_parses_and_refuses_nonsense(model):
    runs = parse_runs("ddpm:1000, ddim:50, ddim:10:1", model)
    assert [r.config.sampler for r in runs] == ["ddpm", "ddim", "ddim"] and runs[2].config.eta == 1.0
    for bad in ("", "ddpm,ddim,ddim,ddim,ddim", "lms:10", "ddim:ten", "heun:2", "ddim:10:karras"):
        with pytest.raises(DiffusionVizError):
            parse_runs(bad, model)


def test_models_of_different_sizes_share_one_comparison_each_at_its_own_size():
    from core.runs.pictures import compare_pictures

    def tiny(attention, run_size=None):
        torch.manual_seed(0)
        cfg = UNetConfig(base_channels=8, channel_mults=(1, 2), attention_resolutions=attention, groups=4, image_size=8)
        config = {"architecture": {"attention_resolutions": list(attention), "channel_mults": [1, 2]}}
        if run_size:
            config["run_size"] = run_size
        net = UNet(cfg).eval()
        return LoadedModel(net, NoiseSchedule.cosine(40), "eps", 8, 3, torch.device("cpu"), "m", config=config)

    conv, attn = tiny((), run_size=64), tiny((4,))
    runs = [CompareRun(conv, SamplerConfig("ddim", steps=3)), CompareRun(attn, SamplerConfig("ddim", steps=3))]
    ticks = list(compare_chains(runs, seed=0))
    assert tuple(ticks[-1][0].x_t.shape[-2:]) == (64, 64)  # the convolutional model at its default run size
    assert tuple(ticks[-1][1].x_t.shape[-2:]) == (8, 8)  # the one with attention at its own
    pictures = compare_pictures(ticks, ["conv", "attn"], label=False)
    assert pictures[-1].shape[0] >= 64  # both columns shown at one display size


def test_a_comparison_animation_opens_on_the_runs_start_not_a_grey_square(model):
    """Tick 0 has no prediction yet: its x̂₀ column shows the x_t each run starts from, titled so."""
    from core.imaging.scaling import tensor_to_images
    from core.runs.pictures import compare_pictures

    runs = [CompareRun(model, SamplerConfig("ddim", steps=3)), CompareRun(model, SamplerConfig("ddim", steps=2))]
    ticks = list(compare_chains(runs, seed=0))
    first = compare_pictures(ticks, ["a", "b"], what="x0", label=False)[0]
    start = tensor_to_images(ticks[0][0].x_t)
    assert first.std() > 20  # noise, not the flat grey of an all-zero x̂₀
    h, w = start.shape[:2]
    np.testing.assert_array_equal(first[:h, :w], start)
