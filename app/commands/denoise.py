"""``diffusion-viz evaluate --denoise``: PSNR of x̂_0 per noise level on held-out photos, model beside baselines."""

from __future__ import annotations

import sys

from core.errors import DiffusionVizError


def _sigmas(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise DiffusionVizError(f"--sigmas takes numbers separated by commas, got {text!r}") from None
    if not values or any(v <= 0 for v in values):
        raise DiffusionVizError("--sigmas must be positive")
    return values


def run(args) -> int:
    import torch
    from tqdm import tqdm

    from core.models.checkpoint import BUNDLED_MODEL, load_model
    from core.models.sizes import resolve_run_size
    from core.training.denoise_eval import denoise_psnr, held_out_photo_crops, resize_x0

    sigmas = _sigmas(args.sigmas)
    specs = [args.model or str(BUNDLED_MODEL), *(args.baseline or [])]
    models = []
    for k, spec in enumerate(specs):
        model = load_model(spec, device=args.device, ideal_size=args.size if k == 0 else None)
        size, note = resolve_run_size(model, args.size if k == 0 else None)
        if note:
            print(f"diffusion-viz: {note}", file=sys.stderr)
        models.append((model, size))
    main_model, main_size = models[0]
    prov = main_model.config.get("provenance", {})
    names = (prov.get("photos") or {}).get("held_out")
    if args.data == "emoji":
        raise DiffusionVizError("--denoise takes a folder of photos (--data FOLDER)")
    x0, used = held_out_photo_crops(
        args.data,
        main_size,
        names,
        holdout=float(prov.get("holdout_fraction", 0.1)),
        holdout_seed=int(prov.get("holdout_seed", 0)),
        photo_side=int((prov.get("crops") or {}).get("photo_side", 768)),
        crops_per_photo=args.crops_per_photo,
        seed=args.seed,
    )
    if args.num_images:
        x0 = x0[: args.num_images]
    print(
        f"{len(x0)} held-out pictures from {len(used)} photos "
        f"({'the model’s recorded split' if names else 'the split recomputed'}): {', '.join(used)}",
        flush=True,
    )
    tables = []
    with tqdm(
        total=len(x0) * len(sigmas) * len(models), desc="denoising", unit="img", file=sys.stderr, disable=None
    ) as bar:
        for model, size in models:
            pictures = x0 if size == main_size else resize_x0(x0, size)
            with torch.inference_mode():
                tables.append(denoise_psnr(model, pictures, sigmas, seed=args.seed, progress=bar.update))
    names_row = [f"{m.name} ({s}²)" for m, s in models]
    print("PSNR of x̂₀ against x₀ in dB (σ in x₀ units, pixels in [−1, 1]; 'noisy' is x_t/√ᾱ itself)")
    print("  σ      t     noisy  " + "  ".join(f"{n:>18}" for n in names_row))
    for sigma in sigmas:
        row = tables[0][sigma]
        cells = "  ".join(f"{t[sigma]['psnr']:18.2f}" for t in tables)
        print(f"{sigma:5.2f}  {row['index'] + 1:4d}  {row['psnr_noisy']:6.2f}  {cells}")
    return 0
