"""Training a :class:`~core.models.unet.UNet` on images (the simple loss of Ho et al. 2020, Eq. 14).

Seeded, keeps EMA weights, checkpoints and resumes (weights, EMA, Adam state and RNG state in
safetensors + JSON, no pickle), holds out a fraction of the data, writes a sample grid at every
checkpoint. Under ``torchrun`` it trains data-parallel with torch's DistributedDataParallel.
"""

from __future__ import annotations

import copy
import json
import math
import os
import platform
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch.nn import functional as F

from core import __version__
from core.device import describe_device, pick_device, randn
from core.diffusion.forward import q_sample
from core.diffusion.parameterization import target_from_x0_eps
from core.diffusion.samplers import ddim_loop, final_step
from core.diffusion.schedules import NoiseSchedule
from core.errors import DataError
from core.imaging.files import atomic_write_bytes
from core.imaging.grid import save_grid
from core.imaging.scaling import tensor_to_images
from core.models.checkpoint import save_model
from core.models.unet import UNet, UNetConfig, count_parameters
from core.training.config import TrainConfig
from core.training.data import (
    RandomScaleCrops,
    emoji_groups,
    group_weights,
    load_dataset,
    load_photos,
    split_holdout,
)

STATE_WEIGHTS = "training_state.safetensors"
STATE_JSON = "training_state.json"


def _distributed() -> tuple[int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    return rank, world


def _format_eta(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def _git_version() -> str:
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        sha = ""
    return f"{__version__}+{sha}" if sha else __version__


def _save_state(
    out: Path, model, ema, opt, step: int, gen: torch.Generator, cfg: TrainConfig, elapsed: float, loss: float
) -> None:
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    tensors.update({f"ema.{k}": v.detach().cpu().contiguous() for k, v in ema.state_dict().items()})
    opt_state = opt.state_dict()
    for idx, state in opt_state["state"].items():
        for name, value in state.items():
            tensors[f"optim.{idx}.{name}"] = torch.as_tensor(value).detach().cpu().contiguous()
    tensors["rng"] = gen.get_state()
    tmp = out / f".{STATE_WEIGHTS}.tmp"
    save_file(tensors, str(tmp))
    os.replace(tmp, out / STATE_WEIGHTS)
    meta = {
        "step": step,
        "elapsed_s": elapsed,
        "last_loss": loss,
        "param_groups": opt_state["param_groups"],
        "config": asdict(cfg),
    }
    atomic_write_bytes(out / STATE_JSON, json.dumps(meta, indent=2).encode())


def _load_state(out: Path, model, ema, opt, gen: torch.Generator) -> tuple[int, float]:
    meta = json.loads((out / STATE_JSON).read_text())
    tensors = load_file(str(out / STATE_WEIGHTS))
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    ema.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("ema.")})
    state: dict[int, dict] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, idx, name = key.split(".", 2)
            state.setdefault(int(idx), {})[name] = value
    opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    gen.set_state(tensors["rng"])
    return int(meta["step"]), float(meta["elapsed_s"])


def sample_images(
    model,
    schedule: NoiseSchedule,
    prediction: str,
    n: int,
    size: int,
    channels: int,
    device: torch.device,
    seed: int,
    steps: int = 50,
) -> np.ndarray:
    """n samples with DDIM (η = 0) as uint8 [n, size, size, C]."""
    gen = torch.Generator(device="cpu").manual_seed(seed)
    x = randn((n, channels, size, size), gen, device)
    last = final_step(ddim_loop(model, schedule, x, num_steps=steps, prediction=prediction, clip_x0=True))
    return tensor_to_images(last.x_prev)


