"""``diffusion-viz analyse IMAGE``: the spectrum at t, when each detail is decided, exposure bias, the ladder."""

from __future__ import annotations

import sys
from pathlib import Path

from app.commands.options import add_model_args, positive_int
from core.errors import DiffusionVizError

HELP = "the analysis views without a window: spectrum at t, decided curve, exposure bias, resolution ladder"


def add_parser(sub) -> None:
    p = sub.add_parser("analyse", help=HELP, description=HELP)
    p.add_argument("image", metavar="IMAGE", help="the image (at the model's size for the runs)")
    add_model_args(p)
    p.add_argument("--t", type=int, default=None, help="the paper's t of the spectrum and the ladder (default T/2)")
    p.add_argument("--spectrum", default=None, help="PNG: the spectra of x_0, the noise, x_t and x̂_0 at --t")
    p.add_argument("--decided", default=None, help="CSV: spread and nearest-image agreement of K continuations per t")
    p.add_argument("--exposure", default=None, help="CSV: x_t's mean and variance per step against q(x_t | x_0)")
    p.add_argument("--ladder", default=None, help="PNG: x_t at --t average-pooled 1×1, 2×2, 4×4 with their SNR")
    p.add_argument(
        "--start",
        choices=("noise", "image"),
        default="noise",
        help="the runs start from pure noise "
        "(against the training data) or from IMAGE noised to --t (against the truth)",
    )
    p.add_argument("--k", type=int, default=8, help="continuations per t (1 … 64)")
    p.add_argument("--points", type=positive_int, default=10, help="how many t values the decided curve measures")
    p.add_argument("--n", type=positive_int, default=8, help="samples in the exposure run")
    p.add_argument("--epsilon-scale", type=float, default=1.005, help="Epsilon Scaling's λ (Ning et al. 2024)")
    p.add_argument("--seed", type=int, default=0)


