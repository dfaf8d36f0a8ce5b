"""``diffusion-viz sample``: a grid of samples from pure noise, as a PNG."""

from __future__ import annotations

from app.commands.options import add_model_args, add_sampler_args, positive_int
from app.commands.running import advance, load_model, progress_bar, run_size, run_words, sampler_config
from core.errors import DiffusionVizError


def add_parser(sub) -> None:
    p = sub.add_parser(
        "sample",
        help="write a grid of samples from a model (default: DDIM, 100 steps, η = 1)",
        description="A grid of samples from pure noise. Defaults: DDIM, 100 steps, η = 1 (see the model card).",
    )
    add_model_args(p)
    add_sampler_args(p)
    # A grid is judged by its look: stochastic DDIM at 100 steps draws samples as close to the data as DDPM's 1000
    # steps in a tenth of the time; deterministic DDIM 50 smears (emoji32's card measures all three).
    p.set_defaults(sampler="ddim", steps=100, eta=1.0)
    p.add_argument("--out", required=True, help="the PNG file to write (its name ends in .png)")
    p.add_argument("--n", type=positive_int, default=64, help="number of samples (default 64)")


def run(args) -> int:
    from core.imaging.export import check_target
    from core.imaging.grid import save_grid
    from core.training.evaluate import describe, sample_grid_images

    out = check_target(args.out)  # before sampling, so a bad path costs no waiting
    if out.suffix.lower() != ".png":
        raise DiffusionVizError(f"{out}: the grid is written as a PNG; end the name in .png")
    model = load_model(args)
    config = sampler_config(args)
    print(f"model: {describe(model)}", flush=True)
    with progress_bar(None, "sampling steps") as bar:
        images = sample_grid_images(
            model, config, args.n, progress=lambda n, total: advance(bar, n, total), size=run_size(model, args)
        )
    save_grid(images, out)
    print(f"wrote {len(images)} samples ({run_words(config, model.schedule.T)}, seed {config.seed}) to {out}")
    return 0
