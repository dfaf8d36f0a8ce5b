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
