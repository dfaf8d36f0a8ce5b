"""Argument plumbing the commands share: number readers, and options generated from a dataclass's fields.

A field with a ``help`` in its metadata becomes ``--the-field-name`` with the field's type and default
(``min``, ``choices`` and ``required`` from the metadata too), so a new option is one field.
"""

from __future__ import annotations

import argparse
import dataclasses
import typing


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def int_tuple(text: str) -> tuple[int, ...]:
    """'1,2,2,2' → (1, 2, 2, 2); 'none' (or nothing) → ()."""
    if text.strip().lower() in ("", "none"):
        return ()
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated whole numbers, got {text!r}") from None


def _reader(hint, meta: dict):
    """The argparse ``type`` for a field of type ``hint``."""
    if meta.get("min", 1) != 1:
        raise ValueError(f"only min=1 is read from a field's metadata, got {meta['min']}")
    if hint is int:
        return positive_int if "min" in meta else int
    if hint is float:
        return float
    if typing.get_origin(hint) is tuple:
        return int_tuple
    return str  # str, and str | None


def _shown(default):
    """The default as the user would type it (``1,2,2,2``, ``none``)."""
    if isinstance(default, tuple):
        return ",".join(str(v) for v in default) if default else "none"
    return default


def option_fields(cls) -> list[dataclasses.Field]:
    """The fields of dataclass ``cls`` that are command-line options (those with a ``help``)."""
    return [f for f in dataclasses.fields(cls) if "help" in f.metadata]


def add_dataclass_options(parser: argparse.ArgumentParser, cls) -> None:
    """One ``--option`` per field of ``cls`` that has a ``help``: its type, default, choices and help."""
    hints = typing.get_type_hints(cls)
    for f in option_fields(cls):
        meta = dict(f.metadata)
        text = meta["help"].replace("%", "%%")  # argparse formats help with %
        flag = "--" + f.name.replace("_", "-")
        hint = hints[f.name]
        if hint is bool:
            parser.add_argument(flag, action="store_true", help=text)
            continue
        extra = {"choices": meta["choices"]} if "choices" in meta else {}
        if meta.get("required"):
            parser.add_argument(flag, required=True, type=_reader(hint, meta), help=text, **extra)
            continue
        default = _shown(f.default)
        shown = "" if default is None or "default:" in meta["help"] else " (default: %(default)s)"
        parser.add_argument(flag, type=_reader(hint, meta), default=default, help=text + shown, **extra)


def add_model_args(p: argparse.ArgumentParser) -> None:
    """``--model``, ``--size`` and ``--device``: which model, the side it runs at, where."""
    p.add_argument(
        "--model",
        default=None,
        help="a model folder, a diffusers UNet folder, or ideal:FOLDER / ideal:emoji (default: the bundled model)",
    )
    p.add_argument(
        "--size",
        type=positive_int,
        default=None,
        help="the side to run at: a fully convolutional model runs at any multiple of its down-sampling "
        "(default: its run size, 128 px for the bundled photo model, else its own size); for ideal:FOLDER, the side its pictures are resized to (default 64)",
    )
    p.add_argument("--device", default=None, help="cuda, mps or cpu (default: the best available)")


def add_spacing_args(p: argparse.ArgumentParser) -> None:
    """``--spacing`` and ``--zero-terminal-snr`` for the commands that take ``--sampler`` (sample, export)."""
    from core.choices import SPACINGS

    p.add_argument(
        "--spacing",
        choices=SPACINGS,
        default=None,
        help="the steps a run visits (default: the sampler's own: DDIM trailing, Heun karras, the other σ samplers edm); "
        "a σ sampler's --steps are its network calls (NFE)",
    )
    p.add_argument("--zero-terminal-snr", action="store_true", help="rescale the schedule to ᾱ_T = 0 (Lin et al. 2024)")


def add_sampler_args(p: argparse.ArgumentParser) -> None:
    """The reverse chain's sampler; the window's reverse panel starts on the same: DDPM, σ² = β̃_t, seed 0."""
    from core.choices import SAMPLERS, VARIANCES

    p.add_argument("--sampler", choices=SAMPLERS, default="ddpm", help="default: %(default)s")
    add_spacing_args(p)
    p.add_argument(
        "--steps", type=positive_int, default=50, help="DDIM steps; DDPM always runs every step (default: %(default)s)"
    )
    p.add_argument("--eta", type=float, default=0.0, help="DDIM η: 0 deterministic, 1 DDPM-like (default: %(default)s)")
    p.add_argument(
        "--variance",
        choices=VARIANCES,
        default="fixed_small",
        help="DDPM σ²: β̃_t (fixed_small) or β_t (fixed_large) (default: %(default)s)",
    )
    p.add_argument("--seed", type=int, default=0, help="default: %(default)s")


def add_animation_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--fps", type=float, default=20.0, help="frames per second (default: %(default)s)")
    p.add_argument(
        "--hold", type=float, default=1.5, help="seconds the last frame stays before the loop (default: %(default)s)"
    )
