"""The σ samplers: each equals diffusers' scheduler of the same name, the identities between them, their orders,
oracle models landing on their one image, and the refusals a user meets."""

import math

import numpy as np
import pytest
import torch

from core.diffusion import ode_samplers as ode
from core.diffusion.ode_samplers import SAMPLERS, SamplerError, SigmaDenoiser
from core.diffusion.samplers import ddim_loop, final_step
from core.diffusion.schedules import NoiseSchedule
from tests.helpers import oracle

DIFFUSERS_PREDICTION = {"eps": "epsilon", "v": "v_prediction", "x0": "sample"}


def smooth_model(x, t):
    """A network stand-in: a smooth function of the input and of the (fractional) index."""
    return 0.7 * torch.tanh(x) + 0.2 * torch.sin(t.to(x.dtype) / 150).reshape(-1, *([1] * (x.ndim - 1)))


@pytest.fixture
def x_T(gen):
    return torch.randn(2, 3, 4, 4, generator=gen, dtype=torch.float64)


def diffusers_loop(sched, x, model, *, generator=None, vp=False):
    """diffusers' own sampling loop: scale the input, call the model at its timestep, step."""
    for t in sched.timesteps:
        inp = sched.scale_model_input(x, t)
        out = model(inp, t.reshape(1).expand(x.shape[0]).to(torch.float64))
        extra = {} if generator is None else {"generator": generator}
        x = sched.step(out, t, x, **extra).prev_sample
    return x


def ours(name, schedule, x_T, steps, spacing, prediction, *, fractional=True, generator=None, x_tilde=None):
    """Our sampler from x_T (at σ_max, x̃ = x_T √(1 + σ_max²)), or from a given x̃."""
    denoiser = SigmaDenoiser(smooth_model, schedule, prediction, fractional_index=fractional)
    if x_tilde is None:
        return ode.sample(name, denoiser, x_T, steps, spacing, generator=generator)
    sigmas = ode.run_sigmas(SAMPLERS[name], denoiser, steps, spacing).tolist()
    return ode.solve(SAMPLERS[name].rule(sigmas, x_tilde, generator=generator, schedule=schedule), denoiser)


# -- the σ grid and the model's index, against diffusers -----------------------------------------------------------


def test_sigma_to_index_is_diffusers_log_sigma_interpolation():
    diffusers = pytest.importorskip("diffusers")
    s = NoiseSchedule.cosine()
    sched = diffusers.EulerDiscreteScheduler(trained_betas=s.betas.numpy())
    log_sigmas = np.log(ode.model_sigmas(s).numpy())
    sigmas = np.exp(np.random.default_rng(0).uniform(log_sigmas[0] - 1, log_sigmas[-1] + 1, 200))
    theirs = sched._sigma_to_t(sigmas, log_sigmas)
    assert np.allclose(ode.index_from_sigma(s, torch.from_numpy(sigmas)).numpy(), theirs, atol=1e-9)
    exact = ode.index_from_sigma(s, ode.model_sigmas(s)[[0, 17, 500, 999]])
    assert exact.tolist() == [0, 17, 500, 999]


@pytest.mark.parametrize("spacing", ["leading", "trailing"])
def test_spacings_give_diffusers_sigmas(spacing):
    diffusers = pytest.importorskip("diffusers")
    s = NoiseSchedule.linear()
    sched = diffusers.EulerDiscreteScheduler(trained_betas=s.betas.numpy(), timestep_spacing=spacing)
    sched.set_timesteps(10)
    assert np.allclose(
        ode.sampler_sigmas(s, 10, spacing).numpy(), sched.sigmas.numpy(), rtol=2e-4
    )  # diffusers keeps β in float32


def test_karras_sigmas_and_their_indices_are_diffusers():
    diffusers = pytest.importorskip("diffusers")
    s = NoiseSchedule.linear()
    euler = diffusers.EulerDiscreteScheduler(trained_betas=s.betas.numpy(), use_karras_sigmas=True)
    euler.set_timesteps(12)
    ours_sigmas = ode.sampler_sigmas(s, 12, "karras")
    assert np.allclose(ours_sigmas.numpy(), euler.sigmas.numpy(), rtol=2e-4)  # diffusers keeps β in float32
    assert np.allclose(ode.index_from_sigma(s, ours_sigmas[:-1]).numpy(), euler.timesteps.numpy(), atol=0.01)
    dpm = diffusers.DPMSolverMultistepScheduler(trained_betas=s.betas.numpy(), use_karras_sigmas=True)
    dpm.set_timesteps(12)  # a model of integer indices is called at the rounded index, as here
    assert ode.index_from_sigma(s, ours_sigmas[:-1]).round().tolist() == dpm.timesteps.tolist()