def train(cfg: TrainConfig, resume: bool = False, log: Callable[[str], None] = print) -> dict:
    """Train as ``cfg`` says; returns a summary (steps, seconds, final loss, img/s)."""
    rank, world = _distributed()
    if world > 1:
        import torch.distributed as dist

        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend)
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        device = torch.device("cuda", local_rank) if torch.cuda.is_available() else torch.device("cpu")
        if device.type == "cuda":
            torch.cuda.set_device(device)
    else:
        device = pick_device(cfg.device)
    main = rank == 0
    say = log if main else (lambda _msg: None)
    code_version = _git_version() if main else ""  # before anything slow: the code that runs, not a later checkout

    out = Path(cfg.out)
    if main:
        out.mkdir(parents=True, exist_ok=True)
        (out / "samples").mkdir(exist_ok=True)
    start = None
    # The warm start's own story (its data, steps, time), read once: a fine-tuned model's card tells both stages.
    init_provenance = None
    if cfg.init and not (resume and (out / STATE_WEIGHTS).is_file()):
        from core.models.checkpoint import load_model

        start = load_model(cfg.init, device="cpu")
        init_provenance = start.config.get("provenance")
        cfg = _keep_split_of(cfg, cfg.init, init_provenance or {}, say)
    elif resume and (out / "config.json").is_file():
        own = _provenance_of(out) or {}
        init_provenance = own.get("init_provenance")
        cfg = _keep_split_of(cfg, out, own, say)
    weights, images, crops, photo_names = None, None, None, None
    if cfg.crop:
        if cfg.data == "emoji":
            raise DataError("--crop takes a folder of photos, not emoji")
        photos, photo_names = load_photos(cfg.data, cfg.photo_side, min_side=cfg.size)
        train_idx, held_idx = split_holdout(len(photos), cfg.holdout, seed=cfg.holdout_seed)
        if len(train_idx) == 0:
            raise DataError("the data set is too small to hold out any images")
        crops = RandomScaleCrops([photos[i] for i in train_idx], cfg.size, cfg.crop_min_scale, cfg.crop_max_scale)
        photo_names = {"train": [photo_names[i] for i in train_idx], "held_out": [photo_names[i] for i in held_idx]}
        say(
            f"data: {cfg.data}: {len(photos)} photos (long side ≤ {cfg.photo_side}), {len(train_idx)} for training, "
            f"{len(held_idx)} held out whole; {cfg.size}² crops at scales {cfg.crop_min_scale:g}–"
            f"{cfg.crop_max_scale or 'short side'}; device {describe_device(device)}; world size {world}"
        )
    else:
        data = load_dataset(cfg.data, cfg.size)
        train_idx, held_idx = split_holdout(len(data), cfg.holdout, seed=cfg.holdout_seed)
        if len(train_idx) == 0:
            raise DataError("the data set is too small to hold out any images")
        if cfg.balance and cfg.data == "emoji":
            groups = emoji_groups()
            weights = torch.from_numpy(group_weights([groups[i] for i in train_idx]))
            say(f"balance: {len(set(groups[i] for i in train_idx))} distinct emoji among {len(train_idx)} bitmaps")
        images = torch.from_numpy(data[train_idx]).permute(0, 3, 1, 2).contiguous().to(device)
        say(
            f"data: {cfg.data}: {len(data)} images at {cfg.size}², {len(train_idx)} for training, "
            f"{len(held_idx)} held out; device {describe_device(device)}; world size {world}"
        )

    torch.manual_seed(cfg.seed)
    arch = UNetConfig(
        in_channels=3,
        base_channels=cfg.base_channels,
        channel_mults=tuple(cfg.channel_mults),
        num_res_blocks=cfg.num_res_blocks,
        attention_resolutions=tuple(cfg.attention_resolutions),
        groups=cfg.groups,
        image_size=cfg.size,
    )
    model = UNet(arch).to(device).to(memory_format=torch.channels_last)
    ema = copy.deepcopy(model).eval().requires_grad_(False)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    schedule = NoiseSchedule.from_name(cfg.schedule, cfg.T)
    gen = torch.Generator(device="cpu").manual_seed(cfg.seed * 1000 + rank)
    say(
        f"model: UNet, {count_parameters(model) / 1e6:.2f} M parameters, predicts {cfg.prediction}, "
        f"{cfg.schedule} schedule, T={cfg.T}"
    )

    step, elapsed_before = 0, 0.0
    if start is not None:
        model.load_state_dict(start.network.state_dict())
        ema.load_state_dict(start.network.state_dict())
        say(f"initialised from {cfg.init}")
    if resume and (out / STATE_WEIGHTS).is_file():
        step, elapsed_before = _load_state(out, model, ema, opt, gen)
        say(f"resumed from step {step}")
    train_model = model
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        train_model = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

    provenance = _run_provenance(
        cfg, code_version, len(train_idx), len(held_idx), device, world, photo_names, init_provenance
    )
    run = _Run(out, model, ema, opt, gen, cfg, schedule, arch, device, provenance)
    per_rank_batch = max(1, cfg.batch_size // world)
    t0 = time.perf_counter()
    start_step = step
    loss_avg = float("nan")
    losses: list[float] = []
    while step < cfg.steps:
        if crops is not None:
            x0 = crops.sample(per_rank_batch, gen).to(device)
        else:
            if weights is None:
                idx = torch.randint(0, len(images), (per_rank_batch,), generator=gen)
            else:
                idx = torch.multinomial(weights, per_rank_batch, replacement=True, generator=gen)
            x0 = images[idx.to(device)].float().div_(127.5).sub_(1.0)  # images_to_tensor's scaling, on the device
        if cfg.hflip:
            flip = (torch.rand(per_rank_batch, generator=gen) < 0.5).to(device)
            x0 = torch.where(flip[:, None, None, None], x0.flip(-1), x0)
        x0 = x0.contiguous(memory_format=torch.channels_last)
        t = torch.randint(0, schedule.T, (per_rank_batch,), generator=gen).to(device)
        noise = randn(x0.shape, gen, device)
        x_t = q_sample(schedule, x0, t, noise)
        target = target_from_x0_eps(schedule, x0, t, noise, cfg.prediction)
        per_sample = F.mse_loss(train_model(x_t, t), target, reduction="none").mean(dim=(1, 2, 3))
        loss = (per_sample * _loss_weight(schedule, t, cfg)).mean()
        for group in opt.param_groups:
            group["lr"] = _learning_rate(cfg, step)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        step += 1
        decay = min(cfg.ema_decay, (1 + step) / (10 + step))
        with torch.no_grad():
            for e, p in zip(ema.parameters(), model.parameters(), strict=True):
                e.lerp_(p, 1 - decay)
            for e, b in zip(ema.buffers(), model.buffers(), strict=True):
                e.copy_(b)
        losses.append(loss.item())
        if step % cfg.log_every == 0 or step == cfg.steps:
            loss_avg = float(np.mean(losses))
            losses.clear()
            spent = time.perf_counter() - t0
            rate = (step - start_step) * per_rank_batch * world / max(spent, 1e-9)
            eta = (cfg.steps - step) * per_rank_batch * world / max(rate, 1e-9)
            say(f"step {step}/{cfg.steps}  loss {loss_avg:.4f}  {rate:.1f} img/s  ETA {_format_eta(eta)}")
        if main and (step % cfg.checkpoint_every == 0 or step == cfg.steps):
            elapsed = elapsed_before + time.perf_counter() - t0
            _checkpoint(run, step, elapsed, loss_avg)
            say(f"checkpoint at step {step}: {out}")
    elapsed = elapsed_before + time.perf_counter() - t0
    if world > 1:
        import torch.distributed as dist

        dist.destroy_process_group()
    done = step - start_step
    return {
        "steps": step,
        "seconds": elapsed,
        "final_loss": loss_avg,
        "img_per_s": done * per_rank_batch * world / max(time.perf_counter() - t0, 1e-9),
        "main_process": main,  # under torchrun, only rank 0 reports
    }


def _provenance_of(folder) -> dict | None:
    """The provenance in a model folder's config.json, or None when it has none."""
    try:
        return json.loads((Path(folder) / "config.json").read_text(encoding="utf-8")).get("provenance")
    except (OSError, ValueError, AttributeError):
        return None


def _keep_split_of(cfg: TrainConfig, source, provenance: dict, say: Callable[[str], None]) -> TrainConfig:
    """A warm start or a resumed run keeps its weights' held-out split: another would train on images they held out."""
    seed = int(provenance.get("holdout_seed", cfg.holdout_seed))
    fraction = float(provenance.get("holdout_fraction", cfg.holdout))
    if (seed, fraction) != (cfg.holdout_seed, cfg.holdout):
        say(f"keeping the held-out split of {source} (seed {seed}, {fraction:.0%})")
    return replace(cfg, holdout_seed=seed, holdout=fraction)


def _learning_rate(cfg: TrainConfig, step: int) -> float:
    warm = min(1.0, (step + 1) / max(1, cfg.warmup))
    if cfg.lr_schedule == "cosine":
        return cfg.lr * warm * 0.5 * (1 + math.cos(math.pi * min(1.0, step / max(1, cfg.steps))))
    return cfg.lr * warm


def _loss_weight(schedule: NoiseSchedule, t: torch.Tensor, cfg: TrainConfig) -> torch.Tensor | float:
    """Min-SNR-γ (Hang et al. 2023): clamp each t's weight at γ, expressed for the model's own target."""
    if cfg.min_snr <= 0:
        return 1.0
    snr = torch.as_tensor(schedule.snr, dtype=torch.float32, device=t.device)[t]
    clamped = snr.clamp(max=cfg.min_snr)
    # MSE of ε carries weight SNR relative to x_0's; of v, SNR + 1 (Salimans & Ho 2022, §4)
    per_target = {"eps": snr, "x0": torch.ones_like(snr), "v": snr + 1}[cfg.prediction]
    return clamped / per_target


@dataclass
class _Run:
    """What every checkpoint of one run writes from: the nets, the optimiser, the generator, and what the run is."""

    out: Path
    model: torch.nn.Module
    ema: torch.nn.Module
    opt: torch.optim.Optimizer
    gen: torch.Generator
    cfg: TrainConfig
    schedule: NoiseSchedule
    arch: UNetConfig
    device: torch.device
    provenance: dict  # the run's constant part: steps, seconds and loss are filled in per checkpoint


def _run_provenance(
    cfg: TrainConfig, code_version: str, n_train, n_held, device, world, photo_names, init_provenance
) -> dict:
    """The provenance a run's checkpoints share. ``code_version`` is read as the run starts: the code that runs
    (a checkout moved on while the run trains would otherwise be recorded as the code that trained it)."""
    provenance = {
        "data": "Noto Color Emoji bitmaps (fonts-noto-color-emoji), composited on white"
        if cfg.data == "emoji"
        else f"folder {cfg.data}",
        "train_images": n_train,
        "held_out_images": n_held,
        "holdout_seed": cfg.holdout_seed,
        "holdout_fraction": cfg.holdout,
        "steps": 0,
        "batch_size": cfg.batch_size,
        "lr": cfg.lr,
        "ema_decay": cfg.ema_decay,
        "seconds": 0.0,
        "hardware": f"{describe_device(device)} × {world}, {platform.machine()}",
        "final_loss": None,
        "code_version": code_version,
        "torch": torch.__version__,
        "seed": cfg.seed,
        "init": cfg.init,
        "init_provenance": init_provenance,
        "lr_schedule": cfg.lr_schedule,
        "balance": cfg.balance,
        "min_snr": cfg.min_snr,
    }
    if cfg.crop:
        provenance["crops"] = {
            "size": cfg.size,
            "min_scale": cfg.crop_min_scale,
            "max_scale": cfg.crop_max_scale or "short side",
            "photo_side": cfg.photo_side,
        }
        provenance["photos"] = photo_names
        provenance["data"] = f"photos in {cfg.data}, random-scale crops"
    return provenance


def _checkpoint(run: _Run, step: int, elapsed: float, loss: float) -> None:
    cfg = run.cfg
    _save_state(run.out, run.model, run.ema, run.opt, step, run.gen, cfg, elapsed, loss)
    provenance = {
        **run.provenance,
        "steps": step,
        "seconds": round(elapsed, 1),
        "final_loss": None if math.isnan(loss) else round(loss, 5),
    }
    save_model(run.out, run.ema, run.schedule, cfg.prediction, provenance=provenance)
    arch = run.arch
    grid = sample_images(
        run.ema, run.schedule, cfg.prediction, cfg.num_samples, arch.image_size, arch.in_channels, run.device, cfg.seed
    )
    save_grid(grid, run.out / "samples" / f"step_{step:06d}.png")
