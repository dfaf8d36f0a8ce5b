"""``diffusion-viz export``: a forward scrub, a reverse run or a comparison as an animation, without a window."""

from __future__ import annotations

from pathlib import Path

from app.commands.options import add_animation_args, add_model_args, add_sampler_args, positive_int
from app.commands.running import load_model, one_step, progress_bar, run_size, sampler_config, say_if_far_outside
from core.choices import CONTENT, SCHEDULE_NAMES, VIEWS
from core.errors import DiffusionVizError


def add_parser(sub) -> None:
    p = sub.add_parser(
        "export",
        help="write a forward scrub or a reverse run as a GIF, WebP or MP4 (no window)",
        description="A forward scrub, a reverse run or a comparison as an animation for a slide: the format "
        "follows --out's extension (.gif, .webp, .mp4); pictures about 256 px on the long side; the last frame "
        "held 1.5 s. The defaults are the window's (DDPM, σ² = β̃_t, seed 0).",
    )
    p.add_argument("image", metavar="IMAGE", help="the image to noise (forward) or to denoise from (reverse)")
    p.add_argument("--out", required=True, help="the animation to write: NAME.gif, NAME.webp or NAME.mp4")
    p.add_argument("--mode", choices=("forward", "reverse", "compare"), default="reverse")
    p.add_argument(
        "--runs",
        default="ddpm:1000,ddim:50,ddim:10",
        help="compare: up to four sampler:steps[:eta] runs side by side from one start "
        "(from pure noise, or from IMAGE noised to --strength when it is given)",
    )
    add_model_args(p)
    add_sampler_args(p)
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
    add_animation_args(p)
    p.add_argument(
        "--side",
        type=positive_int,
        default=None,
        help="forward: the long side of the pictures in px, noised at that size (default 256; 512 = the "
        "window's full size)",
    )
    p.add_argument(
        "--stride",
        type=positive_int,
        default=None,
        help="every n-th frame (default: about 60 frames in all; 1 = every frame)",
    )
    p.add_argument("--scale", type=positive_int, default=None, help="nearest-neighbour scale (default: to ≈256 px)")
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


def run(args) -> int:
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

        model = load_model(args)
        runs = parse_runs(args.runs, model)
        T = model.schedule.T
        if args.strength is not None and not 1 <= args.strength <= T:
            raise DiffusionVizError(f"--strength must lie in 1..{T} (the model's T), got {args.strength}")
        start = "pure noise" if args.strength is None else f"{Path(args.image).name} noised to t = {args.strength}"
        print(f"model: {model.name}; {len(runs)} runs from {start}, seed {args.seed}", flush=True)
        with progress_bar(total_ticks(runs, args.strength), "computing steps") as bar:
            chains = compare_chains(runs, image, args.strength, seed=args.seed)
            ticks = [tick for tick in chains if not one_step(bar)]
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
            schedule = load_model(args).schedule
        else:
            schedule = NoiseSchedule.from_name(args.schedule)
        # --side (256 px by default) sizes the pictures; --scale K instead enlarges the window's own
        # pictures (up to 512 px) K times.
        side = None if args.scale and not args.side else (args.side or SLIDE_SIDE)
        working = fit_long_side(image, max(side or 0, FULL_SIDE))
        stride = args.stride or default_stride(schedule.T + 1)
        pictures = forward_pictures(schedule, working, args.seed, stride, args.scale or 1, not args.no_label, side)
    else:
        model = load_model(args)
        T = model.schedule.T
        strength = T // 2 if args.strength is None else args.strength
        if not 1 <= strength <= T:
            raise DiffusionVizError(f"--strength must lie in 1..{T} (the model's T), got {strength}")
        config = sampler_config(args)
        say_if_far_outside(model, image, Path(args.image).name)
        print(f"model: {model.name}; {config.sampler} from t = {strength} of {T}", flush=True)
        size = run_size(model, args)  # the photo model runs at 128 px unless --size says otherwise
        record = RunRecord(RunSpec(model, config, image, index_from_paper_t(strength), size=size))
        with progress_bar(None, "denoising steps") as bar:
            record_run(record, cancelled=lambda: one_step(bar))
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
