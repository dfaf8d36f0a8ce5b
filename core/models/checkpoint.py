"""Model folders: our own (config.json + model.safetensors) and diffusers' UNet2DModel folders.

Loading never unpickles anything: weights are read with safetensors only, and a folder that
holds only pickle files (.bin, .pt, .ckpt, .pkl) is refused.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from core import __version__
from core.device import pick_device
from core.diffusion.parameterization import PREDICTIONS
from core.diffusion.schedules import NoiseSchedule
from core.errors import ImageFolderError, ModelLoadError
from core.imaging.files import atomic_write, atomic_write_bytes
from core.models.diffusers_import import load_diffusers_model
from core.models.ideal import IDEAL_DEFAULT_SIZE, IDEAL_EMOJI, IDEAL_PREFIX, ideal_from_emoji, load_ideal_model
from core.models.loaded import (  # noqa: F401 - LoadedModel and BUNDLED_MODEL are read from here too
    BUNDLED_MODEL,
    CONFIG_NAME,
    LoadedModel,
    check_state_dict,
    read_config,
)
from core.models.unet import UNet, UNetConfig

FORMAT = "diffusion-viz"
FORMAT_VERSION = 1
WEIGHTS_NAME = "model.safetensors"
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")
DATA_SCALING = "pixels uint8 → x = p / 127.5 − 1, in [−1, 1]"


def save_model(
    folder: str | Path,
    network: UNet,
    schedule: NoiseSchedule,
    prediction: str,
    *,
    state_dict: dict[str, torch.Tensor] | None = None,
    provenance: dict | None = None,
) -> Path:
    """Write ``folder/config.json`` and ``folder/model.safetensors`` (``state_dict`` or the network's)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "code_version": __version__,
        "architecture": network.config.to_dict(),
        "schedule": schedule.to_config(),
        "prediction": prediction,
        "image_size": network.config.image_size,
        "channels": network.config.in_channels,
        "data_scaling": DATA_SCALING,
        "provenance": provenance or {},
    }
    weights = {k: v.detach().cpu().contiguous() for k, v in (state_dict or network.state_dict()).items()}
    atomic_write(folder / WEIGHTS_NAME, lambda tmp: save_file(weights, str(tmp), metadata={"format": FORMAT}))
    atomic_write_bytes(folder / CONFIG_NAME, (json.dumps(config, indent=2) + "\n").encode())
    return folder


def load_model(
    folder: str | Path, device: torch.device | str | None = None, *, ideal_size: int | None = None
) -> LoadedModel:
    """Load one of our model folders, a diffusers UNet2DModel folder, or an ideal denoiser.

    The string ``"ideal:FOLDER"`` makes the ideal denoiser (the exact posterior mean) over the images
    in FOLDER at ``ideal_size``² (default 64); ``"ideal:emoji"`` makes it over the bundled model's
    training images, at the bundled model's size and schedule unless ``ideal_size`` is given
    (:mod:`core.models.ideal`). ``"gaussian:FOLDER"``, ``"gaussian:emoji"`` and ``"gaussian:photos"`` make
    the Gaussian model of those pictures (:mod:`core.models.gaussian`).

    Raises :class:`ModelLoadError` with a message that says what is missing or wrong.
    """
    if isinstance(folder, str) and folder.startswith("ideal:"):
        source = folder[len(IDEAL_PREFIX) :]
        if source == IDEAL_EMOJI:
            return ideal_from_emoji(ideal_size, device=device)
        if not source:
            raise ModelLoadError('"ideal:" needs a folder of images after it, e.g. ideal:photos or ideal:emoji')
        return load_ideal_model(source, IDEAL_DEFAULT_SIZE if ideal_size is None else ideal_size, device=device)
    if isinstance(folder, str) and folder.startswith("gaussian:"):
        from core.models.gaussian import GAUSSIAN_PREFIX, load_gaussian_model

        return load_gaussian_model(folder[len(GAUSSIAN_PREFIX) :], ideal_size, device=device)
    folder = Path(folder)
    device = pick_device(str(device) if device else None)
    if not folder.exists():
        raise ModelLoadError(f"{folder} does not exist")
    if not folder.is_dir():
        if folder.suffix.lower() in PICKLE_SUFFIXES:
            raise ModelLoadError(f"{folder} is a pickle file; pickles are never loaded (they can run code)")
        raise ModelLoadError(f"{folder} is a file; a model is a folder with {CONFIG_NAME} and {WEIGHTS_NAME}")
    if _is_diffusers_folder(folder):
        return load_diffusers_model(folder, device)
    if not (folder / CONFIG_NAME).is_file():
        from core.models.catalogue import count_pictures

        if pictures := count_pictures(folder):
            raise ImageFolderError(str(folder), pictures)
        pickles = sorted(p.name for p in folder.iterdir() if p.suffix.lower() in PICKLE_SUFFIXES)
        hint = f" It holds only pickle files ({', '.join(pickles)}), which are never loaded." if pickles else ""
        raise ModelLoadError(f"{folder} is not a model folder: {CONFIG_NAME} is missing.{hint}")
    config = read_config(folder)
    if config.get("format") != FORMAT:
        raise ModelLoadError(f'{folder / CONFIG_NAME} is not a diffusion-viz model config (no "format": "{FORMAT}")')
    try:
        arch = UNetConfig(**config["architecture"])
        schedule = NoiseSchedule.from_config(config["schedule"])
        prediction = config["prediction"]
        if prediction not in PREDICTIONS:
            raise ValueError(f"prediction must be one of {', '.join(PREDICTIONS)}, got {prediction!r}")
    except KeyError as exc:
        raise ModelLoadError(f"{folder / CONFIG_NAME} lacks the field {exc.args[0]!r}") from None
    except (TypeError, ValueError) as exc:
        raise ModelLoadError(f"{folder / CONFIG_NAME} has a wrong field: {exc}") from None
    weights_path = folder / WEIGHTS_NAME
    if not weights_path.is_file():
        raise ModelLoadError(f"{folder} lacks its weights file {WEIGHTS_NAME}")
    try:
        state = load_file(str(weights_path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise ModelLoadError(f"{weights_path.name} is damaged or truncated ({exc})") from None
    network = UNet(arch)
    check_state_dict(network.state_dict(), state, f"{folder / CONFIG_NAME}")
    network.load_state_dict(state, strict=True)
    network.eval().to(device)
    if device.type != "mps":
        network.to(memory_format=torch.channels_last)
    return LoadedModel(
        network=network,
        schedule=schedule,
        prediction=prediction,
        image_size=arch.image_size,
        channels=arch.in_channels,
        device=device,
        name=folder.name,
        path=folder,
        config=config,
    )


def _is_diffusers_folder(folder: Path) -> bool:
    if (folder / "model_index.json").is_file():  # a diffusers pipeline, whatever its network
        return True
    for sub in (folder, folder / "unet"):
        cfg = sub / CONFIG_NAME
        if cfg.is_file():
            try:
                if json.loads(cfg.read_text(encoding="utf-8")).get("_class_name") == "UNet2DModel":
                    return True
            except (json.JSONDecodeError, OSError, UnicodeDecodeError, AttributeError):
                return False
    return False
