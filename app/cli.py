"""The ``diffusion-viz`` command: the window by default, and train / sample / evaluate / export."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core import __version__
from core.errors import DiffusionVizError

SUBCOMMANDS = ("train", "sample", "evaluate", "export")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _add_train(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train a model on emoji or a folder of images",
        description="Train a UNet with the simple DDPM loss; the output folder is a model folder.",
    )
    p.add_argument("--data", default="emoji", help="'emoji' (Noto Color Emoji bitmaps) or a folder of images")
    p.add_argument("--size", type=_positive_int, default=32, help="image side in pixels (default 32)")
    p.add_argument("--out", required=True, help="output folder (model, checkpoints, sample grids)")
    p.add_argument("--steps", type=_positive_int, default=6000)
    p.add_argument("--batch-size", type=_positive_int, default=64)
    p.add_argument("--lr", type=float, default=4e-4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--prediction", choices=("eps", "x0", "v"), default="v")
    p.add_argument("--schedule", choices=("linear", "cosine", "sigmoid"), default="cosine")
    p.add_argument("--base-channels", type=_positive_int, default=32)
    p.add_argument("--channel-mults", default="1,2,2,2", help="comma-separated, e.g. 1,2,2,2")
    p.add_argument("--checkpoint-every", type=_positive_int, default=500)
    p.add_argument("--log-every", type=_positive_int, default=50)
    p.add_argument("--resume", action="store_true", help="continue from the training state in --out")
    p.add_argument("--device", default=None, help="cuda, mps or cpu (default: the best available)")


def _add_model_arg(p) -> None:
    p.add_argument("--model", default=None, help="a model folder (default: the bundled emoji model)")
    p.add_argument("--device", default=None, help="cuda, mps or cpu (default: the best available)")


def _add_sampler_args(p) -> None:
    p.add_argument("--sampler", choices=("ddpm", "ddim"), default="ddim")
    p.add_argument("--steps", type=_positive_int, default=50, help="DDIM steps (DDPM always runs every step)")
    p.add_argument("--eta", type=float, default=0.0, help="DDIM η: 0 deterministic, 1 DDPM-like")
    p.add_argument(
        "--variance",
        choices=("fixed_small", "fixed_large"),
        default="fixed_small",
        help="DDPM σ²: β̃_t (fixed_small) or β_t (fixed_large)",
    )
    p.add_argument("--seed", type=int, default=0)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="diffusion-viz",
        description="See how a denoising diffusion model works. With no command, opens the window.",
        epilog="Commands: train, sample, evaluate, export. 'diffusion-viz COMMAND --help' for each.",
    )
    parser.add_argument("--version", action="version", version=f"diffusion-viz {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_train(sub)

    p = sub.add_parser("sample", help="write a grid of samples from a model")
    _add_model_arg(p)
    _add_sampler_args(p)
    p.add_argument("--out", required=True, help="PNG file to write")
    p.add_argument("--n", type=_positive_int, default=64, help="number of samples (default 64)")

    p = sub.add_parser("evaluate", help="held-out bits/dim from the variational bound")
    _add_model_arg(p)
    p.add_argument("--data", default="emoji", help="'emoji' or a folder of images")
    p.add_argument("--num-images", type=_positive_int, default=None, help="evaluate only the first N held-out images")
    p.add_argument(
        "--stride",
        type=_positive_int,
        default=10,
        help="1 = every one of the T terms; k > 1 = exact first k terms, one random t per k after",
    )
    p.add_argument("--batch-size", type=_positive_int, default=64)
    p.add_argument("--seed", type=int, default=0)
    return parser


def _load(args):
    from core.checkpoint import BUNDLED_MODEL, load_model

    return load_model(args.model or BUNDLED_MODEL, device=args.device)


def _sampler_config(args):
    from core.samplers import SamplerConfig

    try:
        return SamplerConfig(
            sampler=args.sampler, steps=args.steps, eta=args.eta, variance=args.variance, seed=args.seed
        )
    except ValueError as exc:
        raise DiffusionVizError(str(exc)) from None


def _run_sample(args) -> int:
    from core.evaluate import describe, sample_grid_images
    from core.grid import save_grid

    model = _load(args)
    config = _sampler_config(args)
    print(f"model: {describe(model)}", flush=True)
    images = sample_grid_images(model, config, args.n)
    out = _writable(args.out)
    save_grid(images, out)
    print(f"wrote {len(images)} samples ({config.sampler}, seed {config.seed}) to {out}")
    return 0


def _run_evaluate(args) -> int:
    from core.evaluate import describe, evaluate_bpd, held_out_images

    model = _load(args)
    print(f"model: {describe(model)}", flush=True)
    images = held_out_images(model, args.data)
    if args.num_images:
        images = images[: args.num_images]
    print(f"evaluating {len(images)} held-out images, stride {args.stride} …", flush=True)
    result = evaluate_bpd(model, images, batch_size=args.batch_size, stride=args.stride, seed=args.seed)
    print(
        f"held-out bits/dim: {result['bpd']:.3f} ± {result['bpd_sem']:.3f} (standard error over "
        f"{result['images']} images; prior term L_T {result['prior_bpd']:.2e})"
    )
    return 0


def _writable(path: str) -> Path:
    out = Path(path)
    if out.is_dir():
        raise DiffusionVizError(f"{out} is a folder; give a file name")
    if not out.parent.exists():
        raise DiffusionVizError(f"the folder {out.parent} does not exist")
    return out


def _run_train(args) -> int:
    from core.train import TrainConfig, train

    mults = tuple(int(m) for m in args.channel_mults.split(","))
    cfg = TrainConfig(
        data=args.data,
        out=args.out,
        size=args.size,
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        prediction=args.prediction,
        schedule=args.schedule,
        base_channels=args.base_channels,
        channel_mults=mults,
        checkpoint_every=args.checkpoint_every,
        log_every=args.log_every,
        device=args.device,
    )
    summary = train(cfg, resume=args.resume, log=lambda m: print(m, flush=True))
    print(
        f"done: {summary['steps']} steps in {summary['seconds']:.0f} s, final loss {summary['final_loss']:.4f}, "
        f"model in {Path(args.out)}"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "train":
            return _run_train(args)
        if args.command == "sample":
            return _run_sample(args)
        if args.command == "evaluate":
            return _run_evaluate(args)
        parser.print_help()
        return 0
    except DiffusionVizError as exc:
        print(f"diffusion-viz: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("diffusion-viz: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
