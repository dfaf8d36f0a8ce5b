"""The one place where pixels meet the model's units: uint8 0…255 ↔ float [−1, 1] (x = p / 127.5 − 1).

Noise-like maps (ε, v, a score) have no pixel range of their own; :func:`noise_to_uint8` shows them
at ±``sigmas`` standard deviations, the convention of every noise picture in the window.
"""

from __future__ import annotations

import numpy as np
import torch

NOISE_SHOWN_SIGMAS = 3.0


def uint8_to_unit(image: np.ndarray) -> np.ndarray:
    """uint8 (any layout) → float32 in [−1, 1], same layout."""
    return image.astype(np.float32) / np.float32(127.5) - np.float32(1.0)


def float_to_uint8(x: np.ndarray, out: np.ndarray | None = None, scratch: np.ndarray | None = None) -> np.ndarray:
    """float [−1, 1] (any shape) → uint8 [0, 255], reusing ``out`` and ``scratch`` buffers when given."""
    scratch = np.multiply(x, np.float32(127.5), out=scratch)
    scratch += np.float32(128.0)  # +127.5 to shift, +0.5 to round
    np.clip(scratch, 0, 255, out=scratch)
    if out is None:
        return scratch.astype(np.uint8)
    np.copyto(out, scratch, casting="unsafe")
    return out


def images_to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 [N, H, W, C] (or one [H, W, C]) → float32 [N, C, H, W] in [−1, 1]."""
    if images.ndim == 3:
        images = images[None]
    return (
        torch.tensor(images, dtype=torch.float32).permute(0, 3, 1, 2).div_(127.5).sub_(1.0)
    )  # a copy: inputs may be read-only


def tensor_to_images(x: torch.Tensor) -> np.ndarray:
    """float [N, C, H, W] (or one [C, H, W]) in [−1, 1] → uint8 [N, H, W, 3] (grey repeated), clipped.

    Converted on the tensor's device, so only bytes cross to the CPU.
    """
    single = x.ndim == 3
    x = x[None] if single else x
    u8 = ((x.clamp(-1, 1) + 1) * 127.5 + 0.5).to(torch.uint8)
    if u8.shape[1] == 1:
        u8 = u8.expand(-1, 3, -1, -1)
    out = u8.permute(0, 2, 3, 1).contiguous().cpu().numpy()
    return out[0] if single else out


def noise_to_uint8(x: torch.Tensor, sigma: float = 1.0, sigmas: float = NOISE_SHOWN_SIGMAS) -> np.ndarray:
    """A noise-like map [C, H, W] of standard deviation ``sigma`` as uint8 [H, W, 3]: ±sigmas·sigma → 0…255."""
    return tensor_to_images(x / (sigmas * sigma))


def psnr(a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray, data_range: float = 2.0) -> float:
    """Peak signal-to-noise ratio in dB of two images (or batches) in [−1, 1]: 10 log10(range² / MSE).

    The range of [−1, 1] is 2. Computed in float64 over all elements; identical inputs give ``inf``.
    """
    a64 = torch.as_tensor(a).detach().to("cpu", torch.float64)
    b64 = torch.as_tensor(b).detach().to("cpu", torch.float64)
    if a64.shape != b64.shape:
        raise ValueError(f"psnr needs two arrays of one shape, got {tuple(a64.shape)} and {tuple(b64.shape)}")
    mse = float(((a64 - b64) ** 2).mean())
    return float("inf") if mse == 0.0 else float(10.0 * np.log10(data_range**2 / mse))
