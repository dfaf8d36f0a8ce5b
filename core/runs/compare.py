"""Several reverse runs side by side from one start, advancing in lockstep by fraction of their own run.

Each run has its own sampler settings (and possibly its own model: the trained network beside the
ideal denoiser of its data). At every global tick the runs that are due a step are evaluated in one
batched network call per model, each sample with its own t; then each run takes its own step through
its :class:`~core.diffusion.samplers.Scheduler` (the same objects the single run uses) with noise from
its own generator, so a run here is the run it would be alone with the same seed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from core.device import randn
from core.diffusion.forward import q_sample
from core.diffusion.ode_samplers import SAMPLERS
from core.diffusion.samplers import SamplerConfig, Scheduler
from core.diffusion.schedulers import model_scheduler, sampling_schedule
from core.diffusion.schedules import NoiseSchedule, paper_t_from_index
from core.errors import DiffusionVizError
from core.models.checkpoint import LoadedModel
from core.models.sizes import default_run_size
from core.runs.chain import Frame, NonFiniteOutput, model_x0
from core.runs.spec import start_index

MAX_RUNS = 4
PRESETS = {
    "DDPM β̃ 1000": SamplerConfig("ddpm", variance="fixed_small"),
    "DDIM 50 η=0": SamplerConfig("ddim", steps=50, eta=0.0),
    "DDIM 10 η=0": SamplerConfig("ddim", steps=10, eta=0.0),
    "DDIM 50 η=1": SamplerConfig("ddim", steps=50, eta=1.0),
}


@dataclass(frozen=True, eq=False)
class CompareRun:
    """One column of a comparison: a model, its sampler settings and a label."""

    model: LoadedModel
    config: SamplerConfig
    label: str = ""

    def title(self, ascii_only: bool = False) -> str:
        """A column's title, e.g. "DDIM 50 η=0 (emoji32)"."""
        return self.label or run_title(self.config, self.model.name, ascii_only)


def run_title(config: SamplerConfig, model_name: str, ascii_only: bool = False) -> str:
    """ "DDIM 50 η=0 (emoji32)"; ``ascii_only`` for fonts without Greek (GIF labels)."""
    if config.sampler == "ddpm":
        small = config.variance == "fixed_small"
        what = "DDPM " + (("b~" if small else "b") if ascii_only else ("β̃" if small else "β"))
    elif config.sampler == "ddim":
        what = f"DDIM {config.steps} {'eta' if ascii_only else 'η'}={config.eta:g}"
    else:  # a σ sampler: its steps are network calls, its spacing matters as much as the solver
        what = f"{SAMPLERS[config.sampler].label} {config.steps} NFE {config.spacing}"
    zero = (" ZTSNR" if ascii_only else " ᾱ_T=0") if config.zero_terminal_snr else ""
    return f"{what}{zero} ({model_name})"


def run_start_index(model: LoadedModel, paper_t: int | None, forward: NoiseSchedule | None = None) -> int:
    """Where a run of ``model`` starts: T−1 from pure noise, else the index as noisy as ``paper_t`` of ``forward``.

    ``forward`` is the schedule ``paper_t`` is read on (the forward panel's; default the model's own).
    """
    if paper_t is None:
        return model.schedule.T - 1
    return start_index(forward or model.schedule, paper_t, model.schedule)


def run_scheduler_of(run: CompareRun, start: int) -> Scheduler:
    return model_scheduler(run.model, run.config, start)


def total_ticks(runs: Sequence[CompareRun], paper_t: int | None, forward: NoiseSchedule | None = None) -> int:
    """How many ticks :func:`compare_chains` yields: the start, then the longest run's steps."""
    return 1 + max(len(run_scheduler_of(r, run_start_index(r.model, paper_t, forward)).timesteps()) for r in runs)


def parse_runs(text: str, model: LoadedModel) -> list[CompareRun]:
    """``"ddpm:1000,ddim:50,ddim:10:1,heun:19:karras"`` → runs (sampler:steps[:η], or σ sampler:NFE[:spacing]).

    DDPM always takes every step; a σ sampler's spacing defaults to its own (Karras for Heun, edm for the others).
    """
    runs = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        fields = part.split(":")
        try:
            sampler = fields[0].lower()
            steps = int(fields[1]) if len(fields) > 1 else 50
            if sampler in SAMPLERS and sampler != "ddim":
                spacing = fields[2] if len(fields) > 2 else SAMPLERS[sampler].spacing
                config = SamplerConfig(sampler, steps=steps, spacing=spacing)
            else:
                config = SamplerConfig(sampler, steps=steps, eta=float(fields[2]) if len(fields) > 2 else 0.0)
            run_scheduler_of(CompareRun(model, config), model.schedule.T - 1)  # refused here, in one line
            runs.append(CompareRun(model, config))
        except (ValueError, IndexError) as exc:
            raise DiffusionVizError(
                f"--runs: {part!r} is not sampler:steps[:eta] or σ-sampler:NFE[:spacing] ({exc})"
            ) from None
    if not 1 <= len(runs) <= MAX_RUNS:
        raise DiffusionVizError(f"--runs takes 1 to {MAX_RUNS} runs, got {len(runs)}")
    return runs


