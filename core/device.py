"""Which device inference and training run on: CUDA, else Apple MPS, else the CPU (fp32)."""

from __future__ import annotations

import torch


def pick_device(preferred: str | None = None) -> torch.device:
    """``preferred`` ("cuda", "mps", "cpu") if given and available, else the best available."""
    if preferred:
        device = torch.device(preferred)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError("CUDA was asked for but no CUDA device is available")
        if device.type == "mps" and not _mps_available():
            raise ValueError("MPS was asked for but it is not available")
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
