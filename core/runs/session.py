"""The one owner of a run: its spec, its start, its record, the job computing it and the play position.

No Qt here (napari's layer model, ndv's controller): a panel sends what the user asks for to a
:class:`RunSession` and redraws from the callbacks it connects; the worker thread only fills the
record. Reverse, Compare and Inversion each hold a session, and one ``app.views.player.Player``
plays whichever session it is given.

Events, each called on the thread that caused it (the GUI thread in the window):

- ``"spec_changed"`` (spec): the settings describe another run (the record of an older one was cleared);
- ``"run_started"`` (record): a new record was begun; a job will fill it;
- ``"run_cleared"`` (): the record was dropped, nothing of it should stay on show;
- ``"run_finished"`` (completed: bool): the job filling the record ended (completed, stopped or failed).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from core.runs.chain import Frame, prepare_start
from core.runs.playback import Playback
from core.runs.record import DEFAULT_HISTORY_BYTES, RunRecord
from core.runs.spec import RunSpec

EVENTS = ("spec_changed", "run_started", "run_cleared", "run_finished")


class RunSession:
    """One run as the window holds it.

    ``spec`` is the run the settings describe (None: no model); ``record`` what was computed (a
    :class:`~core.runs.record.RunRecord`, or any record with ``frames``, ``total_frames``, ``done``,
    ``error`` and ``run(cancelled)``); ``job`` the id of the worker job filling it; ``playback`` the
    play position; ``stopped`` whether the user stopped the computing.
    """

    def __init__(self, history_bytes: int = DEFAULT_HISTORY_BYTES, playback: Playback | None = None) -> None:
        self.spec: RunSpec | None = None
        self.record = None
        self.job = 0
        self.stopped = False
        self.history_bytes = history_bytes  # each reverse run's frames stay within this
        self.playback = playback or Playback()
        self._listeners: dict[str, list[Callable]] = {event: [] for event in EVENTS}
        self._start: tuple[RunSpec, tuple[torch.Tensor, torch.Tensor | None]] | None = None

    # -- notifications -------------------------------------------------------------------------

    def connect(self, event: str, callback: Callable) -> None:
        """Call ``callback`` on ``event`` (one of :data:`EVENTS`)."""
        if event not in self._listeners:
            raise ValueError(f"unknown event {event!r}; choose one of {', '.join(EVENTS)}")
        self._listeners[event].append(callback)

    def _emit(self, event: str, *args) -> None:
        for callback in list(self._listeners[event]):
            callback(*args)

    # -- the spec and its start ----------------------------------------------------------------

    def set_spec(self, spec: RunSpec | None) -> bool:
        """The run the settings now describe; a record of another run is cleared. True when it changed."""
        if spec == self.spec:
            return False
        self.spec = spec
        if self.record is not None and getattr(self.record, "spec", spec) != spec:
            self.clear()
        self._emit("spec_changed", spec)
        return True

    @property
    def current(self) -> bool:
        """A record exists and it is of the run the settings describe."""
        return self.record is not None and getattr(self.record, "spec", self.spec) == self.spec

    def start(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(x at the start index, the clean image or None) of ``spec``, as its run will begin; cached per spec.

        The model-size x₀ comes from :func:`~core.runs.chain.model_x0`, which crops each image once per size.
        """
        if self.spec is None:
            raise ValueError("the session has no run to start")
        if self._start is None or self._start[0] != self.spec:
            spec = self.spec
            self._start = (spec, prepare_start(spec, torch.Generator().manual_seed(spec.config.seed)))
        return self._start[1]

    # -- the record ----------------------------------------------------------------------------

    def new_record(self) -> RunRecord:
        """A record for ``spec`` within the history budget (not begun yet)."""
        if self.spec is None:
            raise ValueError("the session has no run to record")
        return RunRecord(self.spec, self.history_bytes)

    def begin(self, record, job: int = 0, paused: bool = False) -> None:
        """Make ``record`` the session's run, computed by worker job ``job``; the play head goes to its start."""
        self.record, self.job, self.stopped = record, job, False
        self.playback.reset(record.total_frames, playing=not paused)
        self._emit("run_started", record)

    def finished(self, completed: bool) -> None:
        """The job filling the record ended (the worker reports only the current job)."""
        self._emit("run_finished", bool(completed))

    def stop(self) -> None:
        """The user stopped the computing: the frames so far stay, playback pauses."""
        self.stopped = True
        self.playback.pause()

    def clear(self) -> None:
        """Drop the record: the settings describe another run now."""
        self.playback.pause()
        self.playback.reset(0, playing=False)
        self.record = None
        self._emit("run_cleared")

    # -- what is on show -----------------------------------------------------------------------

    def frames(self) -> list:
        """Every recorded frame (a copy of the list); empty without a record."""
        return [] if self.record is None else self.record.frames.snapshot()

    def frame(self) -> Frame | None:
        """The frame at the play position, or None."""
        if self.record is None or not len(self.record.frames):
            return None
        return self.record.frames.at(self.playback.position)
