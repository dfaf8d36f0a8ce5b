"""The record of a run: its frames (bounded in bytes) and, for a reverse run, the error curves beside them.

Written by the inference thread, read by the GUI thread (every access takes a lock). Playback,
scrubbing and export read the record; nothing reads the worker. Every record has the same face:
``frames``, ``total_frames``, ``done``, ``error`` and ``run(cancelled)``, the job's whole body.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch

from core.errors import DiffusionVizError
from core.runs.chain import Frame, model_x0, run_chain
from core.runs.spec import RunSpec
from core.runs.views import eps_true, rms

DEFAULT_HISTORY_BYTES = 256 * 1024 * 1024


class FrameHistory:
    """The frames of one run, bounded in bytes (``max_bytes=None``: unbounded, for any kind of item).

    When the budget is exceeded the history is thinned to every other frame (the final frame
    is always kept) and only every ``stride``-th new frame is recorded from then on, so a
    10 000-step run of a large model still fits.
    """

    def __init__(self, max_bytes: int | None = DEFAULT_HISTORY_BYTES) -> None:
        self.max_bytes = max_bytes
        self._frames: list[Frame] = []
        self._bytes = 0
        self.stride = 1
        self._lock = threading.Lock()

    def append(self, frame: Frame, final: bool = False) -> None:
        with self._lock:
            if self.max_bytes is None:
                self._frames.append(frame)
                return
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

    def at(self, i: int) -> Frame:
        """Frame ``i``, clamped to the newest: thinning may shorten the list between a len() and a read."""
        with self._lock:
            return self._frames[min(i, len(self._frames) - 1)]

    def snapshot(self) -> list[Frame]:
        with self._lock:
            return list(self._frames)

    @property
    def nbytes(self) -> int:
        with self._lock:
            return self._bytes


@dataclass
class Curves:
    """Per-step numbers of a run, one entry per model call (never thinned): the paper's t and the errors.

    From an image: ``eps_mse`` = ‖ε̂ − ε_true‖²/d, the L_simple term at that t, and ``x0_rms`` =
    RMS(x̂_0 − x_0). From pure noise there is no truth; ``commit_rms`` = RMS(x̂_0(t) − final sample)
    is filled in when the run completes (when does each detail commit?).
    """

    t: list[int] = field(default_factory=list)
    eps_mse: list[float] = field(default_factory=list)
    x0_rms: list[float] = field(default_factory=list)
    commit_t: list[int] = field(default_factory=list)
    commit_rms: list[float] = field(default_factory=list)


class Recording:
    """The items a generator yields, recorded as a job runs it: Compare's ticks, inversion's frames.

    ``total_frames`` is what the run will have when complete; a job that learns it late sets it.
    """

    def __init__(self, items: Callable[[], Iterable], total_frames: int) -> None:
        self._items = items
        self.total_frames = total_frames
        self.frames = FrameHistory(max_bytes=None)
        self.done = False
        self.error: str | None = None

    def run(self, cancelled: Callable[[], bool] = lambda: False) -> bool:
        """Record every item until the generator ends (True) or ``cancelled()`` (False)."""
        try:
            for item in self._items():
                self.frames.append(item)
                if cancelled():
                    return False
        except DiffusionVizError as exc:
            self.error = str(exc)
            raise
        self.done = True
        return True


class RunRecord:
    """Everything one reverse run produced. ``x0`` is the truth at the run's size when it starts from an image."""

    def __init__(self, spec: RunSpec, max_bytes: int = DEFAULT_HISTORY_BYTES) -> None:
        self.spec = spec
        x0 = model_x0(spec.model, spec.image, spec.size)
        self.x0: torch.Tensor | None = None if x0 is None else x0[0]
        self.num_steps = spec.num_steps
        self.frames = FrameHistory(max_bytes)
        self.curves = Curves()
        self.done = False  # the final frame is recorded
        self.error: str | None = None
        self._lock = threading.Lock()

    @property
    def total_frames(self) -> int:
        """Frames the run will have when complete (every step and the final sample), before any thinning."""
        return self.num_steps + 1

    def add(self, frame: Frame) -> None:
        """Record a frame (inference thread) and its point on the error curves."""
        if frame.final:
            self.frames.append(frame, final=True)
            self._commit_curve(frame)
            with self._lock:
                self.done = True
            return
        self.frames.append(frame)
        if self.x0 is not None and frame.eps_hat is not None:
            schedule = self.spec.model.schedule
            eps_mse = float(((frame.eps_hat - eps_true(schedule, frame, self.x0)) ** 2).mean())
            x0_rms = rms(frame.x0_hat - self.x0)
            with self._lock:
                self.curves.t.append(frame.paper_t)
                self.curves.eps_mse.append(eps_mse)
                self.curves.x0_rms.append(x0_rms)

    def _commit_curve(self, final: Frame) -> None:
        frames = [f for f in self.frames.snapshot() if not f.final]
        ts = [f.paper_t for f in frames]
        values = [rms(f.x0_hat - final.x_t) for f in frames]
        with self._lock:
            self.curves.commit_t, self.curves.commit_rms = ts, values

    def curve_snapshot(self) -> Curves:
        with self._lock:
            c = self.curves
            return Curves(list(c.t), list(c.eps_mse), list(c.x0_rms), list(c.commit_t), list(c.commit_rms))

    def run(self, cancelled: Callable[[], bool] = lambda: False) -> bool:
        """Compute the run into this record (:func:`record_run`)."""
        return record_run(self, cancelled)


def record_run(record: RunRecord, cancelled: Callable[[], bool] = lambda: False) -> bool:
    """Drive the run's chain into ``record`` until it ends or ``cancelled()``; True when it completed.

    An error (a network output with NaN, say) propagates; the frames before it stay recorded.
    """
    try:
        for frame in run_chain(record.spec):
            record.add(frame)
            if cancelled():
                return False
    except DiffusionVizError as exc:
        record.error = str(exc)
        raise
    return record.done
