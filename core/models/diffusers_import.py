"""Loading a diffusers UNet2DModel folder (as ``save_pretrained`` writes it) through the optional extra.

Accepted layouts: a folder with the UNet's ``config.json`` and ``scheduler_config.json`` side by
side, a pipeline folder with ``unet/`` and ``scheduler/`` sub-folders, or a UNet shared without its
scheduler (DDPM's defaults are then used, and the model says so in its ``notes``). Only safetensors weights
are read, and only from disk.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from core.diffusion.schedules import NoiseSchedule
from core.errors import ModelLoadError
from core.models.loaded import LoadedModel, check_state_dict

INSTALL_HINT = "install the optional extra: pip install 'diffusion-viz[diffusers]'"
PREDICTION_TYPES = {"epsilon": "eps", "sample": "x0", "v_prediction": "v"}


# Scheduler classes whose config describes a DDPM training schedule (β_t, T, prediction type); the older
# names are those of the first diffusers releases, under which the public google/ddpm-* models were shared.
KNOWN_SCHEDULERS = (
    "DDPMScheduler",
    "DDIMScheduler",
    "PNDMScheduler",
    "GaussianDDPMScheduler",
)
VARIANCE_TYPES = {"fixed_small": "fixed_small", "fixed_small_log": "fixed_small", "fixed_large": "fixed_large"}


def normalise_scheduler_config(config: dict) -> tuple[dict, list[str]]:
    """A scheduler config in today's spelling, and notes on what the legacy keys meant.

    Legacy keys: ``timesteps`` (now ``num_train_timesteps``), the class ``GaussianDDPMScheduler``
    (now ``DDPMScheduler``); ``variance_type`` (fixed_small: σ² = β̃_t, fixed_large: σ² = β_t, Ho et al.
    2020 §3.2) and ``clip_sample`` become the model's defaults for DDPM sampling.
    """
    config = dict(config)
    notes: list[str] = []
    name = config.get("_class_name", "DDPMScheduler")
    if name not in KNOWN_SCHEDULERS:
        raise ModelLoadError(
            f"the scheduler class {name!r} is not one this program reads ({', '.join(KNOWN_SCHEDULERS[:3])})"
        )
    if "timesteps" in config and "num_train_timesteps" not in config:
        config["num_train_timesteps"] = config.pop("timesteps")
    variance = config.get("variance_type", "fixed_small")
    if variance not in VARIANCE_TYPES:
        raise ModelLoadError(f"variance_type {variance!r} (a learned variance) is not supported")
    config["variance_type"] = VARIANCE_TYPES[variance]
    if VARIANCE_TYPES[variance] == "fixed_large":
        notes.append("its scheduler samples DDPM with σ² = β_t (variance_type fixed_large)")
    return config, notes


def schedule_from_scheduler_config(config: dict) -> NoiseSchedule:
    """Our :class:`NoiseSchedule` for a diffusers DDPM/DDIM scheduler config (legacy keys too)."""
    config, _ = normalise_scheduler_config(config)
    T = int(config.get("num_train_timesteps", 1000))
    kind = config.get("beta_schedule", "linear")
    start, end = float(config.get("beta_start", 1e-4)), float(config.get("beta_end", 0.02))
    if config.get("trained_betas"):
        return NoiseSchedule.from_betas(config["trained_betas"])
    if kind == "linear":
        return NoiseSchedule.linear(T, start, end)
    if kind == "scaled_linear":
        return NoiseSchedule.from_betas(torch.linspace(start**0.5, end**0.5, T, dtype=torch.float64) ** 2)
    if kind == "squaredcos_cap_v2":
        return NoiseSchedule.cosine(T)
    raise ModelLoadError(f"the scheduler's beta_schedule {kind!r} is not supported")


DEFAULT_SCHEDULER_NOTE = (
    "{name} has no scheduler config: using DDPM's defaults (linear β 1e-4…0.02, T = 1000, predicts ε)"
)


def _check_pipeline(folder: Path) -> None:
    """A pipeline folder's model_index.json must name a UNet2DModel (the only network read here)."""
    index = folder / "model_index.json"
    if not index.is_file():
        return
    try:
        entries = json.loads(index.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelLoadError(f"{index} cannot be read: {exc}") from None
    unet = entries.get("unet") if isinstance(entries, dict) else None
    if not isinstance(unet, list) or len(unet) != 2:
        raise ModelLoadError(f"{index} names no unet; only pipelines with a UNet2DModel are read")
    if unet[1] != "UNet2DModel":
        raise ModelLoadError(f"{index}: the pipeline's network is a {unet[1]}; only UNet2DModel is read")


def _find(folder: Path) -> tuple[Path, Path | None]:
    """The UNet's folder and its scheduler config (None when the UNet was shared without one)."""
    _check_pipeline(folder)
    for unet_dir, sched_dir in ((folder, folder), (folder / "unet", folder / "scheduler")):
        if (unet_dir / "config.json").is_file():
            for name in ("scheduler_config.json", "config.json"):
                candidate = sched_dir / name
                if candidate.is_file() and (sched_dir != unet_dir or name != "config.json"):
                    return unet_dir, candidate
            return unet_dir, None
    raise ModelLoadError(f"{folder} looks like a diffusers UNet but has no config.json")


def load_diffusers_model(folder: Path, device: torch.device):
    """A diffusers ``UNet2DModel`` folder as a :class:`~core.models.checkpoint.LoadedModel`.

    The network is built from its config.json and the weights are read by safetensors and checked
    here, so a mismatch is one line and no third-party banner reaches the user's terminal.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    unet_dir, sched_path = _find(folder)
    weights = sorted(unet_dir.glob("*.safetensors"))
    if not weights:
        raise ModelLoadError(
            f"{folder} has no .safetensors weights; pickle weights (.bin) are never loaded. "
            "Convert them with diffusers' save_pretrained(..., safe_serialization=True)."
        )
    if len(weights) > 1:
        raise ModelLoadError(f"{folder} holds {len(weights)} .safetensors files; sharded weights are not supported")
    try:
        from diffusers import UNet2DModel
        from diffusers.utils import logging as diffusers_logging
    except ImportError:
        raise ModelLoadError(f"{folder} is a diffusers model; {INSTALL_HINT}") from None
    notes = []
    try:
        unet_config = json.loads((unet_dir / "config.json").read_text(encoding="utf-8"))
        sched_config = json.loads(sched_path.read_text(encoding="utf-8")) if sched_path else {}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelLoadError(f"{folder} has a config that cannot be read: {exc}") from None
    if sched_path is None:
        notes.append(DEFAULT_SCHEDULER_NOTE.format(name=folder))
    sched_config, sched_notes = normalise_scheduler_config(sched_config)
    notes.extend(sched_notes)
    try:
        state = load_file(str(weights[0]))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise ModelLoadError(f"{folder}: {weights[0].name} is damaged or truncated ({exc})") from None
    verbosity = diffusers_logging.get_verbosity()
    diffusers_logging.set_verbosity_error()
    try:
        unet = UNet2DModel.from_config(unet_config)
    except Exception as exc:  # diffusers raises many types for a broken config
        raise ModelLoadError(f"{folder}: config.json does not describe a UNet2DModel ({exc})") from None
    finally:
        diffusers_logging.set_verbosity(verbosity)
    check_state_dict(unet.state_dict(), state, "config.json")
    unet.load_state_dict(state, strict=True)
    prediction = PREDICTION_TYPES.get(sched_config.get("prediction_type", "epsilon"))
    if prediction is None:
        raise ModelLoadError(f"prediction_type {sched_config.get('prediction_type')!r} is not supported")
    unet.eval().to(device)
    size = unet.config.sample_size
    size = int(size[0] if isinstance(size, (list, tuple)) else size)

    def forward(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return unet(x, t).sample

    return LoadedModel(
        network=unet,
        schedule=schedule_from_scheduler_config(sched_config),
        prediction=prediction,
        image_size=size,
        channels=int(unet.config.in_channels),
        device=device,
        name=folder.name,
        path=folder,
        config={
            "format": "diffusers",
            "unet": dict(unet.config),
            "scheduler": sched_config,
            "default_variance": sched_config["variance_type"],
            "default_clip_x0": bool(sched_config.get("clip_sample", True)),
        },
        forward=forward,
        notes=tuple(notes),
    )