# -- each step rule equals diffusers' scheduler of the same name -------------------------------------------------


@pytest.mark.parametrize("prediction", ["eps", "v"])
@pytest.mark.parametrize("spacing", ["trailing", "karras"])
def test_heun_equals_diffusers_heun_in_float64(x_T, prediction, spacing):
    diffusers = pytest.importorskip("diffusers")
    s = NoiseSchedule.linear()
    sched = diffusers.HeunDiscreteScheduler(
        trained_betas=s.betas.numpy(),
        prediction_type=DIFFUSERS_PREDICTION[prediction],
        timestep_spacing=spacing if spacing != "karras" else "linspace",
        use_karras_sigmas=spacing == "karras",
    )
    sched.set_timesteps(8)
    sigmas = ode.sampler_sigmas(s, 8, spacing)
    # diffusers keeps σ in float32; give it ours in float64, in its layout σ_0, σ_1, σ_1, …, σ_7, σ_7, 0
    sched.sigmas = torch.cat([sigmas[:1], sigmas[1:-1].repeat_interleave(2), sigmas[-1:]])
    index = ode.index_from_sigma(s, sigmas[:-1])  # and the same (fractional) indices: the same model outputs
    sched.timesteps = torch.cat([index[:1], index[1:].repeat_interleave(2)])
    theirs = diffusers_loop(sched, x_T * math.sqrt(1 + sigmas[0].item() ** 2), smooth_model)
    assert len(sched.timesteps) == SAMPLERS["heun"].nfe(8) == 15
    mine = ours("heun", s, x_T, 8, spacing, prediction)
    assert torch.allclose(mine, theirs, rtol=1e-10, atol=1e-10)
    assert not torch.allclose(mine, ours("euler", s, x_T, 8, spacing, prediction), atol=1e-3)


@pytest.mark.parametrize("prediction", ["eps", "v"])
@pytest.mark.parametrize("steps", [6, 20])
def test_dpm_solver_pp_2m_equals_diffusers_in_float64(x_T, prediction, steps):
    diffusers = pytest.importorskip("diffusers")
    s = NoiseSchedule.cosine()
    sched = diffusers.DPMSolverMultistepScheduler(
        trained_betas=s.betas.numpy(),
        prediction_type=DIFFUSERS_PREDICTION[prediction],
        algorithm_type="dpmsolver++",
        solver_order=2,
        timestep_spacing="trailing",
    )
    sched.set_timesteps(steps)
    sigmas = ode.sampler_sigmas(s, steps, "trailing")
    assert np.allclose(sched.sigmas.numpy(), sigmas.numpy(), rtol=2e-4)  # diffusers keeps β in float32
    sched.sigmas = sigmas.clone()  # float64
    theirs = diffusers_loop(sched, x_T, smooth_model)  # DPM-Solver works on x_t itself
    mine = ours("dpmpp2m", s, x_T, steps, "trailing", prediction)
    assert torch.allclose(mine, theirs, atol=1e-10)
    assert not torch.allclose(mine, ours("ddim", s, x_T, steps, "trailing", prediction), atol=1e-4)


