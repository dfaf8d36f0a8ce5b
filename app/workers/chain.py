"""Runs a reverse chain on a worker thread; the GUI thread paints.

The worker only produces :class:`core.runs.chain.Frame` objects (numpy arrays) into a bounded
history and emits light signals carrying its run id. Cancel and pause are ``threading.Event``
flags checked between model steps, so a stop takes effect within one step. One long-lived
inference thread serves every run.
"""

from __future__ import annotations

import queue
import threading
import time
import traceback
from collections.abc import Callable, Iterator

from PySide6.QtCore import QObject, Signal

from core.errors import DiffusionVizError
from core.runs.chain import Frame

DEFAULT_HISTORY_BYTES = 256 * 1024 * 1024


class FrameHistory:
    """The frames of one run, bounded in bytes.

    When the budget is exceeded the history is thinned to every other frame (the final frame
    is always kept) and only every ``stride``-th new frame is recorded from then on, so a
    10 000-step run of a large model still fits.
    """

    def __init__(self, max_bytes: int = DEFAULT_HISTORY_BYTES) -> None:
        self.max_bytes = max_bytes
        self._frames: list[Frame] = []
        self._bytes = 0
        self.stride = 1
        self._lock = threading.Lock()

    def append(self, frame: Frame, final: bool = False) -> None:
        with self._lock:
            if not final and frame.n % self.stride:
                return
            self._frames.append(frame)
            self._bytes += frame.nbytes
            while self._bytes > self.max_bytes and len(self._frames) > 2:
                newest = self._frames[-1]  # the live view and the final sample are never dropped
                self._frames = self._frames[:-1][::2] + [newest]
                self._bytes = sum(f.nbytes for f in self._frames)
                self.stride *= 2

    def __len__(self) -> int:
        with self._lock:
            return len(self._frames)

    def __getitem__(self, i: int) -> Frame:
        with self._lock:
            return self._frames[i]

    def snapshot(self) -> list[Frame]:
        with self._lock:
            return list(self._frames)

    @property
    def nbytes(self) -> int:
        with self._lock:
            return self._bytes


class _Run:
    """One reverse run's inputs and flags, shared between the GUI thread and the inference thread."""

    def __init__(
        self, run_id: int, make_frames: Callable[[], Iterator[Frame]], history: FrameHistory, paused: bool
    ) -> None:
        self.run_id = run_id
        self.make_frames = make_frames
        self.history = history
        self.cancel = threading.Event()
        self.go = threading.Event()
        if not paused:
            self.go.set()
        self.single_step = paused
        self.done = threading.Event()  # set just before the run's last signal is emitted
        self.ended = threading.Event()  # set after it: the inference thread no longer touches this run


class ChainWorker(QObject):
    """Owns the inference thread of the reverse panel.

    One long-lived thread runs every run in turn, so torch's thread pool stays warm (a fresh
    thread per run made each model step measurably slower on a 2-core machine).
    Signals carry the run id; a receiver drops anything from an older run.
    ``started(run_id, num_steps)``, ``frame_ready(run_id)`` (the newest frame is
    ``history[-1]``), ``finished(run_id, completed)``, ``failed(run_id, message)``.
    """

    started = Signal(int, int)
    frame_ready = Signal(int)
    finished = Signal(int, bool)
    failed = Signal(int, str)

    def __init__(self, parent: QObject | None = None, history_bytes: int = DEFAULT_HISTORY_BYTES) -> None:
        super().__init__(parent)
        self.run_id = 0
        self.history_bytes = history_bytes
        self._jobs: queue.SimpleQueue[_Run | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._run: _Run | None = None
        self.steps_per_second = 0.0

    # -- control (GUI thread) ------------------------------------------------------------------

    def start(self, make_frames: Callable[[], Iterator[Frame]], paused: bool = False) -> int:
        """Stop any current run, then queue ``make_frames()`` for the inference thread. Returns the run id."""
        self.stop()
        self.run_id += 1
        self.steps_per_second = 0.0
        self._run = _Run(self.run_id, make_frames, FrameHistory(self.history_bytes), paused)
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._serve, name="inference", daemon=True)
            self._thread.start()
        self._jobs.put(self._run)
        return self.run_id

    def pause(self) -> None:
        if self._run is not None:
            self._run.go.clear()

    def resume(self) -> None:
        if self._run is not None:
            self._run.single_step = False
            self._run.go.set()

    def step_once(self) -> None:
        """While paused, let exactly one more step through."""
        if self._run is not None:
            self._run.single_step = True
            self._run.go.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Cancel the current run and wait until it has ended (within one model step)."""
        run = self._run
        if run is None:
            return
        run.cancel.set()
        run.go.set()
        if threading.current_thread() is not self._thread:
            # Wait for the last emit to return too: the window may delete this object next.
            run.ended.wait(timeout)

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop the current run and end the inference thread (the window is closing)."""
        self.stop(timeout)
        if self._thread is not None and self._thread.is_alive():
            self._jobs.put(None)
            if threading.current_thread() is not self._thread:
                self._thread.join(timeout)
        self._thread = None

    @property
    def history(self) -> FrameHistory:
        """The frames of the current (or last) run; empty before the first."""
        return self._run.history if self._run is not None else FrameHistory(0)

    @property
    def is_running(self) -> bool:
        """True from start() until the run's last signal is on its way (not until its step returns)."""
        return self._run is not None and not self._run.done.is_set()

    @property
    def is_paused(self) -> bool:
        return self.is_running and not self._run.go.is_set()

    # -- the inference thread ------------------------------------------------------------------

    def _serve(self) -> None:
        while (run := self._jobs.get()) is not None:
            try:
                self._execute(run)
            finally:
                run.ended.set()

    def _execute(self, run: _Run) -> None:
        run_id, cancel, go, history = run.run_id, run.cancel, run.go, run.history
        completed = False
        try:
            frames = iter(()) if cancel.is_set() else run.make_frames()
            t0, count, announced = time.perf_counter(), 0, False
            while True:
                while not go.wait(0.05):
                    if cancel.is_set():
                        break
                if cancel.is_set():
                    break
                frame = next(frames, None)
                if frame is None:
                    completed = True
                    break
                if not announced:
                    self.started.emit(run_id, frame.num_steps)
                    announced = True
                final = frame.n == frame.num_steps
                history.append(frame, final=final)
                count += 1
                if run is self._run:
                    self.steps_per_second = count / max(time.perf_counter() - t0, 1e-9)
                if run.single_step and not final:
                    go.clear()
                self.frame_ready.emit(run_id)
        except DiffusionVizError as exc:
            run.done.set()
            self.failed.emit(run_id, str(exc))
            return
        except Exception as exc:  # anything else from the model: report, keep the window alive
            traceback.print_exc()
            run.done.set()
            self.failed.emit(run_id, f"the run failed: {type(exc).__name__}: {exc}")
            return
        run.done.set()
        self.finished.emit(run_id, completed)
