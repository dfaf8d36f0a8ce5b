"""Evaluate the photo model and write its MODEL_CARD.md, evaluation.json and figures.

Usage: .venv/bin/python scripts/photo_card.py MODEL_DIR PHOTO_FOLDER "EXACT TRAIN COMMAND" [--baseline SPEC]…

PHOTO_FOLDER is what scripts/photo_data.py wrote (its SOURCES.json gives each photo's author and licence).
Measures, on the photos the model held out whole: PSNR of x̂₀ per σ at 128² beside the baselines (emoji32
at its 32²), bits/dim at 32² and 128² beside emoji32's at 32², and draws sample grids at 64² and 128² from
pure noise and a held-out photo brought back from t = 0.3 T.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.device import randn  # noqa: E402
from core.diffusion.forward import q_sample  # noqa: E402
from core.diffusion.samplers import SamplerConfig, final_step  # noqa: E402
from core.diffusion.schedulers import sample_loop  # noqa: E402
from core.diffusion.vlb import bits_per_dim  # noqa: E402
from core.imaging.grid import save_grid  # noqa: E402
from core.imaging.scaling import tensor_to_images  # noqa: E402
from core.models.checkpoint import BUNDLED_MODEL, load_model  # noqa: E402
from core.training.denoise_eval import denoise_psnr, held_out_photo_crops, resize_x0  # noqa: E402

SAMPLER = SamplerConfig(sampler="ddim", steps=100, eta=1.0, seed=0)
HAND_WRITTEN = "<!-- Hand-written below this line; scripts/photo_card.py keeps it. -->"


def bpd(model, x0: torch.Tensor) -> tuple[float, float]:
    gen = torch.Generator().manual_seed(0)
    totals = []
    with torch.inference_mode():
        for start in range(0, len(x0), 16):
            r = bits_per_dim(
                model, model.schedule, x0[start : start + 16], prediction=model.prediction, stride=10, generator=gen
            )
            totals.append(r["total"])
    t = torch.cat(totals)
    return float(t.mean()), float(t.std() / len(t) ** 0.5)


def laplacian_energy(images: np.ndarray) -> float:
    """Mean |4p − its 4 neighbours| over uint8 pictures (N, H, W, C): how much fine detail they hold."""
    p = images.astype(np.float64) / 255
    lap = 4 * p[:, 1:-1, 1:-1] - p[:, :-2, 1:-1] - p[:, 2:, 1:-1] - p[:, 1:-1, :-2] - p[:, 1:-1, 2:]
    return float(np.abs(lap).mean())


def samples(model, size: int, n: int, x_start=None, t_start=None) -> np.ndarray:
    gen = torch.Generator().manual_seed(SAMPLER.seed)
    x = randn((n, 3, size, size), gen, model.device) if x_start is None else x_start
    with torch.inference_mode():
        last = final_step(
            sample_loop(model, model.schedule, SAMPLER, x, t_start=t_start, prediction=model.prediction, generator=gen)
        )
    return tensor_to_images(last.x_prev)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("photos")
    ap.add_argument("command", nargs="+", help="the exact train command(s), one per stage (a warm start's first)")
    ap.add_argument("--baseline", action="append", default=[])
    args = ap.parse_args()
    folder = Path(args.model)
    model = load_model(folder, device="cpu")
    emoji = load_model(BUNDLED_MODEL, device="cpu")
    prov = model.config["provenance"]
    held_names = prov["photos"]["held_out"]
    x128, _ = held_out_photo_crops(args.photos, 128, held_names, crops_per_photo=4, seed=0)
    whole = len(held_names)
    print(f"{len(x128)} held-out pictures", flush=True)

    t0 = time.perf_counter()
    tables = {f"{model.name} (128²)": denoise_psnr(model, x128)}
    for spec in args.baseline:
        base = load_model(spec, device="cpu", ideal_size=128)
        tables[f"{spec} (128²)"] = denoise_psnr(base, x128)
    tables["emoji32 (32²)"] = denoise_psnr(emoji, resize_x0(x128, 32))
    denoise_s = time.perf_counter() - t0
    print(json.dumps(tables, indent=1), flush=True)

    x32 = resize_x0(x128, 32)
    bits = {
        f"{model.name} at 128²": bpd(model, x128[:whole]),
        f"{model.name} at 32²": bpd(model, x32),
        "emoji32 at 32²": bpd(emoji, x32),
    }
    print(bits, flush=True)

    grids = {}
    for size, n in ((64, 16), (128, 8)):
        grid = samples(model, size, n)
        save_grid(grid, folder / f"samples_{size}.png", columns=8 if size == 64 else 4, scale=2 if size == 64 else 1)
        grids[size] = f"samples_{size}.png"
    # A held-out photo brought back from t = 0.3 T: x_0 | x_t | the final sample, one row per photo.
    t_start = int(0.3 * model.schedule.T) - 1
    gen = torch.Generator().manual_seed(1)
    x0 = x128[:whole]
    x_t = q_sample(model.schedule, x0, torch.full((whole,), t_start), randn(x0.shape, gen, x0.device))
    back = samples(model, 128, whole, x_start=x_t, t_start=t_start)
    rows = []
    for k in range(whole):
        rows += [tensor_to_images(x0[k : k + 1])[0], tensor_to_images(x_t[k : k + 1].clamp(-1, 1))[0], back[k]]
    save_grid(np.stack(rows), folder / "from_t30.png", columns=3, scale=1)
    detail = laplacian_energy(back) / laplacian_energy(tensor_to_images(x0))
    print(f"detail kept from t = 0.3 T: {detail:.2f}", flush=True)

    # "bpd" at the model's own size is the held-out figure the window's domain line compares with.
    evaluation = {
        "bpd": bits[f"{model.name} at 32²"][0],
        "domain": "photographs",
        "denoise_psnr": tables,
        "bits_per_dim": bits,
        "denoise_seconds": denoise_s,
        "detail_kept_from_t30": detail,
    }
    (folder / "evaluation.json").write_text(json.dumps(evaluation, indent=1) + "\n")
    write_card(folder, model, prov, args, tables, bits, whole, len(x128), detail)


def _stages(prov: dict) -> list[dict]:
    """The training stages, first first: a warm start (``--init``) records the provenance it started from."""
    stages = [prov]
    while stages[0].get("init_provenance"):
        stages.insert(0, stages[0]["init_provenance"])
    return stages


def _stage_lines(k: int, st: dict, n: int) -> str:
    crops = st["crops"]
    head = f"- stage {k + 1}: " if n > 1 else "- "
    return f"""{head}steps: {st["steps"]}, batch {st["batch_size"]}, Adam lr {st["lr"]} (200-step warm-up, {st["lr_schedule"]}
  schedule), EMA {st["ema_decay"]}, grad-norm clip 1.0, seed {st["seed"]}; crops: {crops["size"]}² from a
  square of side {crops["size"]}·s of the photo stored at long side {crops["photo_side"]}, log s uniform from
  {crops["min_scale"]} up to the photo's short side; random horizontal flips
  - wall time: {st["seconds"]:.0f} s ({st["seconds"] / 3600:.2f} h) on {st["hardware"]}, torch {st["torch"]},
    code {st["code_version"]} (the machine was shared with development work: an upper bound)
  - final training loss (mean over the last 50 steps, MSE of v): {st["final_loss"]}"""


def write_card(folder, model, prov, args, tables, bits, whole, n, detail) -> None:
    sources = {s["file"]: s for s in json.loads((Path(args.photos) / "SOURCES.json").read_text())}
    held = set(prov["photos"]["held_out"])
    rows = []
    for name in sorted(sources):
        s = sources[name]
        use = "held out" if name in held else "training"
        rows.append(f"| {name} | {s['author']} | {s['licence']} | `{s['package']}` | {use} |")
    names = list(tables)
    header = "| σ | t | noisy | " + " | ".join(names) + " |"
    lines = [header, "|" + " --- |" * (3 + len(names))]
    first = tables[names[0]]
    for sigma in first:
        cells = " | ".join(f"{tables[k][sigma]['psnr']:.2f}" for k in names)
        lines.append(
            f"| {float(sigma):.1f} | {first[sigma]['index'] + 1} | {first[sigma]['psnr_noisy']:.2f} | {cells} |"
        )
    bit_rows = "\n".join(f"| {k} | {m:.3f} ± {s:.3f} |" for k, (m, s) in bits.items())
    params = sum(p.numel() for p in model.network.parameters()) / 1e6
    stages = _stages(prov)
    sizes = " then ".join(f"{st['crops']['size']}²" for st in stages)
    total_s = sum(st["seconds"] for st in stages)
    kept = ""
    card_path = folder / "MODEL_CARD.md"
    if card_path.is_file() and HAND_WRITTEN in card_path.read_text():
        kept = card_path.read_text().split(HAND_WRITTEN, 1)[1]
    card = f"""# photo — a small fully convolutional DDPM trained on photographs

