"""Which device inference and training run on: CUDA, else Apple MPS, else the CPU (fp32)."""

from __future__ import annotations

import torch

from core.errors import DeviceError


def pick_device(preferred: str | None = None) -> torch.device:
    """``preferred`` ("cuda", "mps", "cpu") if given and available, else the best available."""
    if preferred:
        try:
            device = torch.device(preferred)
        except RuntimeError:
            raise DeviceError(f"unknown device {preferred!r}; choose cuda, mps or cpu") from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise DeviceError(
                "--device cuda was asked for, but this machine has no CUDA device; leave --device out to use the best one available"
            )
        if device.type == "mps" and not _mps_available():
            raise DeviceError(
                "--device mps was asked for, but Apple MPS is not available here; leave --device out to use the best one available"
            )
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


def describe_device(device: torch.device) -> str:
    """A short human description, e.g. ``CUDA: NVIDIA H100`` or ``CPU (2 threads)``."""
    if device.type == "cuda":
        return f"CUDA: {torch.cuda.get_device_name(device)}"
    if device.type == "mps":
        return "Apple MPS"
    return f"CPU ({torch.get_num_threads()} threads)"


def randn(
    shape, generator: torch.Generator | None, device: torch.device | str, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """Standard normal noise on ``device`` drawn from ``generator`` wherever that generator lives.

    A CPU generator keeps a seeded run identical on the CPU and on a GPU: the numbers are drawn
    on the CPU and moved. (torch refuses a CPU generator for a CUDA tensor.)
    """
    device = torch.device(device)
    if generator is not None and generator.device != device:
        return torch.randn(shape, generator=generator, dtype=dtype).to(device, non_blocking=True)
    return torch.randn(shape, generator=generator, device=device, dtype=dtype)
