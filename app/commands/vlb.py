"""``diffusion-viz vlb``: the variational bound's terms L_t of one image, as CSV (and a plot)."""

from __future__ import annotations

from pathlib import Path

from app.commands.options import add_model_args
from app.commands.running import advance, load_model, progress_bar


def add_parser(sub) -> None:
    p = sub.add_parser("vlb", help="the variational bound's terms L_t of one image, as CSV (and a plot)")
    p.add_argument("image", metavar="IMAGE", help="the image (centre-cropped and resized to the model's size)")
    add_model_args(p)
    p.add_argument("--out", required=True, help="the CSV to write: a header, then one row per term (t, bits/dim)")
    p.add_argument("--plot", default=None, help="also draw the terms over t into this PNG")
    p.add_argument("--seed", type=int, default=0, help="the noise seed (evaluate's, at stride 1)")


def run(args) -> int:
    from core.diffusion.vlb import bound_per_t
    from core.imaging.export import check_target
    from core.imaging.images import load_image
    from core.imaging.plot import write_bound_csv, write_bound_plot
    from core.runs.chain import model_x0

    out = check_target(args.out)
    plot = check_target(args.plot) if args.plot else None
    image = load_image(args.image)
    model = load_model(args)
    x0 = model_x0(model, image)
    print(
        f"model: {model.name}; {model.schedule.T} terms of {Path(args.image).name} at {model.image_size}²", flush=True
    )
    with progress_bar(model.schedule.T, "computing terms") as bar:
        terms, prior = bound_per_t(model, x0, seed=args.seed, progress=lambda n, total: advance(bar, n, total))
    write_bound_csv(out, terms, prior)
    if plot is not None:
        write_bound_plot(plot, terms, prior, title=f"{Path(args.image).name} under {model.name}")
    total = float(terms.sum() + prior)
    print(
        f"total {total:.4f} bits/dim (L_0 {terms[0]:.4f}, L_T {prior:.2e}); wrote {out}"
        + (f" and {plot}" if plot else "")
    )
    return 0