A {params:.2f} M-parameter UNet (`core/models/unet.py`) **without self-attention**, so the same weights run at
any size its down-sampling (8) divides: 64, 128 (the window's default), 256 px. It predicts **{model.prediction}**
(Salimans & Ho 2022) under the **{model.schedule.name}** schedule, T = {model.schedule.T}. Trained by this project's
own `train --crop` on {sizes} crops taken at random positions and random scales of whole photographs
(natural images are close to scale-invariant, so crops of a few big photos at many scales stand in for many small
photos); {prov["train_images"]} photos for training, {prov["held_out_images"]} held out whole. EMA weights.

## How it was trained
{"In " + str(len(stages)) + " stages, each started from the one before (`--init`)" if len(stages) > 1 else "In one run"};
{total_s:.0f} s ({total_s / 3600:.2f} h) in all.
```
{chr(10).join(args.command)}
```
{chr(10).join(_stage_lines(k, st, len(stages)) for k, st in enumerate(stages))}

## Evaluation on the held-out photos
{n} pictures: each of the {whole} held-out photos' centre square shrunk to the size, and 4 random-scale crops of
each (`diffusion-viz evaluate --denoise --model assets/models/photo --data PHOTOS`).

**Denoising**, PSNR (dB) of x̂₀ against x₀; σ in x₀ units (x_t/√ᾱ = x₀ + σε), pixels in [−1, 1]; the same noise
for every model; emoji32 sees the same pictures shrunk to its 32².

{chr(10).join(lines)}

**Bits/dim** (variational bound, σ² = β̃, stride 10; at 128² the {whole} whole photos, at 32² all {n} pictures):

| model and size | bits/dim |
| --- | --- |
{bit_rows}

Samples from pure noise (DDIM 100, η = 1, seed 0) at 64² ([samples_64.png](samples_64.png)) and 128²
([samples_128.png](samples_128.png)); the held-out photos noised to t = 0.3 T and brought back by the same sampler
([from_t30.png](from_t30.png): x₀ | x_t | result). Fine detail kept there, mean |∇²| of the results ÷ that of the
photos: **{detail:.2f}** (1 = as sharp as the photo; a blur shows as well below 1).

## Data and licence
Photographs (not drawings or renders) picked by eye from Debian's wallpaper packages by `scripts/photo_data.py`;
authors and licences as each package's `debian/copyright` states them (plasma-workspace-wallpapers gives one
licence, GPL-2+, for all its files; its authors are from each wallpaper's metadata.json). Pictures under
CC-BY-SA-3.0 were left out. **These weights are derived from the photographs below and are released under the
GNU GPL version 3 or later** (LICENSES/GPL-3.0.txt), which each licence allows: GPL-2+ permits version 3,
CC-BY-SA-4.0 names GPLv3 as a compatible licence, CC-BY-4.0 asks for the attribution given here, CC0 asks
nothing. Do not train on scikit-image's or scikit-learn's sample photos: they are the usual test images, and
none is used here.

| file | author | licence | package | use |
| --- | --- | --- | --- | --- |
{chr(10).join(rows)}

{HAND_WRITTEN}{kept}"""
    card_path.write_text(card)
    print(f"wrote {card_path}")


if __name__ == "__main__":
    main()