@pytest.mark.parametrize("prediction", ["eps", "v"])
def test_euler_equals_diffusers_euler(x_T, prediction):
    diffusers = pytest.importorskip("diffusers")
    s = NoiseSchedule.linear()
    sched = diffusers.EulerDiscreteScheduler(
        trained_betas=s.betas.numpy(), prediction_type=DIFFUSERS_PREDICTION[prediction], timestep_spacing="trailing"
    )
    sched.set_timesteps(10)
    sigmas = ode.sampler_sigmas(s, 10, "trailing")
    sched.sigmas = sigmas.clone()
    # diffusers starts Euler at x̃ = σ_max x_T where x_T/√ᾱ_T = √(1 + σ_max²) x_T is exact; start both at one x̃
    x_tilde = x_T * sched.init_noise_sigma
    theirs = diffusers_loop(sched, x_tilde, smooth_model)
    # diffusers' Euler steps in float32 whatever the input (it casts the sample): equal to float32's rounding
    mine = ours("euler", s, x_T, 10, "trailing", prediction, x_tilde=x_tilde)
    assert torch.allclose(mine, theirs, atol=1e-5 * theirs.abs().max())
    assert not torch.allclose(mine, ours("euler", s, x_T, 9, "trailing", prediction), rtol=1e-2)


def test_euler_ancestral_equals_diffusers_with_the_same_generator(x_T):
    diffusers = pytest.importorskip("diffusers")
    s = NoiseSchedule.linear()
    sched = diffusers.EulerAncestralDiscreteScheduler(trained_betas=s.betas.numpy(), timestep_spacing="trailing")
    sched.set_timesteps(10)
    sched.sigmas = ode.sampler_sigmas(s, 10, "trailing")
    x_tilde = x_T * sched.init_noise_sigma
    theirs = diffusers_loop(sched, x_tilde, smooth_model, generator=torch.Generator().manual_seed(5))
    mine = ours("euler_a", s, x_T, 10, "trailing", "eps", generator=torch.Generator().manual_seed(5), x_tilde=x_tilde)
    assert torch.allclose(mine, theirs, atol=1e-5 * theirs.abs().max())  # float32 inside diffusers, as Euler
    other = ours("euler_a", s, x_T, 10, "trailing", "eps", generator=torch.Generator().manual_seed(6))
    assert not torch.allclose(mine, other, atol=1e-2)


# -- identities -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("spacing", ["trailing", "linspace"])
@pytest.mark.parametrize("prediction", ["eps", "x0", "v"])
def test_ddim_eta_zero_is_euler_in_sigma(x_T, spacing, prediction):
    s = NoiseSchedule.cosine()
    program_ddim = final_step(
        ddim_loop(smooth_model, s, x_T, num_steps=12, eta=0.0, spacing=spacing, prediction=prediction, clip_x0=False)
    ).x_prev
    euler = ours("euler", s, x_T, 12, spacing, prediction, fractional=False)
    assert torch.allclose(euler, program_ddim, atol=1e-10)
    assert torch.allclose(ours("ddim", s, x_T, 12, spacing, prediction, fractional=False), program_ddim, atol=1e-10)


def test_dpm_solver_pp_first_order_is_ddim(x_T):
    s = NoiseSchedule.linear()
    denoiser = SigmaDenoiser(smooth_model, s, "eps", fractional_index=False)
    sigmas = ode.sampler_sigmas(s, 15, "trailing")
    x = x_T * math.sqrt(1 + sigmas[0].item() ** 2)
    first = ode.solve(ode.dpm_solver_pp(sigmas.tolist(), x, order=1), denoiser)
    program_ddim = final_step(ddim_loop(smooth_model, s, x_T, num_steps=15, clip_x0=False)).x_prev
    assert torch.allclose(first, program_ddim, atol=1e-10)
    second = ode.solve(ode.dpm_solver_pp(sigmas.tolist(), x, order=2), denoiser)
    assert not torch.allclose(second, program_ddim, atol=1e-4)


def gaussian_flow(s2):
    """Data N(0, s²): D(x̃, σ) = s²/(s² + σ²) x̃, and the ODE's solution x̃(σ) = x̃(σ_0) √((s² + σ²)/(s² + σ_0²))."""
    return lambda x, sigma: s2 / (s2 + torch.as_tensor(sigma).reshape(-1, 1) ** 2) * x


