"""``diffusion-viz playground``: the 2-D playground without a window (#12, #24).

Train on points and write the run as a GIF; ``--objective fm`` trains flow matching (``--reflow`` adds one
rectified-flow round), ``--guidance W`` trains a conditional model and samples one class with classifier-free
guidance, ``--memorisation`` writes the copying-against-generalising curve by the number of points as a CSV.
"""

from __future__ import annotations

import csv
from pathlib import Path

from core.choices import PREDICTIONS, TOY_DATASETS, TOY_DIFFUSION_SAMPLERS, TOY_FLOW_SAMPLERS
from core.errors import DiffusionVizError

OBJECTIVES = ("diffusion", "fm")
# Written out so that building the parser imports no torch; a test holds it equal to core.toy2d.DEFAULT_SIZES.
MEMORISATION_SIZES = "4,16,32,64,128,256,512,1024,4096"


def add_parser(sub) -> None:
    p = sub.add_parser(
        "playground", help="the 2-D playground: train on points, sample, write a GIF, print how close the samples came"
    )
    p.add_argument("--data", default="moons", help=f"{', '.join(TOY_DATASETS)}, or an image")
    p.add_argument(
        "--sampler",
        choices=TOY_DIFFUSION_SAMPLERS + TOY_FLOW_SAMPLERS,
        default=None,
        help="ddpm, ddim, langevin for diffusion; euler, heun for --objective fm (default: ddpm, or euler)",
    )
    p.add_argument("--steps", type=int, default=None, help="model steps (DDPM, DDIM, Euler, Heun) or noise levels")
    p.add_argument("--prediction", choices=PREDICTIONS, default="eps", help="what a diffusion model predicts")
    p.add_argument(
        "--objective",
        choices=OBJECTIVES,
        default="diffusion",
        help="diffusion (the simple loss) or fm: flow matching, the velocity of x_s = (1 − s) x_0 + s ε",
    )
    p.add_argument("--reflow", action="store_true", help="fm: one reflow round; prints straightness before → after")
    p.add_argument("--guidance", type=float, default=None, metavar="W", help="classifier-free guidance weight (0…10)")
    p.add_argument("--label", type=int, default=0, help="--guidance: the class to sample (default 0)")
    p.add_argument(
        "--interval", default="0,1", help="--guidance: apply it only for t/T (or s) in A,B (Kynkäänniemi et al. 2024)"
    )
    p.add_argument(
        "--memorisation",
        action="store_true",
        help="train two models on disjoint N points for each N of --sizes; --out is a CSV",
    )
    p.add_argument("--sizes", default=MEMORISATION_SIZES, help="--memorisation: the Ns")
    p.add_argument("--step-size", type=float, default=None, help="Langevin step size (default: the schedule's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="the GIF to write (a CSV with --memorisation)")


def run(args) -> int:
    import torch

    from core import toy2d
    from core.imaging.export import check_target

    if args.steps is not None and args.steps < 1:
        raise DiffusionVizError(f"--steps: must be at least 1, got {args.steps}")
    out = check_target(args.out)
    torch.set_num_threads(1)  # the MLP is too small to gain from a second thread, which made steps erratic
    if args.memorisation:
        return _memorisation(args, out)
    data, name = None, args.data
    if args.data not in toy2d.DATASETS:
        if not Path(args.data).exists():
            raise DiffusionVizError(
                f"--data: {args.data!r} is neither a data set ({', '.join(toy2d.DATASETS)}) nor an image"
            )
        if args.guidance is not None:
            raise DiffusionVizError(f"--guidance needs labelled data ({', '.join(toy2d.NUM_CLASSES)}), not an image")
        from core.imaging.images import load_image

        data = toy2d.points_from_image(load_image(args.data), 2000, torch.Generator().manual_seed(args.seed))
        name = Path(args.data).name
    flow = args.objective == "fm"
    sampler = args.sampler or ("euler" if flow else "ddpm")
    prediction = toy2d.VELOCITY if flow else args.prediction
    toy2d.check_sampler_fits(sampler, prediction)
    if args.guidance is not None:
        if not 0 <= args.guidance <= 10:
            raise DiffusionVizError(f"--guidance: the weight must be in 0…10, got {args.guidance:g}")
        toy2d.check_class(args.data, args.label)
    if args.reflow and not flow:
        raise DiffusionVizError("--reflow straightens a flow: add --objective fm")
    interval = _interval(args.interval)
    what = "flow matching" if flow else f"diffusion ({prediction})"
    guided = "" if args.guidance is None else f", class {args.label} guided with w = {args.guidance:g}"
    print(f"training on {name} ({toy2d.DEFAULT_TRAIN.steps} steps, {what}{guided}), then {sampler} …", flush=True)
    result = toy2d.playground_run(
        args.data if data is None else "image",
        sampler,
        args.steps,
        args.seed,
        prediction=prediction,
        data=data,
        step_size=args.step_size,
        guidance=args.guidance,
        label=args.label,
        interval=interval,
    )
    tail = None if sampler in ("ddim", *toy2d.FLOW_SAMPLERS) else 25
    title = f"{name}, {sampler}" + ("" if args.guidance is None else f", w = {args.guidance:g}")
    _write_gif(toy2d.render_points_gif_frames(result.frames, tail=tail, field=result.field, title=title), out)
    print(
        f"sliced Wasserstein distance, samples to data: {result.distance:.4f}; "
        f"two independent draws of the data: {result.data_distance:.4f}; wrote {out}"
    )
    if flow:
        _flow_summary(result, args)
    return 0


def _interval(text: str) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        raise DiffusionVizError(f"--interval: expected A,B such as 0.2,0.8, got {text!r}") from None
    if not 0 <= lo <= hi <= 1:
        raise DiffusionVizError(f"--interval: need 0 ≤ A ≤ B ≤ 1, got {lo:g},{hi:g}")
    return lo, hi


def _write_gif(pictures, out: Path) -> None:
    from core.imaging.export import write_gif

    write_gif(pictures + [pictures[-1]] * 30, out, 20)  # 1.5 s on the result before the loop restarts


def _flow_summary(result, args) -> None:
    import torch

    from core import toy2d

    gen = torch.Generator().manual_seed(args.seed + 1)
    noise = torch.randn(2000, 2, generator=gen)
    reference = (
        result.frames[-1].points if args.data not in toy2d.DATASETS else toy2d.make_dataset(args.data, 2000, gen)
    )
    before = toy2d.flow_report(result.model, noise, reference)
    line = (
        f"straightness (Liu et al. 2023, 0 = straight) {before['straightness']:.4f}, chord/arc "
        f"{before['chord_ratio']:.4f}; SW₂ at 2 Euler steps {before['sw_2']:.4f}, at 50 {before['sw_50']:.4f}"
    )
    print(line)
    if args.reflow:
        print("reflow: training on the model's own (noise, sample) pairs …", flush=True)
        after = toy2d.flow_report(toy2d.reflow(result.model, generator=gen), noise, reference)
        print(
            f"after one reflow: straightness {before['straightness']:.4f} → {after['straightness']:.4f}, "
            f"chord/arc {before['chord_ratio']:.4f} → {after['chord_ratio']:.4f}, "
            f"SW₂ at 2 steps {before['sw_2']:.4f} → {after['sw_2']:.4f}"
        )


def _memorisation(args, out: Path) -> int:

    from core import toy2d

    try:
        sizes = sorted({int(v) for v in args.sizes.split(",")})
    except ValueError:
        raise DiffusionVizError(f"--sizes: expected N,N,… such as 4,64,1024, got {args.sizes!r}") from None
    if sizes[0] < 4 or sizes[-1] > 5000:
        raise DiffusionVizError(f"--sizes: each N must be in 4…5000, got {args.sizes}")
    if args.data not in toy2d.DATASETS:
        raise DiffusionVizError(f"--memorisation takes a named data set ({', '.join(toy2d.DATASETS)})")
    points = []
    with open(out, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(MEMO_COLUMNS)
        for n in sizes:
            print(f"N = {n}: models A and A′ on N points, B on N others …", flush=True)
            point = toy2d.memorisation_point(
                toy2d.memorisation_pool(args.data, n, args.seed),
                n,
                seed=args.seed,
            )
            points.append(point)
            writer.writerow([n, *(f"{getattr(point, name):.5f}" for name in MEMO_COLUMNS[1:])])
            handle.flush()
            print(f"  {_memorisation_line(point)}", flush=True)
    print(f"{_crossings_line(points)}; wrote {out}")
    return 0


MEMO_COLUMNS = (
    "n",
    "to_training",
    "fresh_to_training",
    "between_models",
    "between_seeds",
    "copy_ratio",
    "data_ratio",
)


def _memorisation_line(point) -> str:
    """One N's distances and ratios, as the CLI prints them."""
    return (
        f"N = {point.n}: median distance sample → its training set {point.to_training:.4f}, fresh point → it "
        f"{point.fresh_to_training:.4f} (copy ratio ρ = {point.copy_ratio:.2f}); A ↔ B {point.between_models:.4f}, "
        f"A ↔ A′ {point.between_seeds:.4f} (data ratio δ = {point.data_ratio:.2f})"
    )


def _crossings_line(points) -> str:
    """From which N the copy ratio stays at its level or above and the data ratio at its own or below."""
    from core import toy2d

    copy, data = toy2d.copy_crossing(points), toy2d.data_crossing(points)
    copy_text = "not within these N" if copy is None else f"at N ≈ {copy:.0f}"
    data_text = "not within these N" if data is None else f"at N ≈ {data:.0f}"
    return (
        f"copying stops (ρ ≥ {toy2d.COPY_LEVEL:g}) {copy_text}; the data set stops mattering "
        f"(δ ≤ {toy2d.DATA_LEVEL:g}) {data_text}"
    )