def compare_chains(
    runs: Sequence[CompareRun],
    image: np.ndarray | None = None,
    paper_t: int | None = None,
    seed: int = 0,
    *,
    forward: NoiseSchedule | None = None,
    size: int | None = None,
) -> Iterator[list[Frame]]:
    """Yield, per global tick, the newest :class:`Frame` of every run (final frames repeat once a run ends).

    Tick 0 shows every run at its start; tick k of K (K = the longest run's steps) has run i at step
    round(k · N_i / K), so all runs reach their final sample together.

    All runs start from one x_T ~ N(0, I) drawn from ``seed`` — or, with ``image`` and ``paper_t``, from
    that image noised by q with the same noise to the index of each model's schedule that is as noisy as
    ``paper_t`` of ``forward`` (:func:`~core.runs.spec.start_index`, as the single run does). ``size`` is
    the side of x_t (default the first model's); the models must share channels.
    """
    if not 1 <= len(runs) <= MAX_RUNS:
        raise ValueError(f"compare 1 to {MAX_RUNS} runs")
    first = runs[0].model
    if any(r.model.channels != first.channels for r in runs):
        raise DiffusionVizError("the compared models differ in their number of channels")
    if image is None:
        paper_t = None
    states = []
    for run in runs:
        m = run.model
        side = run_side(m, size)
        start = run_start_index(m, paper_t, forward)
        x0 = model_x0(m, image, side) if paper_t is not None else None
        # Every run draws its x_T (or its noise) from the same seed, so runs of one size share it exactly;
        # each run's later noise continues from there as if it ran alone.
        gen = torch.Generator().manual_seed(seed)
        noise = randn((1, m.channels, side, side), gen, "cpu")
        schedule = sampling_schedule(run.config, m.schedule, m.prediction)
        x = noise.clone() if x0 is None else q_sample(schedule, x0, start, noise)  # Eq. 4
        scheduler = run_scheduler_of(run, start)
        pairs, model_t = scheduler.pairs(), scheduler.timesteps()
        x = x.to(m.device).float()
        first_frame = Frame(0, len(pairs), start, x[0].cpu(), torch.zeros_like(x[0]).cpu(), None)
        states.append(
            {"x": x, "pairs": pairs, "t": model_t, "done": 0, "gen": gen, "frame": first_frame, "scheduler": scheduler}
        )
    yield [s["frame"] for s in states]  # tick 0: every run at its start (x̂₀ not predicted yet)
    K = max(len(s["pairs"]) for s in states)
    for k in range(1, K + 1):
        due = [i for i, s in enumerate(states) if s["done"] < round(k * len(s["pairs"]) / K)]
        outputs = _batched_outputs(runs, states, due)
        for i in due:
            run, s = runs[i], states[i]
            index, _ = s["pairs"][s["done"]]
            model_index = s["t"][s["done"]]
            scheduler, out, x = s["scheduler"], outputs[i], s["x"]
            if not bool(torch.isfinite(out).all()):
                raise NonFiniteOutput(
                    f"{run.title()}: the model's output is not finite at t = {paper_t_from_index(index)}"
                )
            with torch.inference_mode():
                z = randn(x.shape, s["gen"], x.device) if scheduler.needs_noise(model_index) else None
                result = scheduler.step(out, model_index, x, z)
            n = s["done"]
            s["done"] += 1
            s["frame"] = Frame(
                n,
                len(s["pairs"]),
                index,
                x[0].float().cpu(),
                result.x0_hat[0].float().cpu(),
                result.eps_hat[0].float().cpu(),
            )
            s["x"] = result.prev_sample
            if s["done"] == len(s["pairs"]):
                final = result.prev_sample[0].clamp(-1, 1).float().cpu()
                s["frame"] = Frame(len(s["pairs"]), len(s["pairs"]), -1, final, final, None)
        yield [s["frame"] for s in states]


def run_side(model: LoadedModel, size: int | None) -> int:
    """The side a compared run uses: ``size`` when the caller gives one, else the model's default size.

    Models of different sizes share one row this way (the photo model at 128 px beside emoji32 at 32 px);
    the views show each at one display size.
    """
    return default_run_size(model) if size is None else int(size)


def _batched_outputs(runs: Sequence[CompareRun], states: list[dict], due: list[int]) -> dict[int, torch.Tensor]:
    """One network call per model for every due run, each sample with its own t."""
    groups: dict[int, list[int]] = {}
    for i in due:
        groups.setdefault(id(runs[i].model), []).append(i)
    outputs = {}
    for members in groups.values():
        model = runs[members[0]].model
        x = torch.cat([states[i]["x"] for i in members])
        # one t per sample: integer indices, or a σ sampler's fractional ones (a float tensor then)
        t = torch.tensor([states[i]["t"][states[i]["done"]] for i in members], device=model.device)
        with torch.inference_mode():
            out = model(x.contiguous(memory_format=torch.channels_last) if model.device.type != "mps" else x, t)
        for j, i in enumerate(members):
            outputs[i] = out[j : j + 1]
    return outputs