@pytest.mark.parametrize(("name", "order"), [("euler", 1), ("heun", 2), ("dpmpp2m", 2)])
def test_solvers_converge_at_their_order_on_a_linear_ode(name, order):
    s2, lo, hi = 0.25, 0.05, 20.0
    x0 = torch.tensor([[1.0, -2.0]], dtype=torch.float64)
    exact = x0 * math.sqrt((s2 + lo**2) / (s2 + hi**2))
    errors = []
    for n in (16, 32, 64, 128):
        sigmas = torch.logspace(math.log10(hi), math.log10(lo), n + 1, dtype=torch.float64).tolist()
        final = ode.solve(SAMPLERS[name].rule(sigmas, x0), gaussian_flow(s2))
        errors.append((final - exact).abs().max().item())
    slope = -np.polyfit(np.log([16, 32, 64, 128]), np.log(errors), 1)[0]
    assert abs(slope - order) < 0.15, (name, slope, errors)


@pytest.mark.parametrize("name", list(SAMPLERS))
@pytest.mark.parametrize("prediction", ["eps", "x0", "v"])
@pytest.mark.parametrize("spacing", ["leading", "trailing"])
def test_every_sampler_with_an_oracle_lands_on_the_image(gen, name, prediction, spacing):
    s = NoiseSchedule.cosine()
    x_star = torch.rand(1, 3, 4, 4, generator=gen, dtype=torch.float64) * 2 - 1
    denoiser = SigmaDenoiser(oracle(s, x_star, prediction), s, prediction, fractional_index=False)
    x_T = torch.randn(x_star.shape, generator=gen, dtype=torch.float64)
    final = ode.sample(name, denoiser, x_T, 7, spacing, generator=gen)
    assert torch.allclose(final, x_star, atol=1e-8)
    assert denoiser.calls == SAMPLERS[name].nfe(7)


def test_batched_runs_equal_single_runs(x_T):
    s = NoiseSchedule.linear()
    denoiser = SigmaDenoiser(smooth_model, s, "v", fractional_index=True)
    names, steps = ["euler", "heun", "dpmpp2m", "ddim"], [3, 5, 9, 4]
    single = [ode.sample(n, denoiser, x_T, k) for n, k in zip(names, steps, strict=True)]
    rules = []
    for n, k in zip(names, steps, strict=True):
        sigmas = ode.run_sigmas(SAMPLERS[n], denoiser, k)
        rules.append(SAMPLERS[n].rule(sigmas.tolist(), x_T * math.sqrt(1 + sigmas[0].item() ** 2), schedule=s))
    denoiser.calls = 0
    batched = ode.solve_batched(rules, denoiser)
    assert denoiser.calls == max(SAMPLERS[n].nfe(k) for n, k in zip(names, steps, strict=True))
    for a, b in zip(single, batched, strict=True):
        assert torch.allclose(a, b, atol=1e-12)


# -- zero terminal SNR -----------------------------------------------------------------------------------------------


def test_zero_terminal_snr_is_lin_et_al_algorithm_1():
    diffusers = pytest.importorskip("diffusers")
    from diffusers.schedulers.scheduling_ddim import rescale_zero_terminal_snr as theirs

    s = NoiseSchedule.linear()
    z = ode.rescale_zero_terminal_snr(s)
    assert float(s.alphas_cumprod[-1]) == pytest.approx(4.036e-5, rel=1e-3)
    assert float(z.alphas_cumprod[-1]) == 0.0 and float(z.betas[-1]) == 1.0
    assert float(z.alphas_cumprod[0]) == pytest.approx(float(s.alphas_cumprod[0]), abs=1e-15)
    assert torch.allclose(z.betas, theirs(s.betas.clone()), atol=1e-12)
    assert diffusers is not None


def test_zero_terminal_snr_refuses_eps_and_samples_v(gen):
    z = ode.rescale_zero_terminal_snr(NoiseSchedule.cosine())
    with pytest.raises(SamplerError, match="ε-prediction"):
        SigmaDenoiser(smooth_model, z, "eps")
    x_star = torch.rand(1, 3, 4, 4, generator=gen, dtype=torch.float64) * 2 - 1
    denoiser = SigmaDenoiser(oracle(z, x_star, "v"), z, "v", fractional_index=False)
    assert denoiser.sigma_max == pytest.approx(4096, rel=1e-3)  # ᾱ_T read as 2^−24, as diffusers does
    final = ode.sample(
        "dpmpp2m", denoiser, torch.randn(x_star.shape, generator=gen, dtype=torch.float64), 10, "trailing"
    )
    assert torch.allclose(final, x_star, atol=1e-8)


# -- refusals ------------------------------------------------------------------------------------------------------


