"""The LS and ELS machines (Kamb & Ganguli 2025) against the ideal denoiser and each other."""

from __future__ import annotations

import pytest
import torch

from core.diffusion.schedules import NoiseSchedule
from core.errors import DataError, ModelLoadError
from core.models.els import LocalScoreMachine, PatchSchedule
from core.models.gaussian import FullGaussianDenoiser
from core.models.ideal import IdealDenoiser

SCHEDULE = NoiseSchedule.cosine(1000)


def _images(n=5, size=6, seed=0):
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * 2 - 1


@pytest.mark.parametrize("equivariant", [True, False])
def test_a_patch_covering_the_whole_image_is_the_ideal_denoiser(equivariant):
    images = _images()
    size = images.shape[-1]
    machine = LocalScoreMachine(images, SCHEDULE, 2 * size - 1, equivariant=equivariant)
    ideal = IdealDenoiser(images, SCHEDULE)
    x_t = torch.randn(3, 3, size, size, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    for index in (50, 400, 900):
        torch.testing.assert_close(machine.x0_hat(x_t, index), ideal.x0_hat(x_t, index), atol=1e-9, rtol=0)


def test_small_patches_are_not_the_ideal_denoiser():
    images = _images()
    x_t = torch.randn(2, 3, 6, 6, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    els = LocalScoreMachine(images, SCHEDULE, 3).x0_hat(x_t, 400)
    ideal = IdealDenoiser(images, SCHEDULE).x0_hat(x_t, 400)
    assert float((els - ideal).abs().max()) > 0.05


def test_every_denoiser_returns_a_single_training_image_at_low_noise():
    image = _images(1, 8, seed=3)
    x_t = image * SCHEDULE.sqrt_alphas_cumprod[0] + 0.005 * torch.randn(1, 3, 8, 8, dtype=torch.float64)
    denoisers = {
        "ideal": IdealDenoiser(image, SCHEDULE),
        "gaussian": FullGaussianDenoiser.fit(image, SCHEDULE, dtype=torch.float64),
        "ELS P=3": LocalScoreMachine(image, SCHEDULE, 3),
        "ELS P=5": LocalScoreMachine(image, SCHEDULE, 5),
        "LS P=3": LocalScoreMachine(image, SCHEDULE, 3, equivariant=False),
    }
    for name, model in denoisers.items():
        torch.testing.assert_close(model.x0_hat(x_t, 0), image, atol=1e-4, rtol=0, msg=name)


def test_els_is_equivariant_in_the_interior_and_knows_the_border():
    images = _images(4, 10)
    machine = LocalScoreMachine(images, SCHEDULE, 3)
    x_t = torch.randn(1, 3, 10, 10, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    shifted = torch.roll(x_t, shifts=(1, 1), dims=(2, 3))
    a, b = machine.x0_hat(x_t, 300), machine.x0_hat(shifted, 300)
    # A pixel two steps from every edge sees the same patch after the shift, from the same patch set.
    torch.testing.assert_close(torch.roll(a, (1, 1), (2, 3))[..., 2:-2, 2:-2], b[..., 2:-2, 2:-2])
    # The corner pixel votes only over the training images' corners: at low noise it lands on one of them.
    low = machine.x0_hat(images[:1] * SCHEDULE.sqrt_alphas_cumprod[0], 0)
    torch.testing.assert_close(low[0, :, 0, 0], images[0, :, 0, 0], atol=1e-6, rtol=0)


def test_sources_name_the_training_image_at_low_noise():
    images = _images(3, 8)
    machine = LocalScoreMachine(images, SCHEDULE, 5)
    x0, sources = machine.x0_hat_with_sources(images[2:3] * SCHEDULE.sqrt_alphas_cumprod[0], 0)
    assert bool((sources == 2).all())


def test_a_subset_of_patches_is_stated_and_fixed():
    images = _images(20, 8).float()
    machine = LocalScoreMachine(images, SCHEDULE, 3, max_cost=64 * (27 + 16) * 50)
    used, total = machine.subset_sizes(3)
    assert (used, total) == (50, 20 * 36)
    x_t = torch.randn(1, 3, 8, 8)
    torch.testing.assert_close(machine.x0_hat(x_t, 500), machine.x0_hat(x_t, 500))


def test_bad_patch_sizes_and_calibrations_say_so(tmp_path):
    with pytest.raises(DataError, match="larger than"):
        LocalScoreMachine(_images(2, 4), SCHEDULE, 9)
    with pytest.raises(ValueError, match="odd"):
        PatchSchedule((0,), (4,))
    table = PatchSchedule((0, 999), (3, 9), "emoji32", SCHEDULE.to_config())
    table.save(tmp_path)
    assert PatchSchedule.load(tmp_path, "emoji32", SCHEDULE).size_at(800) == 9
    with pytest.raises(ModelLoadError, match="not 'photo'"):
        PatchSchedule.load(tmp_path, "photo", SCHEDULE)
    with pytest.raises(ModelLoadError, match="another noise schedule"):
        PatchSchedule.load(tmp_path, "emoji32", NoiseSchedule.linear(1000))
