"""Write MODEL_CARD.md, samples.png and nearest_neighbours.png for a trained emoji model folder.

Usage: .venv/bin/python scripts/model_card.py MODEL_DIR "EXACT TRAIN COMMAND" [PREVIOUS_MODEL_DIR]

With a previous model folder (its evaluation.json beside its weights), the card opens with a
before → after table, the nearest-neighbour numbers of both measured here the same way.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.diffusion.samplers import SamplerConfig  # noqa: E402
from core.imaging.grid import save_grid  # noqa: E402
from core.models.checkpoint import load_model  # noqa: E402
from core.training.data import load_dataset, split_holdout  # noqa: E402
from core.training.evaluate import evaluate_bpd, sample_grid_images  # noqa: E402


def nearest_neighbours(samples: np.ndarray, train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each sample, the index of and L2 distance (per pixel, 0..255) to the closest training image."""
    s = samples.reshape(len(samples), -1).astype(np.float32)
    t = train.reshape(len(train), -1).astype(np.float32)
    d2 = (s**2).sum(1)[:, None] + (t**2).sum(1)[None] - 2 * s @ t.T
    idx = d2.argmin(1)
    return idx, np.sqrt(np.maximum(d2[np.arange(len(s)), idx], 0) / s.shape[1])


def nn_stats(model, train: np.ndarray, n: int = 64) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(samples, nearest training index, RMS distance) for n DDIM-50 samples of seed 0."""
    samples = sample_grid_images(model, SamplerConfig(sampler="ddim", steps=50, seed=0), n)
    idx, dist = nearest_neighbours(samples, train)
    return samples, idx, dist


def main() -> None:
    folder, command = Path(sys.argv[1]), sys.argv[2]
    previous = Path(sys.argv[3]) if len(sys.argv) > 3 else None
    model = load_model(folder, device="cpu")
    prov = model.config["provenance"]
    data = load_dataset("emoji", model.image_size)
    train_idx, held_idx = split_holdout(len(data), prov["holdout_fraction"], seed=prov["holdout_seed"])
    train, held = data[train_idx], data[held_idx]

    t0 = time.perf_counter()
    bpd = evaluate_bpd(model, held, stride=10, seed=0)
    eval_s = time.perf_counter() - t0
    print(f"bits/dim {bpd}", flush=True)

    samples, idx, dist = nn_stats(model, train)
    save_grid(samples, folder / "samples.png", columns=8, scale=3)
    pairs = np.concatenate([samples[:16], train[idx[:16]]])
    save_grid(pairs, folder / "nearest_neighbours.png", columns=16, scale=3)
    # Reference: how close held-out emoji come to their nearest training emoji (near-duplicates like
    # skin-tone variants exist in the font, so this is small).
    _, held_dist = nearest_neighbours(held[:200], train)
    before = ""
    if previous is not None:
        old = json.loads((previous / "evaluation.json").read_text())
        old_model = load_model(previous, device="cpu")
        _, _, old_dist = nn_stats(old_model, train)
        ref = float(np.median(held_dist))
        before = f"""
## Before → after
| | previous ({old_model.config["provenance"]["steps"]} steps) | this model |
| --- | --- | --- |
| held-out bits/dim (stride 10) | {old["bpd"]:.3f} ± {old["bpd_sem"]:.3f} | **{bpd["bpd"]:.3f} ± {bpd["bpd_sem"]:.3f}** |
| samples' median NN RMS (64 samples) | {np.median(old_dist):.1f} ({np.median(old_dist) / ref:.2f}× held-out) | **{np.median(dist):.1f}** ({np.median(dist) / ref:.2f}× held-out) |
| samples' minimum NN RMS | {old_dist.min():.1f} | {dist.min():.1f} |

Held-out emoji lie at median {ref:.1f} from their nearest training emoji. Both models' samples are drawn
the same way here (DDIM 50, η = 0, seed 0, 64 samples).
"""

    hours = prov["seconds"] / 3600
    started = f", starting from the weights of {prov['init']}" if prov.get("init") else ""
    card = f"""# emoji32 — a small DDPM trained on Noto Color Emoji

A {sum(p.numel() for p in model.network.parameters()) / 1e6:.2f} M-parameter UNet (`core/models/unet.py`) that predicts
**{model.prediction}** (Salimans & Ho 2022) under the **{model.schedule.name}** schedule (Nichol & Dhariwal 2021),
T = {model.schedule.T}, at {model.image_size}×{model.image_size} RGB. Trained by this project's own `train` command;
these are the EMA weights.
{before}
## Data and licence
- Noto Color Emoji, from Debian's `fonts-noto-color-emoji`, read through fontTools' CBDT table, each bitmap
  composited on white and centred in a square, resized with Lanczos to {model.image_size}². Random horizontal flips.
- {prov["train_images"]} images for training, {prov["held_out_images"]} held out ({prov["holdout_fraction"]:.0%},
  split seed {prov["holdout_seed"]}; `core.training.data.split_holdout`).
- The emoji images are © Google, Apache License 2.0 (noto-emoji). These weights are derived from them and are
  released under the same licence.

## How it was trained
```
{command}
```
- steps: {prov["steps"]}{started}, batch {prov["batch_size"]}, Adam lr {prov["lr"]} (200-step warm-up,
  {prov.get("lr_schedule", "constant")} schedule), EMA {prov["ema_decay"]}, grad-norm clip 1.0, seed {prov["seed"]}
- wall time: {prov["seconds"]:.0f} s ({hours:.2f} h) on {prov["hardware"]}, torch {prov["torch"]},
  code {prov["code_version"]} (the machine was shared with development work, so the time is an upper bound)
- final training loss (mean over the last 50 steps, MSE of v): {prov["final_loss"]}

## Evaluation
- Held-out bits/dim (variational bound, fixed σ² = β̃, `diffusion-viz evaluate`, stride 10: the first 10
  terms exact and one stratified t per block of 10 after): **{bpd["bpd"]:.3f} ± {bpd["bpd_sem"]:.3f}** over
  {bpd["images"]} held-out images (L_T = {bpd["prior_bpd"]:.1e}); {eval_s:.0f} s on the CPU.
  The fixed-variance decoder L_0 alone costs ≈ 1 bit/dim even for a perfect mean (see `tests/test_vlb.py`), so this
  is a loose bound; improved DDPM's learned variances would tighten it.

## Samples
DDIM, 50 steps, η = 0, seed 0 (`diffusion-viz sample --out samples.png --seed 0`):

![samples](samples.png)

## Not copies of the training set
Top row: 16 samples; bottom row: the training image nearest to each (L2 in pixel space).

![nearest neighbours](nearest_neighbours.png)

RMS distance (0–255 scale) from each of 64 samples to its nearest training image: median {np.median(dist):.1f},
min {dist.min():.1f}. For comparison, held-out emoji lie at median {np.median(held_dist):.1f} from their nearest
training emoji (the font has many near-duplicates, such as skin-tone variants). The closest sample is
number {int(dist.argmin()) + 1} of the 64{" (in the row above)" if dist.argmin() < 16 else ""}.
"""
    (folder / "MODEL_CARD.md").write_text(card)
    (folder / "evaluation.json").write_text(
        json.dumps(
            {
                **bpd,
                "seconds": eval_s,
                "nn_rms_median": float(np.median(dist)),
                "nn_rms_min": float(dist.min()),
                "heldout_nn_rms_median": float(np.median(held_dist)),
            },
            indent=2,
        )
    )
    print(card)


if __name__ == "__main__":
    main()