def test_too_few_network_calls_are_refused_in_one_line():
    heun = SAMPLERS["heun"]
    with pytest.raises(SamplerError, match="Heun needs at least 3 network calls \\(2 calls a step\\), asked 2"):
        heun.steps_for_nfe(2)
    assert heun.steps_for_nfe(3) == 2 and heun.steps_for_nfe(10) == 5 and heun.nfe(5) == 9
    assert SAMPLERS["euler"].steps_for_nfe(1) == 1
    with pytest.raises(SamplerError):
        SAMPLERS["dpmpp2m"].steps_for_nfe(0)


def test_spacings_with_duplicate_steps_are_refused():
    s = NoiseSchedule.linear()
    with pytest.raises(SamplerError, match="puts two steps on one of the model's 1000 indices"):
        ode.sampler_sigmas(s, 300, "karras", integer_indices=True)
    assert len(ode.sampler_sigmas(s, 300, "karras")) == 301  # a fractional-index model has no duplicates
    with pytest.raises(SamplerError, match="only 50 distinct steps"):
        ode.sampler_sigmas(NoiseSchedule.linear(50), 60, "trailing")
    with pytest.raises(SamplerError, match="cannot use karras spacing"):
        ode.sample("ddim", SigmaDenoiser(smooth_model, s, "eps"), torch.zeros(1, 2), 5, "karras")


# -- the lab ---------------------------------------------------------------------------------------------------------


