"""``diffusion-viz samplers``: the sampler lab on the command line — error against a reference vs NFE, as CSV."""

from __future__ import annotations

import sys

from core.choices import ODE_SAMPLERS, SPACINGS
from core.errors import DiffusionVizError

HELP = "the sampler lab: every sampler at each NFE against a Heun reference, as CSV (and plots)"


def _names(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _ints(text: str) -> list[int]:
    try:
        return [int(t) for t in _names(text)]
    except ValueError:
        raise DiffusionVizError(f"--nfe takes whole numbers separated by commas, got {text!r}") from None


SAMPLER_NAMES = ("ddim", *ODE_SAMPLERS)  # the lab's: core.diffusion.ode_samplers.SAMPLERS (a test holds them equal)
# Written out so that building the parser imports no torch; a test holds them equal to core's.
LAB_SAMPLERS = "ddim,euler,heun,dpmpp2m"
LAB_NFE = "5,10,20,50,100"


def add_parser(sub) -> None:
    p = sub.add_parser("samplers", help=HELP, description=HELP)
    p.add_argument(
        "--model", default=None, help="a model folder (default: the bundled model); ignored for --data mixture"
    )
    p.add_argument(
        "--data", choices=("model", "mixture"), default="model", help="mixture: the playground's exact score"
    )
    p.add_argument("--samplers", default=LAB_SAMPLERS, help=f"comma-separated, of {', '.join(SAMPLER_NAMES)}")
    p.add_argument("--nfe", default=LAB_NFE, help="network-call budgets, comma-separated")
    p.add_argument("--reference-nfe", type=int, default=None, help="Heun reference's NFE (default 999)")
    p.add_argument("--spacing", choices=SPACINGS, default=None, help="one spacing for all (default: each its own)")
    p.add_argument("--zero-terminal-snr", action="store_true", help="rescale the schedule to ᾱ_T = 0 (Lin et al. 2024)")
    p.add_argument("--batch", type=int, default=4, help="images (or 2-D points ×64) sampled from x_T (default 4)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="CSV: one row per sampler and NFE")
    p.add_argument("--grid", default=None, help="PNG: the final samples, samplers × NFE")
    p.add_argument("--plot", default=None, help="PNG: error vs NFE on log–log axes with the fitted slopes")
    p.add_argument("--device", default=None, help="cuda, mps or cpu (default: the best available)")
    p.add_argument("--size", type=int, default=None, help="ideal:FOLDER only: its pictures' side")


def run(args) -> int:
    import numpy as np
    import torch
    from tqdm import tqdm

    from core.diffusion import ode_samplers as ode
    from core.imaging.export import check_target
    from core.imaging.grid import save_grid
    from core.imaging.scaling import tensor_to_images
    from core.runs.lab import MixtureDenoiser, plan_runs, reference_plan, run_lab, write_lab_csv
    from core.runs.lab_plot import points_image, write_error_plot

    out = check_target(args.out)
    grid = check_target(args.grid) if args.grid else None
    plot = check_target(args.plot) if args.plot else None
    samplers, nfes = _names(args.samplers), _ints(args.nfe)
    gen = torch.Generator().manual_seed(args.seed)
    if args.data == "mixture":
        from core.toy2d import DEFAULT_TRAIN, default_mixture

        schedule = DEFAULT_TRAIN.make_schedule()
        if args.zero_terminal_snr:
            schedule = ode.rescale_zero_terminal_snr(schedule)
        denoiser = MixtureDenoiser(default_mixture(), schedule)
        x_T = torch.randn(64 * args.batch, 2, generator=gen, dtype=torch.float64)
        name, reference_nfe = "the Gaussian mixture (exact score)", args.reference_nfe or 999
    else:
        from app.commands.running import load_model

        model = load_model(args)
        schedule = model.schedule
        if args.zero_terminal_snr:
            before = float(schedule.alphas_cumprod[-1])
            schedule = ode.rescale_zero_terminal_snr(schedule)
            print(
                f"zero terminal SNR (Lin et al. 2024, Alg. 1): ᾱ_T {before:.3g} → {float(schedule.alphas_cumprod[-1]):.3g}"
            )
        try:
            denoiser = ode.SigmaDenoiser(model, schedule)
        except ValueError as exc:
            raise DiffusionVizError(str(exc)) from None
        x_T = torch.randn(args.batch, model.channels, model.image_size, model.image_size, generator=gen)
        name, reference_nfe = model.name, args.reference_nfe or 999
    print(
        f"lab: {', '.join(samplers)} at NFE {', '.join(map(str, nfes))} on {name}; reference Heun NFE {reference_nfe}"
    )
    plan_runs(denoiser, samplers, nfes)  # every refusal before the first network call
    reference_plan(denoiser, reference_nfe)
    with tqdm(total=reference_nfe, unit="call", file=sys.stderr, leave=False, disable=None) as bar:

        def progress(done: int, total: int) -> bool:
            bar.total = total
            bar.n = done
            bar.refresh()
            return True

        result = run_lab(denoiser, x_T, samplers, nfes, reference_nfe=reference_nfe, seed=args.seed, progress=progress)
    write_lab_csv(out, result)
    for s in result.samplers:
        slope, order = result.slopes[s], ode.SAMPLERS[s].order
        errs = "  ".join(f"{r.nfe}: {r.error:.2e}" for r in result.runs if r.sampler == s)
        fitted = "—" if slope is None else f"{slope:.2f}"
        print(f"{ode.SAMPLERS[s].label:>18}  slope {fitted} (order {order or '—'})  {errs}")
    if plot is not None:
        write_error_plot(
            plot, result, f"{name}: RMS error vs the reference ({result.reference.sampler}, NFE {result.reference.nfe})"
        )
    if grid is not None:
        finals = [result.run(s, n).final for s in result.samplers for n in result.nfes] + [result.reference.final]
        if args.data == "mixture":
            images = np.stack([points_image(f.numpy()) for f in finals])
        else:
            images = tensor_to_images(torch.stack([f[0] for f in finals]).float())
        save_grid(images[:-1], grid, columns=len(result.nfes), scale=1 if args.data == "mixture" else 3)
    print(f"wrote {out}" + "".join(f" and {p}" for p in (grid, plot) if p))
    return 0
