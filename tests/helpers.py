"""Assertions shared by the tests."""

import torch


def assert_close_f32(actual: torch.Tensor, expected: torch.Tensor) -> None:
    """Two float32 network outputs agree as float32 kernels allow.

    The same network gives results that differ in the 6th digit on another CPU (vector width, fused
    multiply-add, thread count) or between two implementations of one architecture; never compare
    such outputs exactly or with allclose's 1e-8 absolute default.
    """
    torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-5 * max(1.0, float(expected.abs().max())))
