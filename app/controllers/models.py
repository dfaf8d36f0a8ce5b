"""The ideal denoiser of the bundled model's training set, built once for whichever thread first needs it."""

from __future__ import annotations

import threading
from pathlib import Path

from app.state import ViewState
from core.models.checkpoint import BUNDLED_MODEL, LoadedModel, load_model


class TrainingSetIdeal:
    """``ideal(check_only=True)``: does the open model have one (it is the bundled one)? ``ideal()``: build it.

    Compare runs call it on their worker (the build reads 3 533 emoji: seconds); the lock makes two runs
    build it once.
    """

    def __init__(self, state: ViewState) -> None:
        self.state = state
        self._lock = threading.Lock()
        self._ideal: LoadedModel | None = None

    def __call__(self, check_only: bool = False):
        model = self.state.model
        bundled = model is not None and model.path is not None and Path(model.path).resolve() == BUNDLED_MODEL.resolve()
        if check_only:
            return bundled
        with self._lock:
            if self._ideal is None:
                self._ideal = load_model("ideal:emoji")
        return self._ideal
