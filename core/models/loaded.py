"""A loaded model as every part of the program holds it: the network, its schedule and what it predicts.

A leaf of ``core.models``: the model folders (:mod:`core.models.checkpoint`), diffusers' UNets
(:mod:`core.models.diffusers_import`) and the ideal denoiser (:mod:`core.models.ideal`) all build one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from assets import MODELS
from core.diffusion.schedules import NoiseSchedule
from core.errors import ModelLoadError

CONFIG_NAME = "config.json"
BUNDLED_MODEL = MODELS / "emoji32"


@dataclass
class LoadedModel:
    """A network ready to sample: call ``model(x_t, t)``; it knows its schedule and prediction."""

    network: torch.nn.Module
    schedule: NoiseSchedule
    prediction: str
    image_size: int
    channels: int
    device: torch.device
    name: str
    path: Path | None = None
    config: dict = field(default_factory=dict)
    forward: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None
    notes: tuple[str, ...] = ()  # what the user should know about how it was loaded (defaults assumed)

    def __call__(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return (self.forward or self.network)(x, t)


def read_config(folder: Path) -> dict:
    path = folder / CONFIG_NAME
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ModelLoadError(f"{path} is not valid JSON ({exc.msg}, line {exc.lineno})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"{path} cannot be read: {exc}") from None
    if not isinstance(config, dict):
        raise ModelLoadError(f"{path} must hold a JSON object")
    return config


def _shape(shape) -> str:
    return "[" + ",".join(str(int(n)) for n in shape) + "]"


def check_state_dict(expected: dict[str, torch.Tensor], found: dict[str, torch.Tensor], config_name: str) -> None:
    """Raise one short line when ``found`` (the weights file) does not fit ``expected`` (the config's network)."""
    problems = []
    for key, value in expected.items():
        if key not in found:
            problems.append(f"{key} is missing")
        elif tuple(found[key].shape) != tuple(value.shape):
            problems.append(f"{key} is {_shape(found[key].shape)}, {config_name} wants {_shape(value.shape)}")
    problems += [f"{key} is not in {config_name}'s network" for key in found if key not in expected]
    if problems:
        more = f"; {len(problems) - 1} more" if len(problems) > 1 else ""
        raise ModelLoadError(f"weights do not match {config_name}: {problems[0]}{more}")


def closed_form_model(
    network: torch.nn.Module,
    kind: str,
    size: int,
    device: torch.device,
    name: str,
    path: Path | None,
    provenance: dict,
    notes: tuple[str, ...] = (),
) -> LoadedModel:
    """A closed-form ε-denoiser of RGB pictures (the ideal one, a Gaussian) as a model every tab can run."""
    config = {
        "format": kind,
        "schedule": network.schedule.to_config(),
        "prediction": "eps",
        "image_size": size,
        "channels": 3,
        "provenance": provenance,
    }
    return LoadedModel(
        network=network.eval().to(device),
        schedule=network.schedule,
        prediction="eps",
        image_size=size,
        channels=3,
        device=device,
        name=name,
        path=path,
        config=config,
        notes=notes,
    )
