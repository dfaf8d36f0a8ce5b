"""The variational bound per t of the forward panel's image under the model, on its own worker.

Reads the forward state (:class:`~app.state.ViewState`: its image and model) and says what it found
through signals; the window wires them to the plots and the reverse panel. Image and model changes
are coalesced into one computation 300 ms after the last.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal

from app.state import ViewState
from app.workers.inference import Worker
from core.diffusion.vlb import bound_per_t
from core.errors import DiffusionVizError
from core.models.catalogue import bundled_choices
from core.models.domain import domain_line
from core.runs.chain import model_x0


class BoundController(QObject):
    """L_0 … L_{T−1} and L_T of ``state.image`` under ``state.model``.

    ``started(T)``; ``status(text)`` while there is no bound to draw (computing… n %, not available,
    failed); ``computed(terms, prior, domain)`` with the line that says the image lies far outside the
    model's data (or None); ``failed(message)`` with the one line for the user.
    """

    started = Signal(int)
    status = Signal(str)
    computed = Signal(object, float, object)
    failed = Signal(str)

    def __init__(self, state: ViewState, when: Callable[[], bool] = lambda: True, parent=None) -> None:
        super().__init__(parent)
        self.state = state
        self.worker = Worker("bound", self)
        self.worker.progress.connect(lambda _job, done, total: self.status.emit(_percent(done, total)))
        self.worker.finished.connect(self._finished)
        self.worker.failed.connect(self._failed)
        self._model = None
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(300)
        self.timer.timeout.connect(lambda: when() and self.compute())
        state.image_changed.connect(self.timer.start)
        state.model_changed.connect(self.timer.start)

    def compute(self) -> int | None:
        """Start computing the bound now (cancelling an older one); the job id, or None when there is nothing to do."""
        model, image = self.state.model, self.state.image
        if model is None or image is None:
            return None
        try:
            x0 = model_x0(model, image)
        except DiffusionVizError as exc:
            self.status.emit("L_t: not available")
            self.failed.emit(str(exc))
            return None
        self._model = model
        self.started.emit(model.schedule.T)
        self.status.emit("L_t: computing…")
        return self.worker.submit(lambda handle: bound_per_t(model, x0, progress=handle.report))

    def _finished(self, _job: int, result) -> None:
        if result is None:  # cancelled: a newer computation follows
            return
        terms, prior = result
        line = domain_line(self._model, float(terms.sum() + prior), bundled_choices())
        self.computed.emit(terms, float(prior), line)

    def _failed(self, _job: int, message: str) -> None:
        self.status.emit("L_t: failed")
        self.failed.emit(message)

    def shutdown(self) -> None:
        self.worker.shutdown()


def _percent(done: int, total: int) -> str:
    return f"L_t: computing… {100 * done // max(total, 1)} %"
