"""``diffusion-viz evaluate``: held-out bits/dim from the variational bound (``--denoise``: PSNR of x̂_0 per σ)."""

from __future__ import annotations

from app.commands.options import add_model_args, positive_int
from app.commands.running import advance, load_model, progress_bar


def add_parser(sub) -> None:
    p = sub.add_parser("evaluate", help="held-out bits/dim from the variational bound")
    add_model_args(p)
    p.add_argument("--data", default="emoji", help="'emoji' or a folder of images")
    p.add_argument("--num-images", type=positive_int, default=None, help="evaluate only the first N held-out images")
    p.add_argument(
        "--stride",
        type=positive_int,
        default=10,
        help="1 = every one of the T terms; k > 1 = exact first k terms, one random t per k after",
    )
    p.add_argument("--batch-size", type=positive_int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--denoise",
        action="store_true",
        help="instead of bits/dim: PSNR of x̂₀ per noise level σ on held-out photos (--data FOLDER), beside --baseline",
    )
    p.add_argument("--sigmas", default="0.1,0.2,0.4,0.8", help="--denoise: noise levels σ in x₀ units")
    p.add_argument("--baseline", action="append", help="--denoise: another model to compare (repeatable)")
    p.add_argument(
        "--crops-per-photo", type=int, default=4, help="--denoise: random-scale crops besides each whole photo"
    )


def run(args) -> int:
    from core.training.evaluate import describe, evaluate_bpd, held_out_images

    if args.denoise:
        from app.commands import denoise

        return denoise.run(args)

    model = load_model(args)
    print(f"model: {describe(model)}", flush=True)
    images = held_out_images(model, args.data)
    if args.num_images:
        images = images[: args.num_images]
    print(f"evaluating {len(images)} held-out images, stride {args.stride} …", flush=True)
    with progress_bar(len(images), "evaluating images") as bar:
        result = evaluate_bpd(
            model,
            images,
            batch_size=args.batch_size,
            stride=args.stride,
            seed=args.seed,
            progress=lambda n, total: advance(bar, n, total),
        )
    print(
        f"held-out bits/dim: {result['bpd']:.3f} ± {result['bpd_sem']:.3f} (standard error over "
        f"{result['images']} images; prior term L_T {result['prior_bpd']:.2e})"
    )
    return 0