def run(args) -> int:
    import numpy as np
    import torch
    from tqdm import tqdm

    from app.commands.running import load_model
    from core.analysis import decided, exposure, ladder, plot, runs
    from core.analysis.spectrum import RadialSpectrum, fit_power_law, noise_power, signal_scale
    from core.diffusion.forward import forward_noise
    from core.diffusion.schedules import index_from_paper_t
    from core.imaging.export import check_target
    from core.imaging.files import atomic_write_bytes
    from core.imaging.images import fit_long_side, load_image
    from core.imaging.scaling import uint8_to_unit
    from core.runs.chain import model_x0

    outs = {k: check_target(v) for k in ("spectrum", "decided", "exposure", "ladder") if (v := getattr(args, k))}
    if not outs:
        raise DiffusionVizError("nothing to write: give --spectrum, --decided, --exposure or --ladder")
    decided.check_k(args.k)
    image = load_image(args.image)
    model = load_model(args)
    T, name = model.schedule.T, Path(args.image).name
    paper_t = T // 2 if args.t is None else args.t
    if not 1 <= paper_t <= T:
        raise DiffusionVizError(f"--t must lie in 1 … {T} (the model's T), got {paper_t}")
    index = index_from_paper_t(paper_t)
    x0 = model_x0(model, image)
    gen = torch.Generator().manual_seed(args.seed)
    working = uint8_to_unit(fit_long_side(image, 512)).transpose(2, 0, 1)
    alpha = fit_power_law(RadialSpectrum(working.shape)(working)).alpha
    print(f"model: {model.name}; {name}: fitted α = {alpha:.2f} at {working.shape[2]}×{working.shape[1]}", flush=True)

    if "spectrum" in outs:
        x_t = runs.start_of_run(model, x0, index, 1, gen)[0]
        x0_hat = runs.model_prediction(model, x_t, index)
        spectrum = RadialSpectrum(tuple(x0.shape[1:]))
        spectra = runs.spectra_of(spectrum, x0[0].numpy(), x_t.numpy(), x0_hat.numpy())
        cut, alpha_model = runs.spectrum_summary(spectra, model, index)
        a, n = signal_scale(model.schedule, index), noise_power(model.schedule, index)
        curves = {
            "x0": (spectra["x0"].freqs, a * spectra["x0"].power),
            "noise": (spectrum.freqs, np.full(len(spectrum.freqs), n)),
            "x_t": (spectra["x_t"].freqs, spectra["x_t"].power),
            "x0_hat": (spectra["x0_hat"].freqs, a * spectra["x0_hat"].power),
        }
        title = f"{name} at t={paper_t} of {T}, {model.image_size}px: alpha={alpha_model:.2f}, cut-off {cut:.3f} c/px"
        plot.write_spectrum_plot(outs["spectrum"], curves, cut, title)
        print(
            f"spectrum at t = {paper_t}: α = {alpha_model:.2f} at {model.image_size}², cut-off {cut:.3f} cycles/pixel"
        )

    if "ladder" in outs:
        noise = forward_noise(working.shape, args.seed)
        rungs = ladder.ladder(model.schedule, working, noise, index)
        plot.write_ladder_image(outs["ladder"], rungs)
        for r in rungs:
            print(
                f"ladder {r.factor}×{r.factor}: SNR {r.snr:.4g} (constant image {r.snr_constant:.4g}), "
                f"log-SNR shift {r.log_snr_shift:+.2f}, as clean as t = {r.matching_paper_t} unpooled"
            )

    from_image = args.start == "image"
    start_index = index if from_image else None
    truth = x0 if from_image else None
    train = None if from_image else decided.training_images(model)

    if "decided" in outs:
        x_start = runs.start_of_run(model, truth, start_index, 1, gen)
        wanted = runs.decided_indices(T, start_index, args.points)
        frames = runs.frames_of_run(model, x_start, start_index, wanted, seed=args.seed)
        points = []
        for point in tqdm(
            decided.decided_curve(model, frames, args.k, seed=args.seed, train=train),
            total=len(frames),
            desc="decided",
            file=sys.stderr,
            disable=None,
        ):
            points.append(point)
        flip, basis = decided.flip_threshold(points)
        lines = ["t,spread,nearest_agreement"]
        lines += [f"{p.paper_t},{p.spread:.6g},{'' if p.agreement is None else f'{p.agreement:.4f}'}" for p in points]
        atomic_write_bytes(outs["decided"], ("\n".join(lines) + "\n").encode())
        said = "never within the t measured" if flip is None else f"t ≈ {flip:.0f} (from the {basis})"
        print(f"decided: K = {args.k} continuations at {len(points)} t values; flip threshold {said}")

    if "exposure" in outs:
        stats = runs.exposure_stats(model, truth, train)
        x_start = runs.start_of_run(model, truth, start_index, args.n, gen)
        config = decided.DECIDED_CONFIG
        curves = {}
        for label, scale in (("plain", None), ("scaled", args.epsilon_scale)):
            g = torch.Generator().manual_seed(args.seed)
            steps = tqdm(
                exposure.monitored_run(
                    model,
                    config,
                    x_start.to(model.device),
                    stats,
                    t_start=start_index,
                    generator=g,
                    epsilon_scale=scale,
                ),
                total=config.steps,
                desc=f"exposure ({label})",
                file=sys.stderr,
                disable=None,
            )
            curves[label] = [point for _, point in steps]
        lines = ["t,mean,mean_expected,var,var_expected,var_gap,var_scaled,var_gap_scaled"]
        for p, q in zip(curves["plain"], curves["scaled"], strict=True):
            lines.append(
                f"{p.paper_t},{p.mean:.6g},{p.mean_expected:.6g},{p.var:.6g},{p.var_expected:.6g},"
                f"{p.var_gap:.6g},{q.var:.6g},{q.var_gap:.6g}"
            )
        atomic_write_bytes(outs["exposure"], ("\n".join(lines) + "\n").encode())
        gap = np.mean([abs(p.var_gap) for p in curves["plain"]])
        gap_s = np.mean([abs(p.var_gap) for p in curves["scaled"]])
        print(f"exposure: mean |var gap| {gap:.4f} plain, {gap_s:.4f} with ε scaling λ = {args.epsilon_scale:g}")
    print("wrote " + ", ".join(str(p) for p in outs.values()))
    return 0
