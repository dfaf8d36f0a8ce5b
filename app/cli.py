"""The ``diffusion-viz`` command: the window by default, and train / sample / evaluate / export."""

from __future__ import annotations

import argparse
import difflib
import os
import sys
from pathlib import Path

from app.commands import analyse, playground
from app.commands import samplers as samplers_command
from app.commands import theory as theory_command
from app.commands import train as train_command
from app.commands.options import positive_int as _positive_int
from core import __version__
from core.choices import CONTENT, SAMPLERS, SCHEDULE_NAMES, VARIANCES, VIEWS
from core.errors import DiffusionVizError

SUBCOMMANDS = ("train", "sample", "evaluate", "export", "vlb", "invert", "playground", "theory", "analyse", "samplers")


class ArgumentParser(argparse.ArgumentParser):
    """argparse, with a usage error as one line (the usage block is one ``--help`` away)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def progress_bar(total: int | None, what: str):
    """A tqdm bar on stderr (only on a terminal: a log file gets the result lines alone)."""
    from tqdm import tqdm

    return tqdm(total=total, desc=what, unit=" " + what.split()[-1], file=sys.stderr, disable=None, leave=False)


def _window_problem(image: str | None) -> str | None:
    """Why the window cannot open (a mistyped command, a missing image, no display), or None."""
    if image is not None and not Path(image).exists():
        if Path(image).suffix == "" and os.sep not in image:
            near = difflib.get_close_matches(image, SUBCOMMANDS, n=1)
            hint = f"did you mean {near[0]}? " if near else ""
            return f"{image!r} is neither a command ({hint}commands: {', '.join(SUBCOMMANDS)}) nor an image file"
        return f"{Path(image).absolute()} does not exist"
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if sys.platform.startswith("linux") and not platform:
        if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
            return (
                "no display to open the window on (DISPLAY is not set); the commands "
                f"({', '.join(SUBCOMMANDS)}) run without one"
            )
        import ctypes.util

        if not os.environ.get("WAYLAND_DISPLAY") and ctypes.util.find_library("xcb-cursor") is None:
            return "Qt needs the library xcb-cursor0 to open a window: sudo apt-get install libxcb-cursor0"
    return None


def _add_model_arg(p) -> None:
    p.add_argument(
        "--model",
        default=None,
        help="a model folder, a diffusers UNet folder, or ideal:FOLDER / ideal:emoji (default: the bundled model)",
    )
    p.add_argument(
        "--size",
        type=_positive_int,
        default=None,
        help="the side to run at: a fully convolutional model runs at any multiple of its down-sampling "
        "(default: its run size, 128 px for the bundled photo model, else its own size); for ideal:FOLDER, the side its pictures are resized to (default 64)",
    )
    p.add_argument("--device", default=None, help="cuda, mps or cpu (default: the best available)")


def _add_sampler_args(p) -> None:
    # The window's reverse panel starts on the same: DDPM, σ² = β̃_t, seed 0 (and DDIM 50, η = 0 once picked).
    p.add_argument("--sampler", choices=SAMPLERS, default="ddpm", help="default: %(default)s")
    samplers_command.add_spacing_args(p)
    p.add_argument(
        "--steps", type=_positive_int, default=50, help="DDIM steps; DDPM always runs every step (default: %(default)s)"
    )
    p.add_argument("--eta", type=float, default=0.0, help="DDIM η: 0 deterministic, 1 DDPM-like (default: %(default)s)")
    p.add_argument(
        "--variance",
        choices=VARIANCES,
        default="fixed_small",
        help="DDPM σ²: β̃_t (fixed_small) or β_t (fixed_large) (default: %(default)s)",
    )
    p.add_argument("--seed", type=int, default=0, help="default: %(default)s")


def _add_animation_args(p) -> None:
    p.add_argument("--fps", type=float, default=20.0, help="frames per second (default: %(default)s)")
    p.add_argument(
        "--hold", type=float, default=1.5, help="seconds the last frame stays before the loop (default: %(default)s)"
    )


DESCRIPTION = (
    "See how a denoising diffusion model works: the forward process, the model's reverse chain, the schedules."
)
EPILOG = """commands (each has --help):
  train      train a model on emoji or a folder of images
  sample     write a grid of samples from a model
  evaluate   held-out bits/dim from the variational bound
  export     write a forward scrub or a reverse run as a GIF, without a window
  vlb        the variational bound's terms L_t of one image, as CSV (and a plot)
  invert     DDIM inversion: an image to x_T and back, as a GIF; prints the PSNR
  playground the 2-D playground: train on points, sample, write a GIF, print how close the samples came
  theory     r² of the ideal, Gaussian and ELS denoisers against the network; --calibrate fits P(t)
  analyse    spectrum at t, when each detail is decided, exposure bias, the resolution ladder
  samplers   the sampler lab: Euler, Heun, DPM-Solver++ and DDIM against a reference, error vs NFE as CSV

