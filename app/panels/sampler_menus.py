"""The sampler menus the reverse panel and each Compare row share: which sampler, on which steps, ᾱ_T = 0 or not.

DDPM and DDIM step on the model's indices; the σ samplers of :data:`core.diffusion.ode_samplers.SAMPLERS` solve
the probability-flow ODE and count their steps in network calls (NFE). Picking a sampler moves the spacing menu
to that sampler's own spacing (DDIM trailing, Heun karras, the other σ samplers edm), as the lab runs them.
"""

from __future__ import annotations

from PySide6.QtCore import QSignalBlocker
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QSpinBox

from app.views.marks import mark, tooltip
from core.diffusion.ode_samplers import SAMPLERS, SPACINGS

DDPM_LABEL = "DDPM (ancestral)"
SPACING_TIPS = {
    "leading": "leading: diffusers' old default; never starts at t = T (Lin et al. 2024)",
    "trailing": "trailing: from t = T down, evenly (Lin et al. 2024, Table 2)",
    "linspace": "linspace: T … 1 evenly, rounded to indices",
    "karras": "karras: EDM's σ_i = (σ_max^(1/ρ) + i/(N−1)(σ_min^(1/ρ) − σ_max^(1/ρ)))^ρ, ρ = 7, from the model's σ_max",
    "edm": "edm: the same over EDM's own σ ≤ 80, after one step from the model's σ_max (σ samplers only)",
}


def sampler_combo() -> QComboBox:
    """DDPM, DDIM and every σ sampler, each item's data its name."""
    combo = QComboBox()
    combo.addItem(DDPM_LABEL, "ddpm")
    combo.addItem("DDIM", "ddim")
    for name, entry in SAMPLERS.items():
        if name != "ddim":
            combo.addItem(entry.label, name)
    lines = ["DDPM: Algorithm 2 of Ho et al., every step. DDIM: Eq. 12 of Song et al., any steps."]
    lines += [
        f"{e.label}: {e.citation}; order {e.order or '— (stochastic)'}" for n, e in SAMPLERS.items() if n != "ddim"
    ]
    combo.setToolTip(tooltip("\n".join(lines)))
    return combo


def spacing_combo() -> QComboBox:
    combo = QComboBox()
    for name in SPACINGS:
        combo.addItem(name, name)
    combo.setToolTip(tooltip("Which steps the run visits:\n" + "\n".join(SPACING_TIPS[s] for s in SPACINGS)))
    return combo


def zero_snr_box() -> QCheckBox:
    box = QCheckBox(mark("ᾱ_T = 0"))
    box.setToolTip(
        tooltip(
            "Rescale the schedule to zero terminal SNR (Lin et al. 2024, Algorithm 1): x_T is pure noise.\n"
            "An ε-prediction model cannot be sampled there (x̂₀ divides by √ᾱ_T = 0)."
        )
    )
    return box


def sampler_changed(sampler: QComboBox, spacing: QComboBox) -> None:
    """The spacing menu follows a newly picked sampler to its own spacing (no echo: the caller rebuilds once)."""
    name = sampler.currentData()
    own = SAMPLERS[name].spacing if name in SAMPLERS else "trailing"
    with QSignalBlocker(spacing):
        spacing.setCurrentIndex(max(0, spacing.findData(own)))


def sync_enabled(
    sampler: QComboBox,
    steps: QSpinBox,
    eta: QDoubleSpinBox,
    variance: QComboBox,
    spacing: QComboBox,
) -> None:
    """Enable what the chosen sampler reads (disabled, not hidden: the layout never jumps)."""
    name = sampler.currentData()
    ode = name in SAMPLERS and name != "ddim"
    variance.setEnabled(name == "ddpm")
    steps.setEnabled(name != "ddpm")
    eta.setEnabled(name == "ddim")
    spacing.setEnabled(name != "ddpm")
    # Only when it changes: this runs at every forward-slider step, and a new prefix asks the whole window
    # to re-lay out (the spin box's size hint changes), which cost the slider 8 ms a step (bench row 13).
    prefix = "NFE " if ode else "steps "
    if steps.prefix() != prefix:
        steps.setPrefix(prefix)
        steps.setToolTip(
            "network calls (NFE); Heun makes two a step, so it takes the most steps that fit"
            if ode
            else "DDIM: how many of the T steps to visit"
        )