def test_the_mixture_denoiser_is_the_exact_score_of_core_toy2d():
    from core.runs.lab import MixtureDenoiser
    from core.toy2d import DEFAULT_TRAIN, default_mixture

    schedule, mixture = DEFAULT_TRAIN.make_schedule(), default_mixture()
    denoiser = MixtureDenoiser(mixture, schedule)
    x = torch.randn(50, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    for index in (0, 40, 199):
        sigma = ode.model_sigmas(schedule)[index]
        x_tilde = x * (1 + sigma**2).sqrt()
        eps = mixture.eps_model(schedule)(x, torch.full((50,), index))
        assert torch.allclose(denoiser(x_tilde, sigma), x_tilde - sigma * eps, atol=1e-9)


def test_the_mixture_lab_measures_each_solvers_order():
    from core.runs.lab import MixtureDenoiser, run_lab
    from core.toy2d import DEFAULT_TRAIN, default_mixture

    denoiser = MixtureDenoiser(default_mixture(), DEFAULT_TRAIN.make_schedule())
    x_T = torch.randn(16, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    seen = []
    result = run_lab(
        denoiser,
        x_T,
        ["euler", "heun", "dpmpp2m"],
        [10, 20, 40],
        reference_nfe=399,
        progress=lambda d, t: seen.append(d) or True,
    )
    assert result.reference.nfe == 399 and result.network_calls == 399 == seen[-1]  # one batched call per tick
    assert abs(result.slopes["euler"] - 1) < 0.3 and abs(result.slopes["heun"] - 2) < 0.6, result.slopes
    assert result.slopes["dpmpp2m"] > 1.6, result.slopes
    assert result.run("heun", 20).nfe == 19 and result.run("heun", 40).error < result.run("euler", 40).error
    path = result.run("euler", 10)
    assert len(path.path_lambda) == 10 and np.all(np.diff(path.path_lambda) > 0)  # λ rises as noise falls
    # Each point's own error, whose quadratic mean is the run's: the spread a 2-image average hides.
    assert path.per_sample.shape == (16,) and np.ptp(path.per_sample) > 0
    assert np.sqrt(np.mean(path.per_sample**2)) == pytest.approx(path.error, rel=1e-6)
    assert run_lab(denoiser, x_T, ["euler"], [5], reference_nfe=99, progress=lambda d, t: d < 3) is None


def test_the_samplers_command_writes_one_row_per_sampler_and_nfe(tmp_path, capsys):
    from app.cli import main

    out = tmp_path / "lab.csv"
    args = ["samplers", "--data", "mixture", "--samplers", "euler,heun", "--nfe", "4,8", "--batch", "1"]
    code = main([*args, "--reference-nfe", "63", "--out", str(out), "--plot", str(tmp_path / "e.png")])
    assert code == 0
    rows = out.read_text().splitlines()
    assert rows[0] == "sampler,nfe,nfe_asked,steps,spacing,error,reference"
    assert [r.split(",")[:3] for r in rows[1:]] == [
        ["euler", "4", "4"],
        ["euler", "8", "8"],
        ["heun", "3", "4"],
        ["heun", "7", "8"],
    ]
    assert "slope" in capsys.readouterr().out and (tmp_path / "e.png").stat().st_size > 0


@pytest.mark.parametrize(
    ("extra", "said"),
    [
        (["--samplers", "heun", "--nfe", "2"], "Heun needs at least 3 network calls"),
        (["--samplers", "rk4"], "unknown sampler 'rk4'"),
        (["--nfe", "five"], "--nfe takes whole numbers"),
    ],
)
def test_the_samplers_command_refuses_bad_input_in_one_line(tmp_path, capsys, extra, said):
    from app.cli import main

    assert main(["samplers", "--data", "mixture", *extra, "--out", str(tmp_path / "x.csv")]) == 2
    err = capsys.readouterr().err
    assert said in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.csv").exists()


def test_the_command_lists_what_core_offers():
    from app.commands import samplers as command
    from core.diffusion import samplers
    from core.runs.lab import LAB_NFE, LAB_SAMPLERS

    assert command.SAMPLER_NAMES == tuple(SAMPLERS) and command.SPACINGS == ode.SPACINGS
    assert samplers.ODE_SAMPLERS == tuple(n for n in SAMPLERS if n != "ddim")
    assert samplers.SAMPLERS == ("ddpm", "ddim", *samplers.ODE_SAMPLERS)
    assert command.LAB_SAMPLERS == ",".join(LAB_SAMPLERS) and command.LAB_NFE == ",".join(map(str, LAB_NFE))


def _mixture_lab(qtbot, reference_nfe: int, nfe: str, samplers: tuple[str, ...]):
    """The lab panel on the mixture, with these NFE and samplers ticked (not yet run)."""
    from app.panels.lab import LabPanel
    from app.state import ViewState

    panel = LabPanel(ViewState())
    qtbot.addWidget(panel)
    panel.data.setCurrentIndex(panel.data.findData("mixture"))
    panel.reference_nfe = reference_nfe
    panel.nfe.setText(nfe)
    for name, box in panel.checks.items():
        box.setChecked(name in samplers)
    return panel


def test_the_lab_panel_runs_the_mixture_and_draws_it(qtbot):
    panel = _mixture_lab(qtbot, 99, "4, 8", ("euler", "dpmpp2m"))
    with qtbot.waitSignal(panel.worker.finished, timeout=120_000):
        panel.run_button.click()
    assert panel.result is not None and panel.result.samplers == ["euler", "dpmpp2m"]
    assert "slope" in panel.status.text() and panel.grid_view.image() is not None
    panel.checks["heun"].setChecked(True)
    panel.nfe.setText("2")
    panel.run_button.click()  # refused in one line, the last result kept
    assert "Heun needs at least 3 network calls" in panel.status.text() and panel.result.samplers == [
        "euler",
        "dpmpp2m",
    ]
    panel.shutdown()


def test_the_lab_panel_puts_every_sampler_on_one_spacing_when_asked(qtbot):
    panel = _mixture_lab(qtbot, 19, "4", ("ddim", "dpmpp2m"))
    panel.spacing.setCurrentIndex(panel.spacing.findData("linspace"))
    with qtbot.waitSignal(panel.worker.finished, timeout=120_000):
        panel.run_button.click()
    assert {r.spacing for r in panel.result.runs} == {"linspace"}
    ddim, dpm = (panel.result.run(name, 4) for name in ("ddim", "dpmpp2m"))
    np.testing.assert_array_equal(ddim.sigmas, dpm.sigmas)  # the same steps: only the solvers differ
    panel.spacing.setCurrentIndex(panel.spacing.findData("karras"))
    panel.run_button.click()  # DDIM cannot take Karras σ: one line, the last result kept
    assert "DDIM η=0 cannot use karras spacing" in panel.status.text()
    assert {r.spacing for r in panel.result.runs} == {"linspace"}
    panel.shutdown()