examples:
  diffusion-viz photo.jpg
  diffusion-viz export photo.jpg --out run.gif --mode reverse --strength 600
  diffusion-viz sample --out grid.png"""


def build_window_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="diffusion-viz",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        usage="diffusion-viz [IMAGE] [--model DIR] [--view x0|eps|v|score]\n       diffusion-viz COMMAND ...",
    )
    parser.add_argument("image", nargs="?", metavar="IMAGE", help="an image to open (default: a sample emoji)")
    parser.add_argument("--model", default=None, help="a model folder (default: the bundled emoji model)")
    parser.add_argument(
        "--view",
        choices=VIEWS,
        default=None,
        help="what the reverse panel's second picture shows first: x̂_0, ε̂, v̂ or the score",
    )
    parser.add_argument("--version", action="version", version=f"diffusion-viz {__version__}")
    parser.add_argument("--quit-after", type=int, default=None, metavar="MS", help=argparse.SUPPRESS)
    return parser


def _register(sub, command) -> None:
    """Add a command module's parser (``command.add_parser(sub)``) and dispatch it to ``command.run``."""
    before = set(sub.choices)
    command.add_parser(sub)
    for name in set(sub.choices) - before:
        sub.choices[name].set_defaults(func=command.run)


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="diffusion-viz", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"diffusion-viz {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in (train_command, theory_command, samplers_command):
        _register(sub, command)

    p = sub.add_parser(
        "sample",
        help="write a grid of samples from a model (default: DDIM, 100 steps, η = 1)",
        description="A grid of samples from pure noise. Defaults: DDIM, 100 steps, η = 1 (see the model card).",
    )
    _add_model_arg(p)
    _add_sampler_args(p)
    # A grid is judged by its look: stochastic DDIM at 100 steps draws samples as close to the data as DDPM's 1000
    # steps in a tenth of the time; deterministic DDIM 50 smears (emoji32's card measures all three).
    p.set_defaults(sampler="ddim", steps=100, eta=1.0)
    p.add_argument("--out", required=True, help="the PNG file to write (its name ends in .png)")
    p.add_argument("--n", type=_positive_int, default=64, help="number of samples (default 64)")
    p.set_defaults(func=_run_sample)

    p = sub.add_parser("evaluate", help="held-out bits/dim from the variational bound")
    p.set_defaults(func=_run_evaluate)
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

    p = sub.add_parser(
        "export",
        help="write a forward scrub or a reverse run as a GIF, WebP or MP4 (no window)",
        description="A forward scrub, a reverse run or a comparison as an animation for a slide: the format "
        "follows --out's extension (.gif, .webp, .mp4); pictures about 256 px on the long side; the last frame "
        "held 1.5 s. The defaults are the window's (DDPM, σ² = β̃_t, seed 0).",
    )
    p.set_defaults(func=_run_export)
    p.add_argument("image", metavar="IMAGE", help="the image to noise (forward) or to denoise from (reverse)")
    p.add_argument("--out", required=True, help="the animation to write: NAME.gif, NAME.webp or NAME.mp4")
    p.add_argument("--mode", choices=("forward", "reverse", "compare"), default="reverse")
    p.add_argument(
        "--runs",
        default="ddpm:1000,ddim:50,ddim:10",
        help="compare: up to four sampler:steps[:eta] runs side by side from one start "
        "(from pure noise, or from IMAGE noised to --strength when it is given)",
    )
    _add_model_arg(p)
    _add_sampler_args(p)
    p.add_argument(
        "--strength",
        type=int,
        default=None,
        help="reverse: the paper's t (1..T) to noise the image to before denoising; default T/2. "
        "T starts from (almost) pure noise",
    )
    p.add_argument(
        "--schedule",
        choices=("model", *SCHEDULE_NAMES),
        default="model",
        help="forward: the schedule to noise with (default: the model's)",
    )
    _add_animation_args(p)
    p.add_argument(
        "--side",
        type=_positive_int,
        default=None,
        help="forward: the long side of the pictures in px, noised at that size (default 256; 512 = the "
        "window's full size)",
    )
    p.add_argument(
        "--stride",
        type=_positive_int,
        default=None,
        help="every n-th frame (default: about 60 frames in all; 1 = every frame)",
    )
    p.add_argument("--scale", type=_positive_int, default=None, help="nearest-neighbour scale (default: to ≈256 px)")
    p.add_argument(
        "--content",
        choices=(*CONTENT, "x0"),
        default="both",
        help="reverse: x_t | prediction (both), x_t, the prediction (pred; x0 is the same with --view x0), "
        "or x_t | prediction | truth (all)",
    )
    p.add_argument(
        "--view",
        choices=VIEWS,
        default="x0",
        help="reverse: the prediction shown: x̂_0, ε̂, v̂ or the score (converted from the model's own output)",
    )
    p.add_argument("--no-label", action="store_true", help="do not write t on the frames")

    p = sub.add_parser("vlb", help="the variational bound's terms L_t of one image, as CSV (and a plot)")
    p.set_defaults(func=_run_vlb)
    p.add_argument("image", metavar="IMAGE", help="the image (centre-cropped and resized to the model's size)")
    _add_model_arg(p)
    p.add_argument("--out", required=True, help="the CSV to write: a header, then one row per term (t, bits/dim)")
    p.add_argument("--plot", default=None, help="also draw the terms over t into this PNG")
    p.add_argument("--seed", type=int, default=0, help="the noise seed (evaluate's, at stride 1)")

    p = sub.add_parser("invert", help="DDIM inversion: an image to x_T and back, as a GIF; prints the PSNR")
    p.set_defaults(func=_run_invert)
    p.add_argument("image", metavar="IMAGE", help="the image (centre-cropped and resized to the model's size)")
    _add_model_arg(p)
    p.add_argument(
        "--steps", type=_positive_int, default=50, help="DDIM steps each way, η = 0 always (default: %(default)s)"
    )
    p.add_argument("--out", required=True, help="the animation (.gif, .webp, .mp4): x_0 | x_t up to x_T | back down")
    _add_animation_args(p)
    p.add_argument("--scale", type=_positive_int, default=None, help="nearest-neighbour scale (default: to ≈256 px)")

    for command in (analyse, playground):
        _register(sub, command)
    return parser


