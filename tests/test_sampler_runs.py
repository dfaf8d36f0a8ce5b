"""The σ samplers in the window's runs: the Reverse panel, Compare and the run owner drive them through the same
Scheduler interface as DDPM and DDIM, and land where the lab's solvers land from the same x_T."""

import numpy as np
import pytest
import torch
from PySide6.QtCore import QSettings

from app.panels.reverse import START_NOISE
from app.window import MainWindow
from core.diffusion import ode_samplers as ode
from core.diffusion.samplers import SamplerConfig, run_scheduler
from core.diffusion.schedulers import make_scheduler, model_scheduler, sample_loop
from core.diffusion.schedules import NoiseSchedule
from core.models.checkpoint import LoadedModel, load_model, save_model
from core.models.unet import UNet, UNetConfig
from core.runs.chain import run_chain
from core.runs.lab import run_lab
from core.runs.spec import RunSpec

TINY = UNetConfig(base_channels=8, channel_mults=(1, 2), attention_resolutions=(), groups=4, image_size=8)


def tiny_model(prediction: str = "v") -> LoadedModel:
    torch.manual_seed(0)
    net = UNet(TINY).eval()
    for p in net.parameters():
        torch.nn.init.normal_(p, std=0.05)

    def forward(x, t):  # an untrained UNet barely reads t: a term that does, so a wrong (rounded) t shows
        return net(x, t) + 0.3 * torch.sin(t.to(x.dtype) / 3).reshape(-1, 1, 1, 1) * x

    return LoadedModel(net, NoiseSchedule.cosine(60), prediction, 8, 3, torch.device("cpu"), "tiny", forward=forward)


