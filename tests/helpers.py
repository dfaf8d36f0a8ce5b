"""Assertions and stand-in models shared by the tests."""

import torch

from core.diffusion.parameterization import target_from_x0_eps


def assert_close_f32(actual: torch.Tensor, expected: torch.Tensor) -> None:
    """Two float32 network outputs agree as float32 kernels allow.

    The same network gives results that differ in the 6th digit on another CPU (vector width, fused
    multiply-add, thread count) or between two implementations of one architecture; never compare
    such outputs exactly or with allclose's 1e-8 absolute default.
    """
    torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-5 * max(1.0, float(expected.abs().max())))


def oracle(schedule, x_star, prediction="eps"):
    """A model that knows the data is the single image x_star and returns the exact target (integer indices)."""

    def model(x_t, t):
        abar = schedule.alphas_cumprod[t].to(x_t.dtype).reshape(-1, 1, 1, 1)
        eps = (x_t - abar.sqrt() * x_star) / (1 - abar).sqrt()
        return target_from_x0_eps(schedule, x_star.expand_as(x_t), t, eps, prediction)

    return model
