"""What the commands share once they run: the progress bar, the model from ``--model``, its run size, the
sampler from the sampler options, and the window's domain line on stderr.

torch and the models are imported inside the functions: ``diffusion-viz --help`` must not pay for them.
"""

from __future__ import annotations

import sys

from core.errors import DiffusionVizError


def progress_bar(total: int | None, what: str):
    """A tqdm bar on stderr (only on a terminal: a log file gets the result lines alone)."""
    from tqdm import tqdm

    return tqdm(total=total, desc=what, unit=" " + what.split()[-1], file=sys.stderr, disable=None, leave=False)


def advance(bar, done: int, total: int | None = None) -> None:
    """Move a progress bar to ``done`` of ``total``."""
    if total is not None and bar.total != total:
        bar.total = total
        bar.refresh()
    bar.update(done - bar.n)


def one_step(bar) -> bool:
    """One step on a progress bar; False: a run's ``cancelled`` hook that never cancels."""
    bar.update()
    return False


def load_model(args):
    """The model ``--model`` names (the bundled one by default), its load notes said on stderr."""
    from core.models.checkpoint import BUNDLED_MODEL
    from core.models.checkpoint import load_model as load

    model = load(args.model or BUNDLED_MODEL, device=args.device, ideal_size=args.size)
    for note in model.notes:
        print(f"diffusion-viz: {note}", file=sys.stderr)
    return model


def run_size(model, args) -> int:
    """The side to run ``model`` at: --size where it can run there, else its default (saying so)."""
    from core.models.sizes import resolve_run_size

    size, note = resolve_run_size(model, None if str(args.model or "").startswith("ideal:") else args.size)
    if note:
        print(f"diffusion-viz: {note}", file=sys.stderr)
    return size


def spacing_config(args) -> dict:
    """The SamplerConfig fields ``options.add_spacing_args`` reads: the sampler's own spacing unless one is given."""
    from core.diffusion.ode_samplers import SAMPLERS

    own = SAMPLERS[args.sampler].spacing if args.sampler in SAMPLERS else "trailing"
    return {"spacing": args.spacing or own, "zero_terminal_snr": bool(args.zero_terminal_snr)}


def sampler_config(args):
    """The SamplerConfig of ``options.add_sampler_args``' options; a bad combination is one line."""
    from core.diffusion.samplers import SamplerConfig

    try:
        return SamplerConfig(
            sampler=args.sampler,
            steps=args.steps,
            eta=args.eta,
            variance=args.variance,
            seed=args.seed,
            **spacing_config(args),
        )
    except ValueError as exc:
        raise DiffusionVizError(str(exc)) from None


def run_words(config, T: int) -> str:
    """'DDPM, every step', 'DDIM 50 steps, η = 0' or 'Heun, 19 network calls on karras steps'."""
    from core.diffusion.ode_samplers import SAMPLERS

    if config.sampler == "ddpm":
        return "DDPM, every step"
    if config.sampler == "ddim":
        return f"DDIM {min(config.steps, T)} steps, η = {config.eta:g}"  # DDIM visits at most every step
    zero = ", ᾱ_T = 0" if config.zero_terminal_snr else ""
    return f"{SAMPLERS[config.sampler].label}, {config.steps} network calls on {config.spacing} steps{zero}"


def say_if_far_outside(model, image, name: str) -> None:
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
