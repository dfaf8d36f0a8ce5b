"""Does this model know your image? Its bound on the image beside the bound on the images it held out.

The variational bound in bits/dim (Ho et al. 2020, Eq. 5; core.diffusion.vlb) is the model's own measure of how
likely an image is: a model trained on emoji gives held-out emoji about 2.9 bits/dim and a photograph about 10.
A model folder's evaluation.json records its held-out figure (``bpd``, at the model's own size) and what it
was trained on (``domain``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FAR_OUTSIDE = 2.0  # an image whose bound is more than this many times the held-out figure is called far outside


@dataclass(frozen=True)
class HeldOut:
    """What a model folder says about its own held-out images."""

    bpd: float
    domain: str  # "emoji", "photographs", …


def held_out_figure(model: Any) -> HeldOut | None:
    """The held-out bits/dim and domain from the model folder's evaluation.json, or None if it has none."""
    path = getattr(model, "path", None)
    if path is None:
        return None
    try:
        data = json.loads((Path(path) / "evaluation.json").read_text(encoding="utf-8"))
        return HeldOut(float(data["bpd"]), str(data.get("domain", "images")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def domain_line(
    model: Any,
    image_bpd: float,
    alternatives: Sequence[Any] = (),
    pick: Callable[[Any], str] = lambda choice: f"{choice.label} model (Model menu)",
) -> str | None:
    """One plain line when the image is far outside what ``model`` was trained on, else None.

    ``alternatives`` are the bundled models' menu entries (core.models.catalogue.ModelChoice: ``label``,
    ``domain``); the first network trained on another domain is named as the one to try, in ``pick``'s words
    (the window's menu, or the CLI's --model).
    """
    held = held_out_figure(model)
    if held is None or not image_bpd > FAR_OUTSIDE * held.bpd:
        return None
    other = next((c for c in alternatives if c.domain and c.domain != held.domain and c.label != model.name), None)
    hint = f" Try the {pick(other)}." if other else ""
    return (
        f"{model.name} was trained on {held.domain}: this image costs it {image_bpd:.1f} bits/dim against "
        f"{held.bpd:.1f} for held-out {held.domain}, so its predictions here are guesses.{hint}"
    )