def _load(args):
    from core.models.checkpoint import BUNDLED_MODEL, load_model

    model = load_model(args.model or BUNDLED_MODEL, device=args.device, ideal_size=args.size)
    for note in model.notes:
        print(f"diffusion-viz: {note}", file=sys.stderr)
    return model


def _say_if_far_outside(model, image, name: str) -> None:
    """The window's domain line on stderr: a photo under emoji32 is named as such, with the model that fits.

    Only for a model whose card gives a held-out bits/dim; the bound costs about 2 s at its 32² (bench row 8).
    """
    from core.diffusion.vlb import bound_per_t
    from core.models.catalogue import bundled_choices
    from core.models.domain import domain_line, held_out_figure
    from core.runs.chain import model_x0

    if held_out_figure(model) is None:
        return
    terms, prior = bound_per_t(model, model_x0(model, image), seed=0)
    line = domain_line(
        model,
        float(terms.sum() + prior),
        bundled_choices(),
        pick=lambda other: f"{other.label} model: --model {other.spec}",
    )
    if line:
        print(f"diffusion-viz: {name}: {line}", file=sys.stderr)


def _run_size(model, args) -> int:
    """The side to run ``model`` at: --size where it can run there, else its default (saying so)."""
    from core.models.sizes import resolve_run_size

    size, note = resolve_run_size(model, None if str(args.model or "").startswith("ideal:") else args.size)
    if note:
        print(f"diffusion-viz: {note}", file=sys.stderr)
    return size


def _sampler_config(args):
    from core.diffusion.samplers import SamplerConfig

    try:
        return SamplerConfig(
            sampler=args.sampler,
            steps=args.steps,
            eta=args.eta,
            variance=args.variance,
            seed=args.seed,
            **samplers_command.spacing_config(args),
        )
    except ValueError as exc:
        raise DiffusionVizError(str(exc)) from None


