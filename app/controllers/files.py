"""The files worker: reading models and picture folders, writing exports, off the GUI thread.

A large diffusers model, the ideal denoiser of a picture folder or a 1000-frame GIF takes seconds; the
window keeps painting meanwhile. One job at a time (a new one cancels the last); the worker drops what
an older job reports, so ``done`` is only ever called for the newest.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from app.workers.inference import Worker


class FilesController(QObject):
    """``submit(what, job, done)``: run ``job`` on the files worker, then ``done(result)`` on the GUI thread.

    ``busy(what)`` when a job starts, ``idle()`` when it ends, ``failed(message)`` with its one line.
    """

    busy = Signal(str)
    idle = Signal()
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.worker = Worker("files", self)
        self.worker.finished.connect(self._finished)
        self.worker.failed.connect(self._failed)
        self._done: Callable | None = None

    def submit(self, what: str, job: Callable, done: Callable) -> int:
        """Start ``job(handle)``; returns its id at once."""
        self._done = done
        job_id = self.worker.submit(job)
        self.busy.emit(what)
        return job_id

    def _finished(self, _job: int, result) -> None:
        self.idle.emit()
        if result is not None and self._done is not None:
            self._done(result)

    def _failed(self, _job: int, message: str) -> None:
        self.idle.emit()
        self.failed.emit(message)

    def shutdown(self, timeout: float = 30.0) -> None:
        self.worker.shutdown(timeout=timeout)  # an export in progress finishes its file
