"""``diffusion-viz theory``: the network's x̂_0 against the ideal, Gaussian and ELS denoisers of its data.

Three jobs: r²(t) over deterministic DDIM runs plus the r² of final samples from the same x_T (the
default); ``--calibrate``, which fits the ELS machine's P(t) and writes it beside the model; and
``--fit-spectrum FOLDER``, which writes the Gaussian spectrum file that ``gaussian:photos`` reads.
"""

from __future__ import annotations

import sys
from pathlib import Path

from app.commands.options import positive_int
from app.commands.running import progress_bar

# numpy and torch are imported inside the functions: `diffusion-viz --help` must not pay for them.
HELP = "how close the ideal, Gaussian and ELS (patch) denoisers come to the network: r² per t, as CSV"


def add_parser(sub) -> None:
    p = sub.add_parser(
        "theory",
        help=HELP,
        description=(
            "r²(t) of the closed-form denoisers of the model's training set (ideal, Gaussian, ELS machine of "
            "Kamb & Ganguli 2025) against the network's x̂_0 over DDIM runs from pure noise, and the r² of the "
            "final samples each makes from the same x_T. --calibrate fits the ELS patch size P(t) first."
        ),
    )
    p.add_argument("--model", default=None, help="a model folder (default: the bundled model)")
    p.add_argument(
        "--data",
        default=None,
        help="'emoji' or a folder: the pictures the model was trained on (the photo model: its photos' folder, "
        "or set DIFFUSION_VIZ_PHOTOS)",
    )
    p.add_argument("--n", type=positive_int, default=8, help="samples (or, with --calibrate, training images)")
    p.add_argument("--steps", type=positive_int, default=25, help="DDIM steps of each run (default 25)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="r² CSV; with --fit-spectrum the .npz; with --calibrate a folder")
    p.add_argument("--plot", default=None, help="also draw r²(t) as a PNG")
    p.add_argument("--calibrate", action="store_true", help="fit P(t) and write theory.json beside the model")
    p.add_argument("--patch-sizes", default="3,5,7,9,11,13,15,19,23", help="--calibrate: odd candidates for P")
    p.add_argument("--levels", type=positive_int, default=10, help="--calibrate: noise levels spread over 1..T")
    p.add_argument("--fit-spectrum", default=None, metavar="FOLDER", help="write FOLDER's Gaussian spectrum to --out")
    p.add_argument("--size", type=positive_int, default=128, help="--fit-spectrum: the side pictures are fitted at")
    p.add_argument("--max-cost", type=float, default=None, help="ELS work per image (default 1e9, about 1 s)")
    p.add_argument("--device", default=None, help="cuda, mps or cpu (default: the best available)")


def _fit_spectrum(args) -> int:
    from core.errors import DataError
    from core.models.gaussian import spectrum_from_folder, spectrum_summary

    if not args.out:
        raise DataError("--fit-spectrum needs --out FILE.npz")
    spectrum = spectrum_from_folder(args.fit_spectrum, args.size)
    path = spectrum.save(args.out)
    print(f"wrote {path}: {spectrum_summary(spectrum)}")
    return 0


def _load(args):
    from core.errors import ModelLoadError
    from core.models.checkpoint import BUNDLED_MODEL, load_model

    spec = args.model or str(BUNDLED_MODEL)
    if ":" in spec and not Path(spec).exists():
        raise ModelLoadError(f"theory compares a trained network with closed forms; {spec} is one already")
    return load_model(spec, args.device)


def _calibrate(args, model, images) -> int:
    import numpy as np
    import torch

    from core.errors import ModelLoadError
    from core.runs.theory import calibrate_patch_sizes

    folder = Path(args.out) if args.out else model.path
    if folder is None or not folder.is_dir():
        raise ModelLoadError("--calibrate writes theory.json into the model folder (or --out FOLDER)")
    try:
        candidates = [int(p) for p in args.patch_sizes.split(",")]
    except ValueError:
        raise ModelLoadError(
            f"--patch-sizes must be odd integers separated by commas, got {args.patch_sizes!r}"
        ) from None
    indices = [int(i) for i in np.linspace(0, model.schedule.T - 1, args.levels).round()]
    bar = progress_bar(len(indices), "calibrating P(t)")
    table = calibrate_patch_sizes(
        model,
        images,
        indices=indices,
        candidates=candidates,
        n=args.n,
        generator=torch.Generator().manual_seed(args.seed),
        max_cost=args.max_cost,
        progress=bar.update,
    )
    bar.close()
    path = table.save(folder)
    for index, size, r2 in zip(table.indices, table.sizes, table.r2, strict=True):
        print(f"t = {index + 1:4d}  P = {size:2d}  r² = {r2:.3f}")
    print(f"wrote {path}")
    return 0


def _write_csv(path: Path, rows, finals: dict) -> None:
    import numpy as np

    from core.imaging.files import atomic_write_bytes
    from core.runs.theory import THEORIES

    lines = ["kind,t,alphas_cumprod," + ",".join(f"r2_{name}" for name in THEORIES)]
    for row in rows:
        values = ",".join(f"{row.r2[name]:.5f}" for name in THEORIES)
        lines.append(f"x0_hat,{row.index + 1},{row.alphas_cumprod:.6g},{values}")
    values = ",".join(f"{float(np.median(finals[name])):.5f}" for name in THEORIES)
    lines.append(f"final_sample,0,1,{values}")
    atomic_write_bytes(path, ("\n".join(lines) + "\n").encode())


def run(args) -> int:
    if args.fit_spectrum:
        return _fit_spectrum(args)
    import numpy as np
    import torch

    from core.device import randn
    from core.runs.theory import (
        THEORIES,
        build_theories,
        ddim_run_frames,
        final_sample_r2,
        r2_over_run,
    )
    from core.training.model_data import training_images

    model = _load(args)
    images = training_images(model, args.data)
    if args.calibrate:
        return _calibrate(args, model, images)
    theories = build_theories(model, images, max_cost=args.max_cost)
    for note in theories.notes:
        print(f"note: {note}", file=sys.stderr)
    generator = torch.Generator().manual_seed(args.seed)
    x_T = randn((args.n, model.channels, model.image_size, model.image_size), generator, torch.device("cpu"))
    frames, x0s, _ = ddim_run_frames(model, x_T, args.steps)
    bar = progress_bar(len(frames) * 4, f"r² over {args.n} runs")
    rows = r2_over_run(model, theories, frames, x0s, progress=bar.update)
    finals = {}
    for name in THEORIES:
        finals[name] = final_sample_r2(model, getattr(theories, name), x_T, args.steps, progress=bar.update)[0]
    bar.close()
    used, total = theories.els.subset_sizes(theories.els.patch_sizes.size_at(frames[len(frames) // 2][1]))
    print(f"{model.name}: {args.n} samples, DDIM {args.steps}; ELS uses {used} of {total} interior patches mid-run")
    print("    t   ᾱ_t     r² ideal  gaussian  ELS")
    for row in rows:
        r2 = "  ".join(f"{row.r2[name]:8.3f}" for name in THEORIES)
        print(f"{row.index + 1:5d}  {row.alphas_cumprod:.4f}  {r2}")
    high = [row.r2["gaussian"] for row in rows if row.alphas_cumprod <= 0.1]
    if high:
        print(f"Gaussian vs network at ᾱ ≤ 0.1: median r² {np.median(high):.3f} over {len(high)} steps")
    for name in THEORIES:
        print(f"final samples from the same x_T, {name} vs network: median r² {np.median(finals[name]):.3f}")
    if args.out:
        _write_csv(Path(args.out), rows, finals)
    if args.plot:
        from core.imaging.plot import write_lines_plot

        t = np.array([row.index + 1 for row in rows])
        series = {name: np.array([row.r2[name] for row in rows]) for name in THEORIES}
        write_lines_plot(
            args.plot, t, series, title=f"{model.name}: r² of x̂_0 against the network", x_label="t (paper)"
        )
    return 0