def _run_sample(args) -> int:
    from core.imaging.export import check_target
    from core.imaging.grid import save_grid
    from core.training.evaluate import describe, sample_grid_images

    out = check_target(args.out)  # before sampling, so a bad path costs no waiting
    if out.suffix.lower() != ".png":
        raise DiffusionVizError(f"{out}: the grid is written as a PNG; end the name in .png")
    model = _load(args)
    config = _sampler_config(args)
    print(f"model: {describe(model)}", flush=True)
    with progress_bar(None, "sampling steps") as bar:
        images = sample_grid_images(
            model, config, args.n, progress=lambda n, total: _advance(bar, n, total), size=_run_size(model, args)
        )
    save_grid(images, out)
    steps = min(config.steps, model.schedule.T)  # DDIM visits at most every step
    how = "DDPM, every step" if config.sampler == "ddpm" else f"DDIM {steps} steps, η = {config.eta:g}"
    how = how if config.sampler in ("ddpm", "ddim") else samplers_command.run_words(config)
    print(f"wrote {len(images)} samples ({how}, seed {config.seed}) to {out}")
    return 0


def _run_evaluate(args) -> int:
    from core.training.evaluate import describe, evaluate_bpd, held_out_images

    if args.denoise:
        from app.commands import denoise

        return denoise.run(args)

    model = _load(args)
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
            progress=lambda n, total: _advance(bar, n, total),
        )
    print(
        f"held-out bits/dim: {result['bpd']:.3f} ± {result['bpd_sem']:.3f} (standard error over "
        f"{result['images']} images; prior term L_T {result['prior_bpd']:.2e})"
    )
    return 0


def _advance(bar, done: int, total: int | None = None) -> None:
    """Move a progress bar to ``done`` of ``total``."""
    if total is not None and bar.total != total:
        bar.total = total
        bar.refresh()
    bar.update(done - bar.n)


def _tick(bar) -> bool:
    """One step on a progress bar; False: a run's ``cancelled`` hook that never cancels."""
    bar.update()
    return False


def _run_export(args) -> int:
    from core.diffusion.schedules import NoiseSchedule, index_from_paper_t
    from core.imaging.export import animation_format, check_target, write_animation
    from core.imaging.images import fit_long_side, load_image
    from core.runs.pictures import (
        FULL_SIDE,
        SLIDE_SIDE,
        default_stride,
        forward_pictures,
        reverse_pictures,
        scale_for,
    )
    from core.runs.record import RunRecord, record_run
    from core.runs.spec import RunSpec

    animation_format(args.out)  # an unknown extension is told before any work
    out = check_target(args.out)
    image = load_image(args.image)
    if args.mode == "compare":
        from core.runs.compare import compare_chains, parse_runs, total_ticks
        from core.runs.pictures import compare_pictures

        model = _load(args)
        runs = parse_runs(args.runs, model)
        T = model.schedule.T
        if args.strength is not None and not 1 <= args.strength <= T:
            raise DiffusionVizError(f"--strength must lie in 1..{T} (the model's T), got {args.strength}")
        start = "pure noise" if args.strength is None else f"{Path(args.image).name} noised to t = {args.strength}"
        print(f"model: {model.name}; {len(runs)} runs from {start}, seed {args.seed}", flush=True)
        with progress_bar(total_ticks(runs, args.strength), "computing steps") as bar:
            chains = compare_chains(runs, image, args.strength, seed=args.seed)
            ticks = [tick for tick in chains if not _tick(bar)]
        side = max(ticks[0][i].x_t.shape[-1] for i in range(len(runs)))  # the columns' one display size
        scale = args.scale or scale_for(side, 128)  # four columns of 128 px: one slide's width
        one_model = len({r.model.name for r in runs}) == 1
        titles = [r.title().rsplit(" (", 1)[0] if one_model else r.title() for r in runs]
        pictures = compare_pictures(
            ticks,
            titles,
            what="xt" if args.view != "x0" else "x0",
            stride=args.stride or default_stride(len(ticks)),
            scale=scale,
            label=not args.no_label,
        )
    elif args.mode == "forward":
        if args.schedule == "model":
            schedule = _load(args).schedule
        else:
            schedule = NoiseSchedule.from_name(args.schedule)
        # --side (256 px by default) sizes the pictures; --scale K instead enlarges the window's own
        # pictures (up to 512 px) K times.
        side = None if args.scale and not args.side else (args.side or SLIDE_SIDE)
        working = fit_long_side(image, max(side or 0, FULL_SIDE))
        stride = args.stride or default_stride(schedule.T + 1)
        pictures = forward_pictures(schedule, working, args.seed, stride, args.scale or 1, not args.no_label, side)
    else:
        model = _load(args)
        T = model.schedule.T
        strength = T // 2 if args.strength is None else args.strength
        if not 1 <= strength <= T:
            raise DiffusionVizError(f"--strength must lie in 1..{T} (the model's T), got {strength}")
        config = _sampler_config(args)
        _say_if_far_outside(model, image, Path(args.image).name)
        print(f"model: {model.name}; {config.sampler} from t = {strength} of {T}", flush=True)
        size = _run_size(model, args)  # the photo model runs at 128 px unless --size says otherwise
        record = RunRecord(RunSpec(model, config, image, index_from_paper_t(strength), size=size))
        with progress_bar(None, "denoising steps") as bar:
            record_run(record, cancelled=lambda: _tick(bar))
        frames = record.frames.snapshot()
        scale = args.scale or scale_for(size, args.side or SLIDE_SIDE)
        content, view = ("pred", "x0") if args.content == "x0" else (args.content, args.view)
        pictures = reverse_pictures(
            frames,
            model.schedule,
            content=content,
            view=view,
            x0=record.x0,
            stride=args.stride or default_stride(len(frames)),
            scale=scale,
            label=not args.no_label,
        )
    write_animation(pictures, out, args.fps, args.hold)
    h, w = pictures[0].shape[:2]
    print(f"wrote {len(pictures)} frames of {w}×{h} to {out} ({out.stat().st_size / 1e6:.1f} MB)")
    return 0


