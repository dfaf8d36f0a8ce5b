"""What the user is looking at: one owner, change signals, no widgets."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Signal

from core.diffusion.schedules import NoiseSchedule
from core.imaging.images import fit_long_side
from core.models.checkpoint import LoadedModel

FORWARD_MAX_SIDE = 512


class ViewState(QObject):
    """What the user is looking at: the image, the schedule, the paper's t, the noise seed, the model.

    ``t`` is the paper's t in 0..T (0 = the clean image). Setters emit only on real changes,
    so widgets that follow these signals can never echo into a loop.
    """

    image_changed = Signal()
    schedule_changed = Signal()
    t_changed = Signal(int)
    noise_changed = Signal()
    iterative_changed = Signal(bool)
    model_changed = Signal()

    def __init__(self, schedule: NoiseSchedule | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.schedule = schedule or NoiseSchedule.linear()
        self.schedule_choice = "linear"
        self.t = 0
        self.seed = 0
        self.iterative = False
        self.image: np.ndarray | None = None  # the full image the user loaded
        self.working: np.ndarray | None = None  # ≤ 512 px on the long side: what the forward panel computes on
        self.image_name = ""
        self.model: LoadedModel | None = None  # the one place the loaded model is held

    def set_model(self, model: LoadedModel) -> None:
        self.model = model
        self.model_changed.emit()

    @property
    def T(self) -> int:
        return self.schedule.T

    def set_image(self, image: np.ndarray, name: str) -> None:
        self.image = image
        self.working = fit_long_side(image, FORWARD_MAX_SIDE)
        self.image_name = name
        self.image_changed.emit()

    def set_schedule(self, schedule: NoiseSchedule, choice: str) -> None:
        if schedule is self.schedule and choice == self.schedule_choice:
            return
        old_T, old_t = self.T, self.t
        # t is mapped before anyone hears of the new schedule, so no listener ever sees a t
        # beyond the new T (reading ᾱ at index 699 of a 300-step schedule raised IndexError).
        # The same fraction of the chain is kept when T changes.
        self.schedule, self.schedule_choice = schedule, choice
        self.t = min(round(old_t * self.T / old_T), self.T)
        self.schedule_changed.emit()
        if self.t != old_t:
            self.t_changed.emit(self.t)

    def set_t(self, t: int) -> None:
        t = int(min(max(t, 0), self.T))
        if t != self.t:
            self.t = t
            self.t_changed.emit(t)

    def new_noise(self, seed: int | None = None) -> None:
        self.seed = self.seed + 1 if seed is None else int(seed)
        self.noise_changed.emit()

    def set_iterative(self, on: bool) -> None:
        if bool(on) != self.iterative:
            self.iterative = bool(on)
            self.iterative_changed.emit(self.iterative)
