"""At which image sizes a model can run: its own, or any the down-sampling divides if it is fully convolutional.

A UNet without self-attention sees only a neighbourhood of each pixel, so the same weights run at 64,
128 or 256 px; attention layers mix every position and were trained at one size, so such a model runs
at its own. A model folder's ``run_size`` (config.json) is the size the window and the CLI use by default.
"""

from __future__ import annotations

from typing import Any

RUN_SIZES = (64, 128, 256)


def is_fully_convolutional(model: Any) -> bool:
    """True for our UNet folders trained without attention (``attention_resolutions`` empty)."""
    arch = (getattr(model, "config", None) or {}).get("architecture")
    return isinstance(arch, dict) and arch.get("attention_resolutions") == []


def downsample_factor(model: Any) -> int:
    arch = (getattr(model, "config", None) or {}).get("architecture") or {}
    return 2 ** (len(arch.get("channel_mults", [1])) - 1)


def run_sizes(model: Any) -> tuple[int, ...]:
    """The sizes (px, square) the model can be run at, its own included, ascending."""
    own = int(model.image_size)
    if not is_fully_convolutional(model):
        return (own,)
    factor = downsample_factor(model)
    return tuple(sorted({own, *(s for s in RUN_SIZES if s % factor == 0)}))


def default_run_size(model: Any) -> int:
    """The size a run uses unless the user picks another: config.json's ``run_size``, else the model's own."""
    size = (getattr(model, "config", None) or {}).get("run_size")
    return int(size) if isinstance(size, int) and size in run_sizes(model) else int(model.image_size)


def resolve_run_size(model: Any, requested: int | None) -> tuple[int, str | None]:
    """``requested`` if the model runs at it, else its default size and one line saying why."""
    if requested is None:
        return default_run_size(model), None
    sizes = run_sizes(model)
    if requested in sizes:
        return requested, None
    if is_fully_convolutional(model) and requested % downsample_factor(model) == 0 and 16 <= requested <= 1024:
        return requested, None
    fallback = default_run_size(model)
    if is_fully_convolutional(model):
        why = f"its down-sampling needs a multiple of {downsample_factor(model)} between 16 and 1024"
    else:
        why = "it has self-attention and was trained at one size"
    return fallback, f"{model.name} cannot run at {requested} px ({why}); using {fallback} px"
