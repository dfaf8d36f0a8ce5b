"""Write MODEL_CARD.md, evaluation.json and the sample and nearest-neighbour grids for a trained emoji model folder.

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
from core.training.data import emoji_groups, load_dataset, split_holdout  # noqa: E402
from core.training.evaluate import (  # noqa: E402
    evaluate_bpd,
    heldout_neighbour_distances,
    nearest_training,
    sample_grid_images,
)

# How samples are drawn for the distance rows: the window's default (Play from pure noise) and the
# `sample` command's default.
SAMPLERS = {
    "window's DDPM, every step": SamplerConfig(sampler="ddpm", seed=0),
    "`sample`'s DDIM 100, η = 1": SamplerConfig(sampler="ddim", steps=100, eta=1.0, seed=0),
    "DDIM 50, η = 0 (deterministic)": SamplerConfig(sampler="ddim", steps=50, seed=0),
}
HAND_WRITTEN = "<!-- Hand-written below this line; scripts/model_card.py keeps it. -->"


def nn_stats(model, train: np.ndarray, n: int = 64) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per sampler: (samples, nearest training index, RMS distance) for n samples of seed 0."""
    out = {}
    for name, config in SAMPLERS.items():
        samples = sample_grid_images(model, config, n)
        out[name] = (samples, *nearest_training(samples, train))
        print(f"{name}: median NN {np.median(out[name][2]):.1f}", flush=True)
    return out


def main() -> None:
    folder, command = Path(sys.argv[1]), sys.argv[2]
    previous = Path(sys.argv[3]) if len(sys.argv) > 3 else None
    model = load_model(folder, device="cpu")
    prov = model.config["provenance"]
    data = load_dataset("emoji", model.image_size)
    groups = emoji_groups()
    train_idx, held_idx = split_holdout(len(data), prov["holdout_fraction"], seed=prov["holdout_seed"])
    train, held = data[train_idx], data[held_idx]
    # Training flips images left-right, so a mirrored copy is a copy: search both orientations.
    reference = np.concatenate([train, train[:, :, ::-1]])

    t0 = time.perf_counter()
    bpd = evaluate_bpd(model, held, stride=10, seed=0)
    eval_s = time.perf_counter() - t0
    print(f"bits/dim {bpd}", flush=True)

    stats = nn_stats(model, reference)
    window_name, sample_name, ddim_name = SAMPLERS
    ddim_samples = stats[sample_name][0]
    save_grid(ddim_samples, folder / "samples.png", columns=8, scale=3)
    save_grid(stats[window_name][0], folder / "samples_ddpm.png", columns=8, scale=3)
    samples, idx, dist = stats[window_name]
    pairs = np.concatenate([samples[:16], reference[idx[:16]]])
    save_grid(pairs, folder / "nearest_neighbours.png", columns=16, scale=3)
    ref = heldout_neighbour_distances(held, reference, [groups[i] for i in held_idx], [groups[i] for i in train_idx])
    yard = ref["median"]
    closest = min(float(d.min()) for _, _, d in stats.values())

    def row(s: dict, name: str) -> str:
        d = s[name][2]
        # The spread of a median of 64: its standard deviation over bootstrap resamples of the samples.
        boot = np.median(np.random.default_rng(0).choice(d, (1000, len(d))), axis=1)
        return f"{np.median(d):.1f} ± {boot.std():.1f} ({np.median(d) / yard:.2f}×)"

    before = ""
    if previous is not None:
        old = json.loads((previous / "evaluation.json").read_text())
        old_model = load_model(previous, device="cpu")
        old_stats = nn_stats(old_model, reference)
        from_old = " from earlier weights" if old_model.config["provenance"].get("init") else ""
        old_closest = min(float(d.min()) for _, _, d in old_stats.values())
        before = f"""
## Before → after
| | previous ({old_model.config["provenance"]["steps"]} steps{from_old}) | this model |
| --- | --- | --- |
| held-out bits/dim (stride 10) | {old["bpd"]:.3f} ± {old["bpd_sem"]:.3f} | **{bpd["bpd"]:.3f} ± {bpd["bpd_sem"]:.3f}** |
| samples' median NN RMS, {window_name} | {row(old_stats, window_name)} | **{row(stats, window_name)}** |
| samples' median NN RMS, {sample_name} | {row(old_stats, sample_name)} | **{row(stats, sample_name)}** |
| samples' median NN RMS, {ddim_name} | {row(old_stats, ddim_name)} | **{row(stats, ddim_name)}** |
| samples' minimum NN RMS (all samplers) | {old_closest:.1f} | {closest:.1f} |

NN RMS: the RMS distance (0–255 scale) from each of 64 samples (seed 0) to its nearest training image or
its mirror image (training flips them), ± the median's bootstrap spread;
× is the ratio to the median of all {len(held)} held-out emoji ({yard:.1f}). Both models are measured
the same way here.
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
DDIM, 100 steps, η = 1, seed 0 (`diffusion-viz sample --out samples.png --seed 0`):

![samples](samples.png)

DDPM, every step, σ² = β̃ (what the window's Play draws from pure noise), seed 0:

![samples, DDPM](samples_ddpm.png)

## Not copies of the training set
Top row: 16 of the DDPM samples; bottom row: the training image (or its mirror image) nearest to each (L2 in
pixel space).

![nearest neighbours](nearest_neighbours.png)

RMS distance (0–255 scale) from each of 64 samples to its nearest training image: median
{np.median(dist):.1f} for the window's DDPM and {np.median(stats[sample_name][2]):.1f} for `sample`'s DDIM 100 (η = 1), and
{np.median(stats[ddim_name][2]):.1f} for deterministic DDIM 50, whose samples smear more; the closest of all 192 samples lies at {closest:.1f} (a copy, mirrored or not, would lie below 5). The yardstick is real emoji the model never saw:
all {len(held)} held-out emoji lie at median {yard:.1f} from their nearest training emoji. The font draws many emoji
in several skin tones, so the {ref["with_sibling"]} held-out emoji whose sibling was trained on lie at median
{ref["median_with_sibling"]:.1f}, and the {ref["without_sibling"]} truly new ones at median {ref["median_without_sibling"]:.1f}.
"""
    old_card = folder / "MODEL_CARD.md"
    if old_card.exists() and HAND_WRITTEN in old_card.read_text():
        card += "\n" + HAND_WRITTEN + old_card.read_text().split(HAND_WRITTEN, 1)[1]
    (folder / "MODEL_CARD.md").write_text(card)
    (folder / "evaluation.json").write_text(
        json.dumps(
            {
                **bpd,
                "seconds": eval_s,
                "nn_rms_median_ddpm": float(np.median(dist)),
                "nn_rms_median_ddim100_eta1": float(np.median(stats[sample_name][2])),
                "nn_rms_median_ddim50_eta0": float(np.median(stats[ddim_name][2])),
                "nn_rms_min": closest,
                "heldout_nn": ref,
            },
            indent=2,
        )
    )
    print(card)


if __name__ == "__main__":
    main()