@pytest.fixture
def window(qtbot, tmp_path):
    torch.manual_seed(0)
    net = UNet(TINY)
    for p in net.parameters():
        torch.nn.init.normal_(p, std=0.05)
    folder = save_model(tmp_path / "tiny", net, NoiseSchedule.cosine(60), "v")
    w = MainWindow(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    w.set_model(load_model(folder))
    w.state.set_image(np.random.default_rng(0).integers(0, 256, (24, 24, 3), dtype=np.uint8), "noise.png")
    w.state.set_t(30)
    yield w
    w.reverse.shutdown()
    w.compare.shutdown()
    w.bound_worker.shutdown()


def choose(combo, data) -> None:
    combo.setCurrentIndex(combo.findData(data))


def lab_final(model, x_T, sampler: str, nfe: int, spacing: str | None = None) -> torch.Tensor:
    """The lab's final sample, unclamped (a run's last frame is clamped to [−1, 1]; its x̂₀ before is not)."""
    result = run_lab(ode.SigmaDenoiser(model), x_T, [sampler], [nfe], reference_nfe=3, spacing=spacing)
    return result.runs[0].final[0].float()


def last_x0_hat(frames) -> torch.Tensor:
    """The x̂₀ of a σ sampler's last call: its step to σ = 0 lands there (EDM Alg. 1, line 6), unclamped."""
    torch.testing.assert_close(frames[-2].x0_hat.clamp(-1, 1), frames[-1].x_t)
    return frames[-2].x0_hat


# -- the run owner -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["euler", "heun", "dpmpp2m"])
@pytest.mark.parametrize("spacing", ["karras", "trailing"])
def test_a_sigma_samplers_run_is_the_labs_solver_from_the_same_x_T(name, spacing):
    model = tiny_model()
    spec = RunSpec(model, SamplerConfig(name, steps=7, spacing=spacing))
    frames = list(run_chain(spec))
    entry = ode.SAMPLERS[name]
    assert len(frames) == entry.nfe(entry.steps_for_nfe(7)) + 1  # one frame per network call, then the sample
    x_T = frames[0].x_t[None]
    torch.testing.assert_close(last_x0_hat(frames), lab_final(model, x_T, name, 7, spacing), rtol=1e-4, atol=1e-4)


def test_heuns_corrector_calls_repeat_an_index_and_every_call_has_its_frame():
    model = tiny_model()
    scheduler = model_scheduler(model, SamplerConfig("heun", steps=7, spacing="trailing"))
    steps = scheduler.timesteps()
    assert len(steps) == 7 and steps[1] == steps[2]  # σ_1 twice: the Euler point, then the corrected state
    pairs = scheduler.pairs()
    assert pairs[0][1] == pairs[1][0] and pairs[-1][1] == -1


def test_euler_ancestral_takes_its_noise_from_the_runs_generator():
    model = tiny_model()
    x_T = torch.randn(1, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    config = SamplerConfig("euler_a", steps=6, spacing="trailing")
    steps = list(
        sample_loop(model, model.schedule, config, x_T, prediction="v", generator=torch.Generator().manual_seed(2))
    )
    alone = ode.sample(
        "euler_a", ode.SigmaDenoiser(model), x_T, 6, "trailing", generator=torch.Generator().manual_seed(2)
    )
    torch.testing.assert_close(steps[-1].x_prev, alone, rtol=1e-4, atol=1e-4)


def test_a_scheduler_runs_twice_the_same():
    model = tiny_model()
    scheduler = make_scheduler(SamplerConfig("dpmpp2m", steps=5), model.schedule, "v", fractional_index=True)
    x_T = torch.randn(1, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    first = list(run_scheduler(model, scheduler, x_T))[-1].x_prev
    again = list(run_scheduler(model, scheduler, x_T))[-1].x_prev
    torch.testing.assert_close(first, again)


@pytest.mark.parametrize(
    ("config", "prediction", "said"),
    [
        (SamplerConfig("heun", steps=2), "v", "Heun needs at least 3 network calls"),
        (SamplerConfig("euler", steps=61, spacing="trailing"), "v", "only 60 distinct steps"),
        (SamplerConfig("dpmpp2m", steps=10, zero_terminal_snr=True), "eps", "zero terminal SNR with an ε-prediction"),
        (SamplerConfig("ddim", steps=10, zero_terminal_snr=True), "eps", "zero terminal SNR with an ε-prediction"),
    ],
)
def test_what_a_sampler_cannot_do_is_one_line(config, prediction, said):
    with pytest.raises(ValueError, match=said):
        make_scheduler(config, NoiseSchedule.cosine(60), prediction, fractional_index=True)


def test_zero_terminal_snr_runs_a_v_model_from_sigma_max_of_the_rescaled_schedule():
    model = tiny_model("v")
    scheduler = model_scheduler(model, SamplerConfig("euler", steps=4, spacing="trailing", zero_terminal_snr=True))
    assert scheduler.call_sigmas[0] == pytest.approx(float(ode.model_sigmas(scheduler.schedule)[-1]))
    frames = list(run_chain(RunSpec(model, scheduler.config)))
    assert torch.isfinite(frames[-1].x_t).all()


# -- the window --------------------------------------------------------------------------------------------------


def test_heun_in_the_reverse_panel_lands_on_the_labs_heun_from_the_same_x_T(window, qtbot):
    panel = window.reverse
    panel.start_from.setCurrentText(START_NOISE)
    choose(panel.sampler, "heun")
    assert panel.spacing.currentData() == "karras"  # the spacing follows the sampler to its own
    assert panel.steps.prefix() == "NFE " and not panel.eta.isEnabled()
    panel.steps.setValue(9)
    with qtbot.waitSignal(panel.run_finished, timeout=30000) as done:
        panel.start()
    assert done.args[1] is True
    frames = panel.frames()
    assert len(frames) == 10 and frames[-1].final  # 9 network calls, then the sample
    assert frames[3].x0_hat.abs().sum() > 0  # each call's x̂₀ is on show as for DDIM
    x_T = panel.session.start()[0]
    torch.testing.assert_close(last_x0_hat(frames), lab_final(window.model, x_T, "heun", 9), rtol=1e-4, atol=1e-4)
    panel.seek(3)
    assert "x̂₀" in panel.view_pred.caption or "predicted" in panel.view_pred.caption


@pytest.mark.parametrize(
    ("sampler", "spacing", "bad", "said"),
    [
        ("heun", "karras", lambda p: p.steps.setValue(2), "Heun needs at least 3 network calls"),
        ("ddim", "trailing", lambda p: choose(p.spacing, "karras"), "karras spacing is for"),
        ("euler", "trailing", lambda p: p.steps.setValue(70), "only 30 distinct steps from t = 30"),
    ],
)
def test_a_setting_no_sampler_can_run_is_one_status_line_and_the_run_is_kept(
    window, qtbot, sampler, spacing, bad, said
):
    panel = window.reverse
    choose(panel.sampler, sampler)
    choose(panel.spacing, spacing)
    panel.steps.setValue(5)
    with qtbot.waitSignal(panel.run_finished, timeout=30000):
        panel.start()
    kept, frames = panel.session.spec, len(panel.frames())
    bad(panel)
    assert said in panel.status.text() and "\n" not in panel.status.text()
    assert panel.session.spec is kept and len(panel.frames()) == frames  # the old run stays on show
    panel.start()
    assert len(panel.frames()) == frames  # Play refuses too, and keeps it


def test_zero_terminal_snr_with_an_eps_model_is_refused_in_the_reverse_panel(window, tmp_path):
    window.set_model(load_model(save_model(tmp_path / "eps", UNet(TINY), NoiseSchedule.cosine(60), "eps")))
    panel = window.reverse
    choose(panel.sampler, "dpmpp2m")
    panel.zero_snr.setChecked(True)
    assert "ε-prediction" in panel.status.text()


def test_compare_runs_two_samplers_side_by_side_each_as_it_runs_alone(window, qtbot):
    panel = window.compare
    panel.start_from.setCurrentIndex(0)  # pure noise, one x_T for all
    for row in panel.rows[2:]:
        row.enabled.setChecked(False)
    choose(panel.rows[0].sampler, "heun")
    panel.rows[0].steps.setValue(9)
    choose(panel.rows[1].sampler, "dpmpp2m")
    panel.rows[1].steps.setValue(6)
    assert panel.rows[0].spacing.currentData() == "karras" and not panel.rows[0].eta.isEnabled()
    with qtbot.waitSignal(panel.worker.finished, timeout=60000):
        panel.start()
    ticks = panel.ticks()
    assert len(ticks) == 10 and all(f.final for f in ticks[-1])  # Heun's 9 calls set the pace
    assert "Heun 9 NFE karras" in panel.titles[0] and "DPM-Solver++(2M) 6 NFE edm" in panel.titles[1]
    for row, frame in zip(panel.rows[:2], ticks[-1], strict=True):
        alone = list(run_chain(RunSpec(window.model, row.config(panel.seed.value()))))
        torch.testing.assert_close(frame.x_t, alone[-1].x_t, rtol=1e-4, atol=1e-4)
        if row is panel.rows[0]:  # the tick before the end shows Heun's 8th call: its x̂₀ is unclamped
            before = ticks[-2][0]
            torch.testing.assert_close(before.x0_hat, alone[before.n].x0_hat, rtol=1e-4, atol=1e-4)
    assert not torch.allclose(ticks[-1][0].x_t, ticks[-1][1].x_t)


def test_compare_refuses_a_run_no_sampler_can_take_in_one_line(window, qtbot):
    panel = window.compare
    choose(panel.rows[0].sampler, "heun")
    panel.rows[0].steps.setValue(1)
    with qtbot.assertNotEmitted(panel.worker.finished):
        assert panel.start() is None
    assert "needs at least 3 network calls" in panel.status.text()
