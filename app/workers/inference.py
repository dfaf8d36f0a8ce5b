"""Long-lived worker threads: the GUI thread hands them jobs and never waits for one.

A job is a plain function of a :class:`Job` handle, run on the worker's thread: it checks
``job.cancelled`` between steps and reports ``job.report(done, total)``. A new job cancels the
current one; cancelling only sets a flag, so the GUI thread is never blocked by a model step.
The worker knows which job is current, so it drops what an older job reports itself: its public
signals carry only the current job (checked on the GUI thread, where a new job is submitted), and
no receiver filters. An exception in a job is one message for the user and a traceback in the log
file the crash guard names.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal, Slot

from core.errors import DiffusionVizError

log = logging.getLogger("diffusion-viz")


class Job:
    """What a running job sees: its id, a cancel flag, and a progress report."""

    def __init__(self, job_id: int, fn: Callable[[Job], object], worker: Worker) -> None:
        self.id = job_id
        self.fn = fn
        self._cancel = threading.Event()
        self.ended = threading.Event()  # the job's thread no longer touches it
        self._worker = worker

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        self._cancel.set()

    def report(self, done: int, total: int) -> bool:
        """Tell the GUI how far the job is; returns False once the job is cancelled."""
        if not self.cancelled:
            self._worker._emit(self._worker._progress_raw, self.id, done, total)
        return not self.cancelled


class Worker(QObject):
    """One long-lived thread (torch's thread pool stays warm) running one job at a time.

    ``progress(job_id, done, total)``, ``finished(job_id, result)`` (result is None when the job was
    cancelled), ``failed(job_id, message)``.
    """

    progress = Signal(int, int, int)
    finished = Signal(int, object)
    failed = Signal(int, str)
    # What the job's thread emits; delivered queued to the GUI thread, which re-emits the current job's.
    _progress_raw = Signal(int, int, int)
    _finished_raw = Signal(int, object)
    _failed_raw = Signal(int, str)

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.job_id = 0
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._job: Job | None = None
        # Slots of this QObject (which lives on the GUI thread), so the connections are queued.
        self._progress_raw.connect(self._deliver_progress)
        self._finished_raw.connect(self._deliver_finished)
        self._failed_raw.connect(self._deliver_failed)

    @Slot(int, int, int)
    def _deliver_progress(self, job_id: int, done: int, total: int) -> None:
        if job_id == self.job_id:
            self.progress.emit(job_id, done, total)

    @Slot(int, object)
    def _deliver_finished(self, job_id: int, result: object) -> None:
        if job_id == self.job_id:
            self.finished.emit(job_id, result)

    @Slot(int, str)
    def _deliver_failed(self, job_id: int, message: str) -> None:
        if job_id == self.job_id:
            self.failed.emit(job_id, message)

    def submit(self, fn: Callable[[Job], object]) -> int:
        """Cancel the current job and queue ``fn``; returns the new job's id at once."""
        self.cancel()
        self.job_id += 1
        self._job = Job(self.job_id, fn, self)
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._serve, name=self.name, daemon=True)
            self._thread.start()
        self._jobs.put(self._job)
        return self.job_id

    def cancel(self) -> None:
        """Ask the current job to stop after its current step; does not wait."""
        if self._job is not None:
            self._job.cancel()

    @property
    def busy(self) -> bool:
        return self._job is not None and not self._job.ended.is_set()

    def wait(self, timeout: float = 10.0) -> bool:
        """Block until the current job has ended (tests and shutdown only)."""
        return self._job is None or self._job.ended.wait(timeout)

    def shutdown(self, timeout: float = 5.0) -> None:
        """Cancel, end the thread, wait at most ``timeout`` (the window is closing)."""
        self.cancel()
        if self._thread is not None and self._thread.is_alive():
            self._jobs.put(None)
            if threading.current_thread() is not self._thread:
                self._thread.join(timeout)
        self._thread = None

    def _emit(self, signal, *args) -> None:
        try:
            signal.emit(*args)
        except RuntimeError:  # the window went away mid-job (it was closed): nobody is listening
            self.cancel()

    def _serve(self) -> None:
        while (job := self._jobs.get()) is not None:
            try:
                self._execute(job)
            finally:
                job.ended.set()

    def _execute(self, job: Job) -> None:
        if job.cancelled:
            self._emit(self._finished_raw, job.id, None)
            return
        try:
            result = job.fn(job)
        except DiffusionVizError as exc:
            self._emit(self._failed_raw, job.id, str(exc))
            return
        except Exception as exc:  # anything else from a model: report, log, keep the window alive
            log.exception("a %s job failed", self.name)
            self._emit(self._failed_raw, job.id, f"the {self.name} job failed: {type(exc).__name__}: {exc}")
            return
        self._emit(self._finished_raw, job.id, None if job.cancelled else result)
