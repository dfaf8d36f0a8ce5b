"""The 2-D playground's maths (#12): exact mixture scores, samplers on points, data from pictures, Langevin."""

import math

import numpy as np
import pytest
import torch

from core.diffusion.schedules import NoiseSchedule
from core.errors import DataError, DiffusionVizError
from core.imaging.export import write_gif
from core.toy2d import (
    DATASETS,
    DEFAULT_TRAIN,
    NUM_CLASSES,
    GaussianMixture,
    MemorisationPoint,
    TrainSettings,
    check_class,
    check_drawn_points,
    chord_ratio,
    copy_crossing,
    data_crossing,
    ddim_as_flow_euler,
    default_mixture,
    field_on_grid,
    flow_report,
    flow_times,
    guided_model,
    make_dataset,
    make_labelled_dataset,
    memorisation_point,
    memorisation_pool,
    normalise_points,
    playground_run,
    points_from_image,
    reflow,
    render_points_gif_frames,
    sample_toy,
    sliced_wasserstein,
    straightness,
    train_toy,
)

SCHEDULE = DEFAULT_TRAIN.make_schedule()
T = SCHEDULE.T


def nearest_mean_weights(points: np.ndarray, mixture: GaussianMixture) -> torch.Tensor:
    """Fraction of the points nearest to each component's mean."""
    nearest = torch.cdist(torch.from_numpy(points.astype(np.float64)), mixture.means).argmin(1)
    return torch.bincount(nearest, minlength=len(mixture.means)).double() / len(points)


# -- the exact mixture score ----------------------------------------------------------------------------------