def _run_vlb(args) -> int:
    from core.diffusion.vlb import bound_per_t
    from core.imaging.export import check_target
    from core.imaging.images import load_image
    from core.imaging.plot import write_bound_csv, write_bound_plot
    from core.runs.chain import model_x0

    out = check_target(args.out)
    plot = check_target(args.plot) if args.plot else None
    image = load_image(args.image)
    model = _load(args)
    x0 = model_x0(model, image)
    print(
        f"model: {model.name}; {model.schedule.T} terms of {Path(args.image).name} at {model.image_size}²", flush=True
    )
    with progress_bar(model.schedule.T, "computing terms") as bar:
        terms, prior = bound_per_t(model, x0, seed=args.seed, progress=lambda n, total: _advance(bar, n, total))
    write_bound_csv(out, terms, prior)
    if plot is not None:
        write_bound_plot(plot, terms, prior, title=f"{Path(args.image).name} under {model.name}")
    total = float(terms.sum() + prior)
    print(
        f"total {total:.4f} bits/dim (L_0 {terms[0]:.4f}, L_T {prior:.2e}); wrote {out}"
        + (f" and {plot}" if plot else "")
    )
    return 0


def _run_invert(args) -> int:
    from core.imaging.export import animation_format, check_target, write_animation
    from core.imaging.images import load_image
    from core.runs.inversion import inversion_frames
    from core.runs.pictures import SLIDE_SIDE, inversion_pictures, scale_for

    animation_format(args.out)
    out = check_target(args.out)
    image = load_image(args.image)
    model = _load(args)
    size = _run_size(model, args)
    _say_if_far_outside(model, image, Path(args.image).name)
    print(f"model: {model.name}; DDIM inversion at {size} px with {args.steps} steps each way (η = 0)", flush=True)
    with progress_bar(2 * args.steps + 1, "inversion steps") as bar:
        frames = [f for f in inversion_frames(model, image, args.steps, size=size) if not _tick(bar)]
    scale = args.scale or scale_for(size, SLIDE_SIDE // 2)  # three columns of about 128 px: 384 px in all
    pictures = inversion_pictures(frames, scale)
    write_animation(pictures, out, args.fps, args.hold)
    print(f"reconstruction PSNR {frames[-1].psnr:.2f} dB (x_0 → x_T → x_0); wrote {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in SUBCOMMANDS:
        args = build_window_parser().parse_args(argv)
        problem = _window_problem(args.image)
        if problem is not None:  # said before Qt is touched: Qt without a display aborts the process
            print(f"diffusion-viz: {problem}", file=sys.stderr)
            return 2
        from app.gui import run

        return run(args.image, args.model, view=args.view, quit_after_ms=args.quit_after)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except DiffusionVizError as exc:
        print(f"diffusion-viz: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a read-only folder, a full disk: the system's words, without a traceback
        where = f": {exc.filename}" if exc.filename else ""
        print(f"diffusion-viz: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("diffusion-viz: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
