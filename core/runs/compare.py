"""Several reverse runs side by side from one start, advancing in lockstep by fraction of their own run.

Each run has its own sampler settings (and possibly its own model: the trained network beside the
ideal denoiser of its data). At every global tick the runs that are due a step are evaluated in one
batched network call per model, each sample with its own t; then each run takes its own pure step
(:func:`~core.diffusion.samplers.ddpm_step` or :func:`~core.diffusion.samplers.ddim_step`) with noise
from its own generator, so a run here is the run it would be alone with the same seed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from core.device import randn
from core.diffusion.forward import q_sample
from core.diffusion.samplers import SamplerConfig, ddim_step, ddim_timesteps, ddpm_step
from core.diffusion.schedules import paper_t_from_index
from core.errors import DiffusionVizError
from core.models.checkpoint import LoadedModel
from core.runs.chain import Frame, NonFiniteOutput, model_x0

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
    else:
        what = f"DDIM {config.steps} {'eta' if ascii_only else 'η'}={config.eta:g}"
    return f"{what} ({model_name})"


def step_pairs(config: SamplerConfig, t_start: int) -> list[tuple[int, int]]:
    """The (t, t_prev) array indices a run walks, as ``ddpm_loop`` / ``ddim_loop`` would."""
    if config.sampler == "ddpm":
        return [(t, t - 1) for t in range(t_start, -1, -1)]
    ts = ddim_timesteps(t_start + 1, min(config.steps, t_start + 1), config.spacing)
    ts[0] = t_start
    return [(t, ts[i + 1] if i + 1 < len(ts) else -1) for i, t in enumerate(ts)]


def start_index(model: LoadedModel, fraction: float | None) -> int:
    """Where a run of ``model`` starts: T−1 from pure noise, else the index at ``fraction`` (0…1] of its schedule."""
    T = model.schedule.T
    return T - 1 if fraction is None else max(0, min(T - 1, round(fraction * T) - 1))


def total_ticks(runs: Sequence[CompareRun], fraction: float | None) -> int:
    """How many ticks :func:`compare_chains` yields: the start, then the longest run's steps."""
    return 1 + max(len(step_pairs(r.config, start_index(r.model, fraction))) for r in runs)


def parse_runs(text: str, model: LoadedModel) -> list[CompareRun]:
    """``"ddpm:1000,ddim:50,ddim:10:1"`` → runs (sampler:steps[:η]); DDPM always takes every step."""
    runs = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        fields = part.split(":")
        try:
            sampler = fields[0].lower()
            steps = int(fields[1]) if len(fields) > 1 else 50
            eta = float(fields[2]) if len(fields) > 2 else 0.0
            runs.append(CompareRun(model, SamplerConfig(sampler, steps=steps, eta=eta)))
        except (ValueError, IndexError) as exc:
            raise DiffusionVizError(f"--runs: {part!r} is not sampler:steps[:eta] ({exc})") from None
    if not 1 <= len(runs) <= MAX_RUNS:
        raise DiffusionVizError(f"--runs takes 1 to {MAX_RUNS} runs, got {len(runs)}")
    return runs


def compare_chains(
    runs: Sequence[CompareRun], image: np.ndarray | None = None, t_start: float | None = None, seed: int = 0
) -> Iterator[list[Frame]]:
    """Yield, per global tick, the newest :class:`Frame` of every run (final frames repeat once a run ends).

    Tick 0 shows every run at its start; tick k of K (K = the longest run's steps) has run i at step
    round(k · N_i / K), so all runs reach their final sample together.

    All runs start from one x_T ~ N(0, I) drawn from ``seed`` — or, with ``image``, from that image
    noised by q to the fraction ``t_start`` (0…1] of each model's schedule with the same noise. The
    models must share image size and channels.
    """
    if not 1 <= len(runs) <= MAX_RUNS:
        raise ValueError(f"compare 1 to {MAX_RUNS} runs")
    first = runs[0].model
    if any((r.model.image_size, r.model.channels) != (first.image_size, first.channels) for r in runs):
        raise DiffusionVizError("the compared models differ in image size or channels")
    shape = (1, first.channels, first.image_size, first.image_size)
    base = torch.Generator().manual_seed(seed)
    noise = randn(shape, base, "cpu")
    states = []
    for run in runs:
        m = run.model
        start = start_index(m, None if image is None else t_start)
        x0 = model_x0(m, image)
        x = noise.clone() if x0 is None else q_sample(m.schedule, x0, start, noise)  # Eq. 4
        gen = torch.Generator().manual_seed(seed)
        randn(shape, gen, "cpu")  # the start was drawn first: each run's noise continues as if it ran alone
        pairs = step_pairs(run.config, start)
        x = x.to(m.device).float()
        first_frame = Frame(0, len(pairs), start, x[0].cpu(), torch.zeros_like(x[0]).cpu(), None)
        states.append({"x": x, "pairs": pairs, "done": 0, "gen": gen, "frame": first_frame})
    yield [s["frame"] for s in states]  # tick 0: every run at its start (x̂₀ not predicted yet)
    K = max(len(s["pairs"]) for s in states)
    for k in range(1, K + 1):
        due = [i for i, s in enumerate(states) if s["done"] < round(k * len(s["pairs"]) / K)]
        outputs = _batched_outputs(runs, states, due)
        for i in due:
            run, s = runs[i], states[i]
            t, t_prev = s["pairs"][s["done"]]
            m, c, out = run.model, run.config, outputs[i]
            if not bool(torch.isfinite(out).all()):
                raise NonFiniteOutput(f"{run.title()}: the model's output is not finite at t = {paper_t_from_index(t)}")
            x = s["x"]
            with torch.inference_mode():
                if c.sampler == "ddpm":
                    z = randn(x.shape, s["gen"], x.device) if t > 0 else None
                    x_prev, x0_hat = ddpm_step(m.schedule, x, t, out, z, m.prediction, c.variance, c.clip_x0)
                else:
                    z = randn(x.shape, s["gen"], x.device) if c.eta > 0 and t_prev >= 0 else None
                    x_prev, x0_hat = ddim_step(m.schedule, x, t, t_prev, out, c.eta, z, m.prediction, c.clip_x0)
            n = s["done"]
            s["done"] += 1
            s["frame"] = Frame(n, len(s["pairs"]), t, x[0].float().cpu(), x0_hat[0].float().cpu(), None)
            s["x"] = x_prev
            if s["done"] == len(s["pairs"]):
                final = x_prev[0].clamp(-1, 1).float().cpu()
                s["frame"] = Frame(len(s["pairs"]), len(s["pairs"]), -1, final, final, None)
        yield [s["frame"] for s in states]


def _batched_outputs(runs: Sequence[CompareRun], states: list[dict], due: list[int]) -> dict[int, torch.Tensor]:
    """One network call per model for every due run, each sample with its own t."""
    groups: dict[int, list[int]] = {}
    for i in due:
        groups.setdefault(id(runs[i].model), []).append(i)
    outputs = {}
    for members in groups.values():
        model = runs[members[0]].model
        x = torch.cat([states[i]["x"] for i in members])
        t = torch.tensor([states[i]["pairs"][states[i]["done"]][0] for i in members], device=model.device)
        with torch.inference_mode():
            out = model(x.contiguous(memory_format=torch.channels_last) if model.device.type != "mps" else x, t)
        for j, i in enumerate(members):
            outputs[i] = out[j : j + 1]
    return outputs
