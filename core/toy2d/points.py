"""Point-cloud helpers every part of the 2-D playground shares: ``[N, 2]`` tensors and read-only frame arrays."""

from __future__ import annotations

import numpy as np
import torch


def as_points(points, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Any ``[n, 2]`` array-like (a tensor, a read-only frame array, a list) as a fresh CPU tensor of ``dtype``."""
    return fresh_tensor(points, dtype).reshape(-1, 2)


def fresh_tensor(values, dtype: torch.dtype) -> torch.Tensor:
    """A CPU tensor copy of a tensor or array-like (never a view of a read-only numpy array)."""
    if isinstance(values, torch.Tensor):
        return values.detach().to("cpu", dtype, copy=True)
    return torch.from_numpy(np.array(values, dtype=np.float64)).to(dtype)


def frozen(x: torch.Tensor | None) -> np.ndarray | None:
    """A read-only float32 numpy copy of a tensor (None stays None), for frames handed to another thread."""
    if x is None:
        return None
    array = x.detach().to("cpu", torch.float32).numpy().copy()
    array.setflags(write=False)
    return array