@pytest.mark.parametrize("t", [-1, 0, T // 2, T - 1])
def test_mixture_score_is_the_gradient_of_its_log_density(t, gen):
    mixture = default_mixture()
    x = (1.5 * torch.randn(64, 2, generator=gen, dtype=torch.float64)).requires_grad_()
    (grad,) = torch.autograd.grad(mixture.log_prob(x, t, SCHEDULE).sum(), x)
    torch.testing.assert_close(mixture.score(x.detach(), t, SCHEDULE), grad, rtol=1e-10, atol=1e-12)


def test_mixture_score_takes_one_t_per_point(gen):
    mixture = default_mixture()
    x = (1.5 * torch.randn(40, 2, generator=gen, dtype=torch.float64)).requires_grad_()
    t = torch.tensor([-1, 0, 7, T // 2, T - 1] * 8)
    (grad,) = torch.autograd.grad(mixture.log_prob(x, t, SCHEDULE).sum(), x)
    torch.testing.assert_close(mixture.score(x.detach(), t, SCHEDULE), grad, rtol=1e-10, atol=1e-12)
    # Each row agrees with the same point scored at its own t alone.
    for i in (0, 1, 3, 4):
        alone = mixture.score(x.detach()[i : i + 1], int(t[i]), SCHEDULE)
        torch.testing.assert_close(mixture.score(x.detach(), t, SCHEDULE)[i : i + 1], alone)


def test_mixture_log_density_is_the_data_pushed_through_q(gen):
    """q_t(x) = E_{x_0 ~ mixture} N(x; √ᾱ_t x_0, (1 − ᾱ_t) I), estimated by Monte Carlo, matches the closed form."""
    mixture = default_mixture()
    t = 40
    abar = float(SCHEDULE.alphas_cumprod[t])
    x0 = mixture.sample(200_000, gen).double()
    x = torch.tensor([[0.0, 0.0], [-1.0, -0.7], [0.5, 1.0], [1.5, -1.5]], dtype=torch.float64)
    sq = ((x[:, None] - math.sqrt(abar) * x0[None]) ** 2).sum(-1)
    monte_carlo = (torch.exp(-sq / (2 * (1 - abar))) / (2 * math.pi * (1 - abar))).mean(1)
    torch.testing.assert_close(mixture.log_prob(x, t, SCHEDULE).exp(), monte_carlo, rtol=0.03, atol=0.0)


def test_mixture_eps_model_is_the_scaled_score(gen):
    mixture = default_mixture()
    x = torch.randn(16, 2, generator=gen)
    t = torch.full((16,), 30)
    expected = -float(SCHEDULE.sqrt_one_minus_alphas_cumprod[30]) * mixture.score(x, t, SCHEDULE)
    torch.testing.assert_close(mixture.eps_model(SCHEDULE)(x, t), expected)


def test_ddpm_with_the_exact_score_recovers_the_mixture_weights():
    """Weights (0.2, 0.3, 0.5), 4000 samples: each within ±0.05 (the sampling error alone is ≈ 0.008)."""
    mixture = default_mixture()
    frames = list(
        sample_toy(mixture.eps_model(SCHEDULE), SCHEDULE, "ddpm", 4000, None, torch.Generator().manual_seed(0))
    )
    assert len(frames) == T + 1
    assert [f.t for f in frames[:2]] == [T, T - 1] and frames[-1].t == 0
    weights = nearest_mean_weights(frames[-1].points, mixture)
    assert (weights - torch.tensor([0.2, 0.3, 0.5], dtype=torch.float64)).abs().max() <= 0.05, weights
    # The blobs sit where they should (x̂_0 is not clipped to the images' [−1, 1]; the means lie at ±1.2).
    points = torch.from_numpy(frames[-1].points.astype(np.float64))
    nearest = torch.cdist(points, mixture.means).argmin(1)
    centres = torch.stack([points[nearest == k].mean(0) for k in range(3)])
    assert (centres - mixture.means).abs().max() < 0.05, centres


def test_every_parameterisation_of_the_exact_model_samples_the_same_points(gen):
    """An ε-, x_0- or v-model that encodes the same exact score gives the same DDIM run and the same field."""
    mixture = default_mixture()
    eps_model = mixture.eps_model(SCHEDULE)
    a = SCHEDULE.sqrt_alphas_cumprod.float()
    b = SCHEDULE.sqrt_one_minus_alphas_cumprod.float()

    def x0_model(x, t):
        return (x - b[t, None] * eps_model(x, t)) / a[t, None]

    def v_model(x, t):
        return a[t, None] * eps_model(x, t) - b[t, None] * x0_model(x, t)

    x_start = torch.randn(500, 2, generator=gen)
    runs = {
        name: list(sample_toy(model, SCHEDULE, "ddim", 500, 20, None, name, x_start=x_start))
        for name, model in (("eps", eps_model), ("x0", x0_model), ("v", v_model))
    }
    for name in ("x0", "v"):
        np.testing.assert_allclose(runs[name][-1].points, runs["eps"][-1].points, atol=1e-3)
        np.testing.assert_allclose(runs[name][5].score, runs["eps"][5].score, rtol=1e-3, atol=1e-3)


# -- training --------------------------------------------------------------------------------------------------


def test_a_trained_model_samples_far_closer_to_the_data_than_an_untrained_one():
    gen = torch.Generator().manual_seed(0)
    data = make_dataset("moons", 5000, gen)
    model, losses = train_toy(data, SCHEDULE, "eps", steps=600, batch_size=256, lr=5e-3, generator=gen)
    untrained = DEFAULT_TRAIN.make_model("eps", gen).eval()
    reference = make_dataset("moons", 2000, gen)

    def distance(m) -> float:
        frames = list(sample_toy(m, SCHEDULE, "ddim", 2000, 25, gen))
        return sliced_wasserstein(frames[-1].points, reference, generator=gen)

    trained_distance, untrained_distance = distance(model), distance(untrained)
    assert len(losses) == 600
    assert trained_distance < 0.2, trained_distance
    assert trained_distance < untrained_distance / 10, (trained_distance, untrained_distance)


def test_training_stops_when_progress_says_so(gen):
    calls = []

    def progress(step, total, loss):
        calls.append((step, total))
        return step < 100

    model, losses = train_toy(make_dataset("8gaussians", 500, gen), SCHEDULE, "v", 1000, 64, 1e-3, gen, progress)
    assert calls == [(1, 1000), (50, 1000), (100, 1000)]
    assert len(losses) == 100 and model.prediction == "v" and not model.training


def test_training_is_reproducible_from_its_generator():
    data = make_dataset("spiral", 500, torch.Generator().manual_seed(3))
    runs = [train_toy(data, SCHEDULE, "x0", 60, 64, 1e-3, torch.Generator().manual_seed(9))[1] for _ in range(2)]
    assert runs[0] == runs[1]


# -- samplers --------------------------------------------------------------------------------------------------


def test_ddim_is_deterministic_given_x_T_and_ddpm_depends_on_its_seed(gen):
    model = default_mixture().eps_model(SCHEDULE)
    x_start = torch.randn(300, 2, generator=gen)
    first, second = (list(sample_toy(model, SCHEDULE, "ddim", steps=30, x_start=x_start)) for _ in range(2))
    assert len(first) == 31 and first[0].t == T and first[-1].t == 0
    for a, b in zip(first, second, strict=True):
        assert np.array_equal(a.points, b.points)

    def ddpm(seed: int) -> np.ndarray:
        run = sample_toy(model, SCHEDULE, "ddpm", generator=torch.Generator().manual_seed(seed), x_start=x_start)
        return list(run)[-1].points

    assert np.array_equal(ddpm(0), ddpm(0))
    assert np.abs(ddpm(0) - ddpm(1)).mean() > 0.1


def test_frames_are_read_only_float32_with_the_score_where_it_was_evaluated(gen):
    frames = list(sample_toy(default_mixture().eps_model(SCHEDULE), SCHEDULE, "ddpm", 50, 10, gen))
    assert len(frames) == 11 and frames[-1].score is None
    assert frames[0].points.dtype == np.float32 and frames[0].points.shape == (50, 2)
    with pytest.raises(ValueError):
        frames[0].points[0, 0] = 1.0


def test_annealed_langevin_with_the_exact_score_recovers_the_mixture_weights():
    mixture = default_mixture()
    gen = torch.Generator().manual_seed(0)
    frames = list(sample_toy(mixture.eps_model(SCHEDULE), SCHEDULE, "langevin", 4000, 20, gen, steps_per_level=10))
    levels = frames[0].levels
    assert levels == 20 and len(frames) == frames[0].total == levels * 10 + 2  # #21: not 17 of 20
    assert [f.level for f in frames[:11:10]] == [1, 2] and frames[-1].t == 0
    weights = nearest_mean_weights(frames[-1].points, mixture)
    assert (weights - torch.tensor([0.2, 0.3, 0.5], dtype=torch.float64)).abs().max() <= 0.05, weights


def test_a_diverging_langevin_step_size_stops_with_a_clear_error_and_no_nan_frame(gen):
    seen = []
    run = sample_toy(default_mixture().eps_model(SCHEDULE), SCHEDULE, "langevin", 200, 20, gen, step_size=0.5)
    with pytest.raises(DiffusionVizError, match=r"the Langevin step size 0\.5 diverged at noise level \d+ of \d+"):
        for frame in run:
            seen.append(frame)
    assert seen, "the first frame comes before any update"
    for frame in seen:
        assert np.isfinite(frame.points).all() and np.abs(frame.points).max() <= 1e3
        assert frame.score is None or np.isfinite(frame.score).all()


def test_the_field_on_the_grid_is_the_models_score():
    mixture = default_mixture()
    grid, vectors = field_on_grid(mixture.eps_model(SCHEDULE), SCHEDULE, 20, "eps", k=7)
    assert grid.shape == vectors.shape == (49, 2) and grid.dtype == vectors.dtype == np.float32
    assert grid[:, 0].min() == -2.5 and grid[:, 1].max() == 2.5 and grid[1, 0] > grid[0, 0]
    expected = mixture.score(torch.from_numpy(grid), 20, SCHEDULE).numpy()
    np.testing.assert_allclose(vectors, expected, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError):
        field_on_grid(mixture.eps_model(SCHEDULE), SCHEDULE, -1)


# -- data ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", DATASETS)
def test_every_data_set_is_a_reproducible_cloud_in_the_box(name):
    points = make_dataset(name, 3000, torch.Generator().manual_seed(5))
    assert points.shape == (3000, 2) and points.dtype == torch.float32
    assert points.abs().max() < 2.6 and points.std(0).min() > 0.4
    assert torch.equal(points, make_dataset(name, 3000, torch.Generator().manual_seed(5)))


def test_an_unknown_data_set_is_refused():
    with pytest.raises(ValueError, match="unknown data set"):
        make_dataset("circles", 10)


def test_a_blank_image_has_no_points():
    with pytest.raises(DataError, match="no dark"):
        points_from_image(np.full((32, 48, 3), 255, np.uint8), 100)


def test_points_of_a_black_disk_lie_in_the_disk_and_fill_it(gen):
    radius, cy, cx = 30, 40, 70
    rows, cols = np.mgrid[:100, :150]
    image = np.full((100, 150, 3), 255, np.uint8)
    image[(rows - cy) ** 2 + (cols - cx) ** 2 <= radius**2] = 0
    points = points_from_image(image, 5000, gen)
    norms = points.norm(dim=1)
    # The disk's bounding box is fitted to [−2, 2]²; a jittered point may stick out by under one pixel.
    assert norms.max() <= 2.0 * (1 + 1.0 / radius)
    assert abs(float((norms**2).mean()) - 2.0) < 0.1  # E|p|² = R²/2 for uniform points in a disk of radius 2


def test_image_points_have_y_up_and_read_the_alpha_channel(gen):
    image = np.full((100, 100, 3), 255, np.uint8)
    image[:10] = 0  # a thick band at the top
    image[99] = 0  # a thin line at the bottom
    points = points_from_image(image, 4000, gen)
    assert abs(float((points[:, 1] > 0).float().mean()) - 10 / 11) < 0.03
    rgba = np.zeros((40, 40, 4), np.uint8)
    rgba[5:15, 20:40] = (255, 255, 255, 255)  # opaque white: ink only because of the alpha channel
    points = points_from_image(rgba, 500, gen)
    assert points[:, 0].min() >= -2.0 and points[:, 0].max() <= 2.0 and points[:, 1].abs().max() <= 1.0 + 1e-6


def test_too_few_drawn_points_are_refused():
    with pytest.raises(DataError, match="draw at least 20 points"):
        check_drawn_points(np.zeros((5, 2)))
    with pytest.raises(DataError, match="draw at least 20 points"):
        check_drawn_points([])
    assert check_drawn_points(np.arange(40.0).reshape(20, 2)).shape == (20, 2)


def test_drawn_points_are_centred_and_scaled_into_the_box():
    points = normalise_points([[100, 10], [300, 10], [200, 60], [150, 30]])
    assert float(points[:, 0].min()) == -2.0 and float(points[:, 0].max()) == 2.0
    torch.testing.assert_close(points[:, 1].min() + points[:, 1].max(), torch.tensor(0.0))
    assert float(points[2, 1] - points[0, 1]) == pytest.approx(50 * 4 / 200)


# -- distances, the whole run, pictures ------------------------------------------------------------------------


def test_sliced_wasserstein_of_a_shift_is_its_length_over_root_two(gen):
    a = torch.randn(1000, 2, generator=gen)
    assert sliced_wasserstein(a, a) == 0.0
    assert sliced_wasserstein(a, torch.cat([a, a])) == pytest.approx(0.0, abs=1e-12)
    # For a shift v, each projection moves by ⟨θ, v⟩; the mean of ⟨θ, v⟩² over the circle is |v|²/2.
    shift = torch.tensor([0.3, -0.4])
    assert sliced_wasserstein(a, a + shift, generator=gen) == pytest.approx(0.5 / math.sqrt(2), rel=1e-6)


def test_playground_run_returns_frames_and_two_distances():
    settings = TrainSettings(steps=300, batch_size=128)
    frames, distance, data_distance, *_ = playground_run("8gaussians", "ddim", 10, seed=1, n=400, train=settings)
    assert len(frames) == 11 and frames[-1].points.shape == (400, 2)
    assert 0 < data_distance < distance < 1.0


def test_gif_frames_are_pictures_of_the_points(tmp_path, gen):
    frames = list(sample_toy(default_mixture().eps_model(SCHEDULE), SCHEDULE, "ddim", 300, 20, gen))
    pictures = render_points_gif_frames(frames, size=128, max_frames=8)
    with_arrows = render_points_gif_frames(
        frames[:2], size=128, field=lambda f: field_on_grid(default_mixture().eps_model(SCHEDULE), SCHEDULE, 10, k=5)
    )
    assert (with_arrows[0] != render_points_gif_frames(frames[:2], size=128)[0]).any()  # grey arrows drawn
    assert len(pictures) == 8 and all(p.shape == (128, 128, 3) and p.dtype == np.uint8 for p in pictures)
    last = pictures[-1]
    assert (last[20:] != 255).any(axis=2).sum() > 300  # points (and paths) below the label strip
    assert write_gif(pictures, tmp_path / "toy.gif").stat().st_size > 0


def test_the_exact_score_has_no_error_against_itself_and_a_wrong_model_has_some():
    from core.toy2d import default_mixture, score_error_on_grid

    mixture = default_mixture()
    schedule = NoiseSchedule.linear(200)
    exact = mixture.eps_model(schedule)
    assert score_error_on_grid(exact, mixture, schedule, 50, k=12).max() < 1e-4
    assert score_error_on_grid(lambda x, t: torch.zeros_like(x), mixture, schedule, 50, k=12).mean() > 0.5


# -- classes and classifier-free guidance (#24) -----------------------------------------------------------------


@pytest.mark.parametrize("t", [-1, 0, T // 2, T - 1])
def test_the_class_conditional_exact_score_is_the_gradient_of_its_log_density(t, gen):
    mixture = default_mixture()
    x = (1.5 * torch.randn(60, 2, generator=gen, dtype=torch.float64)).requires_grad_()
    labels = torch.arange(60) % 3
    (grad,) = torch.autograd.grad(mixture.log_prob(x, t, SCHEDULE, label=labels).sum(), x)
    torch.testing.assert_close(mixture.score(x.detach(), t, SCHEDULE, label=labels), grad, rtol=1e-10, atol=1e-12)
    # p(x | c) is component c alone: its log-density is N(x; √ᾱ μ_c, v_c I), whatever the other components do.
    abar = 1.0 if t < 0 else float(SCHEDULE.alphas_cumprod[t])
    v = abar * 0.35**2 + 1 - abar
    x2 = x.detach()[labels == 2]
    expected = -torch.log(torch.tensor(2 * math.pi * v)) - ((x2 - abar**0.5 * mixture.means[2]) ** 2).sum(1) / (2 * v)
    torch.testing.assert_close(mixture.log_prob(x2, t, SCHEDULE, label=2), expected.double())


@pytest.mark.parametrize("w", [0.0, 1.0, 4.0])
def test_the_guided_exact_score_is_one_plus_w_conditional_minus_w_unconditional(w, gen):
    mixture = default_mixture()
    x = (1.5 * torch.randn(50, 2, generator=gen, dtype=torch.float64)).requires_grad_()
    t = 30
    guided = mixture.guided_score(x.detach(), 1, w, t, SCHEDULE)
    conditional = mixture.score(x.detach(), t, SCHEDULE, label=1)
    unconditional = mixture.score(x.detach(), t, SCHEDULE)
    torch.testing.assert_close(guided, (1 + w) * conditional - w * unconditional)
    # ... which is the gradient of log q_t(x | c) + w log q_t(c | x), Bayes' rule with the mixture's weights.
    log_class = mixture.log_prob(x, t, SCHEDULE, label=1) + math.log(0.3) - mixture.log_prob(x, t, SCHEDULE)
    (grad,) = torch.autograd.grad((mixture.log_prob(x, t, SCHEDULE, label=1) + w * log_class).sum(), x)
    torch.testing.assert_close(guided, grad, rtol=1e-9, atol=1e-10)
    torch.testing.assert_close(torch.log(mixture.class_posterior(x.detach(), t, SCHEDULE)[:, 1]), log_class.detach())


def test_guidance_sharpens_the_class_and_pushes_it_away_from_the_others():
    """Exact guided DDPM on the mixture's class 0: w = 0 samples component 0; w = 4 samples it a little tighter and
    farther from the other two blobs, as the tilted density p(x | c) p(c | x)^w does."""
    mixture = default_mixture()
    runs = {}
    for w in (0.0, 4.0):
        frames = sample_toy(
            mixture.eps_model(SCHEDULE, 0, w), SCHEDULE, "ddpm", 3000, None, torch.Generator().manual_seed(1)
        )
        runs[w] = list(frames)[-1].points.astype(np.float64)
    mean0 = runs[0.0].mean(0)
    assert np.abs(mean0 - mixture.means[0].numpy()).max() < 0.05 and abs(runs[0.0].std(0).mean() - 0.3) < 0.03
    others = mixture.means[1:].mean(0).numpy()
    assert np.linalg.norm(runs[4.0].mean(0) - others) > np.linalg.norm(mean0 - others) + 0.1
    assert runs[4.0].std(0).mean() < 0.97 * runs[0.0].std(0).mean()  # same noise: 0.273 against 0.285


def test_guidance_needs_a_conditional_model_and_a_class_the_data_has():
    unconditional = DEFAULT_TRAIN.make_model("eps", torch.Generator().manual_seed(0))
    with pytest.raises(DiffusionVizError, match="conditional model"):
        guided_model(unconditional, 0, 2.0, T=T)
    with pytest.raises(DataError, match="the mixture has 3 classes"):
        default_mixture().eps_model(SCHEDULE, 3, 1.0)
    with pytest.raises(DataError, match="moons has 2 classes"):
        check_class("moons", 2)
    with pytest.raises(DataError, match="spiral has no classes"):
        make_labelled_dataset("spiral", 10)


def test_labels_name_the_moon_the_square_and_the_component(gen):
    points, labels = make_labelled_dataset("moons", 2000, torch.Generator().manual_seed(4))
    assert torch.equal(points, make_dataset("moons", 2000, torch.Generator().manual_seed(4)))  # the same draw
    assert points[labels == 0, 1].mean() > points[labels == 1, 1].mean() + 0.5  # 0 is the upper moon
    points, labels = make_labelled_dataset("checkerboard", 4000, gen)
    cells = torch.floor(points + 2.0).long()
    assert torch.equal(cells[:, 1] * 2 + cells[:, 0] // 2, labels)  # row-major over the 8 dark squares
    assert set(labels.tolist()) == set(range(NUM_CLASSES["checkerboard"]))


def test_a_conditional_mlp_trained_with_label_dropout_samples_the_class_asked_for():
    gen = torch.Generator().manual_seed(0)
    points, labels = make_labelled_dataset("mixture", 5000, gen)
    model, _ = train_toy(points, SCHEDULE, "eps", 800, 256, 5e-3, gen, labels=labels, label_dropout=0.2)
    mixture = default_mixture()
    for label in range(3):
        frames = sample_toy(guided_model(model, label, 1.0, T=T), SCHEDULE, "ddim", 800, 25, gen)
        assert float(nearest_mean_weights(list(frames)[-1].points, mixture)[label]) > 0.9
    # The same network without a label is the unconditional model: all three blobs.
    frames = sample_toy(lambda x, t: model(x, t), SCHEDULE, "ddim", 2000, 25, gen)
    assert (nearest_mean_weights(list(frames)[-1].points, mixture) > 0.1).all()


def test_a_guidance_interval_leaves_the_conditional_model_outside_it(gen):
    model = DEFAULT_TRAIN.make_model("eps", gen, num_classes=3).eval()
    x = torch.randn(5, 2, generator=gen)
    with torch.no_grad():
        plain = model(x, torch.full((5,), 10), torch.zeros(5, dtype=torch.long))
        inside = guided_model(model, 0, 3.0, (0.0, 0.5), T=T)(x, torch.full((5,), 10))
        outside = guided_model(model, 0, 3.0, (0.5, 1.0), T=T)(x, torch.full((5,), 10))
    torch.testing.assert_close(outside, plain)
    assert (inside - plain).abs().max() > 1e-3


def test_the_tilted_density_is_the_conditional_one_at_w_zero_and_sharper_above(gen):
    mixture = default_mixture()
    x = 2 * torch.randn(200, 2, generator=gen, dtype=torch.float64)
    torch.testing.assert_close(mixture.tilted_log_density(x, 2, 0.0), mixture.log_prob(x, -1, label=2))
    between = torch.tensor([[0.0, 0.0]], dtype=torch.float64)  # between the blobs: p(c | x) < 1 there
    assert mixture.tilted_log_density(between, 2, 3.0) < mixture.tilted_log_density(between, 2, 0.0)


# -- flow matching and rectified flow (#24) -------------------------------------------------------------------


def test_flow_euler_on_the_exact_velocity_of_a_single_gaussian_reaches_it_in_one_step(gen):
    """At s = 1 the velocity is x − E[x_0]: one Euler step lands every particle on the mean, which is the data
    when the Gaussian is narrow (all paths to one point are straight); many steps give its spread too."""
    mean = torch.tensor([[0.7, -1.1]])
    narrow = GaussianMixture(mean, [1e-4], [1.0])
    noise = torch.randn(500, 2, generator=gen)
    frames = list(sample_toy(narrow.velocity_model(), None, "euler", steps=1, x_start=noise, prediction="velocity"))
    assert len(frames) == 2 and frames[0].t == 1.0 and frames[-1].t == 0.0
    np.testing.assert_allclose(frames[-1].points, mean.expand(500, 2).numpy(), atol=1e-5)
    wide = GaussianMixture(mean, [0.5], [1.0])
    *_, one = sample_toy(wide.velocity_model(), None, "euler", steps=1, x_start=noise, prediction="velocity")
    *_, many = sample_toy(wide.velocity_model(), None, "heun", steps=100, x_start=noise, prediction="velocity")
    np.testing.assert_allclose(one.points, mean.expand(500, 2).numpy(), atol=1e-5)
    np.testing.assert_allclose(many.points.mean(0), mean[0].numpy(), atol=0.06)
    assert abs(float(many.points.std(0).mean()) - 0.5) < 0.03


def test_the_exact_velocity_is_epsilon_minus_x0_of_the_exact_score(gen):
    """Along x_s = (1 − s) x_0 + s ε the exact score gives ε̂ = −s ∇ log p_s and x̂_0 = (x − s ε̂)/(1 − s)."""
    mixture = default_mixture()
    s = 0.35
    x = torch.randn(40, 2, generator=gen, dtype=torch.float64).requires_grad_()
    # p_s is the mixture scaled by 1 − s plus N(0, s² I): the VP mixture at ᾱ with √ᾱ/√(1 − ᾱ) = (1 − s)/s, rescaled.
    scale = math.hypot(1 - s, s)
    abar = ((1 - s) / scale) ** 2
    sched = NoiseSchedule(torch.tensor([1 - abar], dtype=torch.float64))
    log_p = mixture.log_prob(x / scale, 0, sched)
    (grad,) = torch.autograd.grad(log_p.sum(), x)  # ∇_x log p_s(x) up to the constant of the change of variables
    eps_hat = -s * grad
    x0_hat = (x.detach() - s * eps_hat) / (1 - s)
    torch.testing.assert_close(mixture.velocity(x.detach(), s), eps_hat - x0_hat, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("which", ["exact", "untrained"])
def test_ddim_and_flow_euler_trajectories_map_onto_each_other(which, gen):
    """Gao et al. 2024: DDIM's x_t / (√ᾱ + √(1 − ᾱ)) is the flow-matching Euler run of the same model."""
    if which == "exact":
        model, prediction = default_mixture().eps_model(SCHEDULE), "eps"
    else:
        model, prediction = DEFAULT_TRAIN.make_model("v", gen).eval(), "v"
    x_start = torch.randn(300, 2, generator=gen)
    ddim, flow, gap = ddim_as_flow_euler(model, SCHEDULE, x_start, 12, prediction)
    assert len(ddim) == len(flow) == 13
    scale = max(float(np.abs(p).max()) for p in ddim)
    assert gap <= 1e-5 * max(scale, 1.0), (gap, scale)
    assert np.abs(ddim[-1] - ddim[0]).max() > 0.5  # the runs move: the identity is not of two still clouds


def test_straightness_is_zero_for_straight_paths_and_grows_with_the_bend():
    times = flow_times(4)
    s = np.array(times)[:, None]
    straight = ((1 - s) * np.array([1.0, 0.0]) + s * np.array([-1.0, 2.0]))[None]
    assert straightness(straight, times)[0] == pytest.approx(0.0, abs=1e-12)
    assert chord_ratio(straight)[0] == pytest.approx(1.0)
    bent = straight.copy()
    bent[0, 2] += [0.5, 0.5]
    assert straightness(bent, times)[0] > 0.5 and chord_ratio(bent)[0] < 0.95


def test_flow_matching_learns_the_data_and_reflow_straightens_it():
    gen = torch.Generator().manual_seed(0)
    data = make_dataset("8gaussians", 5000, gen)
    model, _ = train_toy(data, None, "velocity", 600, 256, 5e-3, gen)
    reference = make_dataset("8gaussians", 1000, gen)
    noise = torch.randn(1000, 2, generator=gen)
    before = flow_report(model, noise, reference)
    assert before["sw_50"] < 0.15, before
    after = flow_report(reflow(model, n=3000, steps=600, generator=gen), noise, reference)
    assert after["straightness"] < 0.5 * before["straightness"], (before, after)
    assert after["sw_2"] < before["sw_2"], (before, after)


def test_reflow_before_training_and_flow_samplers_on_diffusion_models_are_refused(gen):
    with pytest.raises(DiffusionVizError, match="reflow needs a trained flow-matching model"):
        reflow(None)
    with pytest.raises(DiffusionVizError, match="reflow needs a trained flow-matching model"):
        reflow(DEFAULT_TRAIN.make_model("eps", gen))
    with pytest.raises(DiffusionVizError, match="euler integrates a flow-matching model"):
        sample_toy(default_mixture().eps_model(SCHEDULE), SCHEDULE, "euler", 10)
    with pytest.raises(DiffusionVizError, match="ddim needs a diffusion model"):
        sample_toy(default_mixture().velocity_model(), SCHEDULE, "ddim", 10, prediction="velocity")


# -- memorisation (#24) ---------------------------------------------------------------------------------------


def test_four_training_points_are_copied_and_the_two_halves_draw_different_points():
    pool = memorisation_pool("moons", 4)
    point = memorisation_point(pool, 4, TrainSettings(steps=1500), samples=200, sample_steps=25)
    assert point.copy_ratio < 0.1, point  # the samples sit on the four points; fresh data lies ~0.5 from them
    assert point.data_ratio > 5, point  # A and A′ copy the same four points, B copies its own
    with pytest.raises(DataError, match="N = 5 needs 15 points"):
        memorisation_point(pool[:12], 5)


def test_many_training_points_are_not_copied_and_the_two_halves_agree():
    # A quick small net on many points: it has no capacity to copy 1000 of them, so it must generalise.
    settings = TrainSettings(steps=600, hidden=64, layers=2)
    pool = memorisation_pool("mixture", 1000)
    point = memorisation_point(pool, 1000, settings, samples=400, sample_steps=25)
    assert 0.6 < point.copy_ratio < 1.6, point  # as far from the training points as fresh data
    assert point.data_ratio < 2, point  # the data set matters no more than the training seed


def _point(n, copy_ratio, data_ratio):
    empty = np.zeros((1, 2))
    return MemorisationPoint(n, copy_ratio * 0.1, 0.1, data_ratio * 0.01, 0.01, empty, empty, empty)


def test_the_crossings_are_where_the_ratios_reach_their_stated_levels_in_log_n():
    # ρ: 0.05, 0.25, 1 at N = 4, 16, 64 rises through 0.5 halfway between 16 and 64 in log N and log ρ.
    rising = [_point(4, 0.05, 30.0), _point(64, 1.0, 1.0), _point(16, 0.25, 8.0)]
    assert copy_crossing(rising) == pytest.approx(32.0)
    # δ: 8 at N = 16, 1 at N = 64 falls through 2 at two thirds of the way in log δ: N = 16 · 4^(2/3).
    assert data_crossing(rising) == pytest.approx(16 * 4 ** (2 / 3))
    assert copy_crossing(rising, level=0.05) is None  # already there at the first N: the crossing lies below
    assert copy_crossing([_point(4, 0.01, 30.0), _point(16, 0.2, 20.0)]) is None  # never reached
    assert data_crossing([_point(4, 0.01, 30.0), _point(16, 0.2, 20.0)]) is None
    assert copy_crossing([]) is None
    # δ wobbling about 2 (2.3, 1.9, 2.3, 1.7 as on the moons) has left it for good between the last two Ns.
    wobbly = [_point(n, 1.0, d) for n, d in ((128, 2.3), (256, 1.9), (512, 2.3), (1024, 1.7))]
    assert 512 < data_crossing(wobbly) < 1024
