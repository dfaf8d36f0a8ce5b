"""Loading a diffusers UNet2DModel folder (as ``save_pretrained`` writes it) through the optional extra.

Accepted layouts: a folder with the UNet's ``config.json`` and ``scheduler_config.json`` side by
side, or a pipeline folder with ``unet/`` and ``scheduler/`` sub-folders. Only safetensors weights
are read, and only from disk.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from core.errors import ModelLoadError
from core.schedules import NoiseSchedule

INSTALL_HINT = "install the optional extra: pip install 'diffusion-viz[diffusers]'"
PREDICTION_TYPES = {"epsilon": "eps", "sample": "x0", "v_prediction": "v"}


def schedule_from_scheduler_config(config: dict) -> NoiseSchedule:
    """Our :class:`NoiseSchedule` for a diffusers DDPM/DDIM scheduler config."""
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


def _find(folder: Path) -> tuple[Path, Path]:
    for unet_dir, sched_dir in ((folder, folder), (folder / "unet", folder / "scheduler")):
        if (unet_dir / "config.json").is_file():
            for name in ("scheduler_config.json", "config.json"):
                candidate = sched_dir / name
                if candidate.is_file() and (sched_dir != unet_dir or name != "config.json"):
                    return unet_dir, candidate
    raise ModelLoadError(f"{folder.name} looks like a diffusers UNet but has no scheduler_config.json beside it")


def load_diffusers_model(folder: Path, device: torch.device):
    from core.checkpoint import LoadedModel

    unet_dir, sched_path = _find(folder)
    if not any(unet_dir.glob("*.safetensors")):
        raise ModelLoadError(
            f"{unet_dir.name} has no .safetensors weights; pickle weights (.bin) are never loaded. "
            "Convert them with diffusers' save_pretrained(..., safe_serialization=True)."
        )
    try:
        from diffusers import UNet2DModel
    except ImportError:
        raise ModelLoadError(f"{folder.name} is a diffusers model; {INSTALL_HINT}") from None
    try:
        sched_config = json.loads(sched_path.read_text(encoding="utf-8"))
        unet = UNet2DModel.from_pretrained(str(unet_dir), use_safetensors=True, local_files_only=True)
    except Exception as exc:  # diffusers raises many types for a broken folder
        raise ModelLoadError(f"{folder.name} could not be loaded as a diffusers model: {exc}") from None
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
        config={"format": "diffusers", "unet": dict(unet.config), "scheduler": sched_config},
        forward=forward,
    )
