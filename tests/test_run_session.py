"""The run owner without Qt: the spec's identity, one start rule for every tab, the cached start, the size."""

import numpy as np
import pytest
import torch

from core.diffusion.parameterization import x0_eps_from_output
from core.diffusion.samplers import DDIMScheduler, DDPMScheduler, SamplerConfig, ddim_step, ddpm_step
from core.diffusion.schedulers import sample_loop
from core.diffusion.schedules import NoiseSchedule, index_from_paper_t, matching_index
from core.models.checkpoint import LoadedModel
from core.models.unet import UNet, UNetConfig
from core.runs import chain
from core.runs.compare import CompareRun, compare_chains
from core.runs.inversion import inversion_frames
from core.runs.record import RunRecord
from core.runs.session import RunSession
from core.runs.spec import RunSpec, start_index

LINEAR, COSINE = NoiseSchedule.linear(1000), NoiseSchedule.cosine(1000)


@pytest.fixture
def model():
    """A fully convolutional net (no attention): it runs at any size divisible by its two levels."""
    torch.manual_seed(0)
    net = UNet(UNetConfig(base_channels=8, channel_mults=(1, 2), attention_resolutions=(), groups=4, image_size=8))
    return LoadedModel(net.eval(), NoiseSchedule.cosine(40), "eps", 8, 3, torch.device("cpu"), "tiny")


@pytest.fixture
def image():
    return np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)


def test_the_forward_t_means_one_noise_level_on_any_schedule():
    index = start_index(LINEAR, 400, COSINE)
    assert abs(COSINE.abar(index) - LINEAR.abar(399)) < 2e-3  # ᾱ ≈ 0.20 on both
    assert index > 650  # a fraction of T (index 399, ᾱ ≈ 0.65 on the cosine schedule) would be far less noisy
    assert start_index(COSINE, 400, COSINE) == 399 and start_index(LINEAR, 0, COSINE) == -1
    assert matching_index(LINEAR, 399, LINEAR) == 399


def test_abar_owns_the_clean_end():
    assert COSINE.abar(-1) == 1.0 and COSINE.abar(0) == float(COSINE.alphas_cumprod[0])
    with pytest.raises(IndexError):
        COSINE.abar(1000)


def test_specs_are_equal_exactly_when_they_describe_the_same_run(model, image):
    config = SamplerConfig("ddim", steps=5)
    a, b = RunSpec(model, config, image, 20), RunSpec(model, SamplerConfig("ddim", steps=5), image, 20)
    assert a == b and hash(a) == hash(b)
    assert a != RunSpec(model, SamplerConfig("ddim", steps=5, seed=1), image, 20)
    assert a != RunSpec(model, config, image.copy(), 20)  # another loaded picture is another run
    assert a != RunSpec(model, config, image, 20, size=16)
    assert a.size == 8 and RunSpec(model, config, image, 20, size=16).shape == (1, 3, 16, 16)


def test_the_model_size_start_is_cropped_once_per_image_and_size(model, image, monkeypatch):
    crops = []
    real = chain.center_square
    monkeypatch.setattr(chain, "center_square", lambda im, size: crops.append(size) or real(im, size))
    first = chain.model_x0(model, image)
    for _ in range(5):
        torch.testing.assert_close(chain.model_x0(model, image), first)
    assert chain.model_x0(model, image, 16).shape == (1, 3, 16, 16)
    assert crops == [8, 16]
    assert chain.model_x0(model, image.copy()) is not None and crops == [8, 16, 8]


def test_the_session_clears_a_record_of_another_run_and_caches_its_start(model, image):
    session, events = RunSession(), []
    for name in ("spec_changed", "run_started", "run_cleared", "run_finished"):
        session.connect(name, lambda *args, name=name: events.append(name))
    spec = RunSpec(model, SamplerConfig("ddim", steps=4), image, 20)
    assert session.set_spec(spec) and not session.set_spec(RunSpec(model, SamplerConfig("ddim", steps=4), image, 20))
    x, x0 = session.start()
    assert session.start()[0] is x and x.shape == (1, 3, 8, 8)
    record = session.new_record()
    session.begin(record, job=7)
    assert session.current and session.job == 7 and session.playback.total_frames == 5
    assert record.run() and len(session.frames()) == 5
    session.set_spec(RunSpec(model, SamplerConfig("ddim", steps=5), image, 20))
    assert session.record is None and not session.current
    assert events == ["spec_changed", "run_started", "run_cleared", "spec_changed"]
    torch.testing.assert_close(session.start()[1], x0)  # the same image: the same x₀


def test_the_preview_is_the_start_the_run_takes(model, image):
    session = RunSession()
    session.set_spec(RunSpec(model, SamplerConfig("ddpm"), image, 25))
    x, _ = session.start()
    record = session.new_record()
    record.run()
    torch.testing.assert_close(record.frames[0].x_t, x[0])


def test_every_path_runs_at_the_specs_size(model, image):
    spec = RunSpec(model, SamplerConfig("ddim", steps=3), image, 20, size=16)
    record = RunRecord(spec)
    assert record.run() and record.x0.shape == (3, 16, 16)
    assert {tuple(f.x_t.shape) for f in record.frames.snapshot()} == {(3, 16, 16)}
    ticks = list(compare_chains([CompareRun(model, SamplerConfig("ddim", steps=3))], image, 20, size=16))
    assert ticks[-1][0].x_t.shape == (3, 16, 16)
    frames = list(inversion_frames(model, image, steps=3, size=16))
    assert frames[-1].reconstruction.shape == (3, 16, 16)


def test_a_scheduler_step_is_the_samplers_step(model):
    s, gen = model.schedule, torch.Generator().manual_seed(0)
    x, out, z = (torch.randn(1, 3, 8, 8, generator=gen, dtype=torch.float64) for _ in range(3))
    ddpm = DDPMScheduler(s, SamplerConfig("ddpm", variance="fixed_large"), "eps")
    assert ddpm.timesteps() == list(range(39, -1, -1)) and ddpm.needs_noise(1) and not ddpm.needs_noise(0)
    torch.testing.assert_close(
        ddpm.step(out, 17, x, z).prev_sample, ddpm_step(s, x, 17, out, z, "eps", "fixed_large", True)[0]
    )
    ddim = DDIMScheduler(s, SamplerConfig("ddim", steps=4, eta=0.5), "eps", start_index=30)
    assert ddim.timesteps()[0] == 30 and ddim.prev_index(ddim.timesteps()[-1]) == -1
    i = ddim.timesteps()[1]
    expected = ddim_step(s, x, i, ddim.prev_index(i), out, 0.5, z, "eps", True)[0]
    torch.testing.assert_close(ddim.step(out, i, x, z).prev_sample, expected)


def test_each_step_carries_the_networks_eps_hat(model):
    v_model = LoadedModel(model.network, model.schedule, "v", 8, 3, model.device, "v")
    x = torch.randn(1, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    for step in sample_loop(v_model, v_model.schedule, SamplerConfig("ddim", steps=4), x, prediction="v"):
        _, eps = x0_eps_from_output(v_model.schedule, step.x_t, step.index, step.model_output, "v")
        torch.testing.assert_close(step.eps_hat, eps)
    assert index_from_paper_t(step.index + 1) == step.index
