"""The one player of recorded runs: Play / Pause, Step, speed, a timeline, and a display timer.

It plays a :class:`~core.runs.session.RunSession`'s record at the session's play position
(:class:`~core.runs.playback.Playback`), whichever tab the session belongs to: the reverse chain, the
comparison and the inversion. The worker fills the record; the timer paints the newest frame due at
display rate, never once per computed step.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QPushButton, QWidget

from app.views.timeline import Timeline
from core.runs.playback import DEFAULT_SPEED, SPEEDS
from core.runs.record import FrameHistory
from core.runs.session import RunSession

# Playback advances and the pictures repaint at most this often. 60 Hz lets a paced run show 60 frames a
# second; "as computed" paints at 30 Hz, as every millisecond the GUI thread paints is taken from torch's
# threads on a 2-core machine.
TICK_MS, TICK_AS_COMPUTED_MS = 16, 33
CHROME_MS = 100  # timeline, status text and the plots' cursor at 10 Hz: they make ancestors repaint


class Items(FrameHistory):
    """A record without a session of its own: items a job appends while the GUI reads them, and their expected ``total``."""

    def __init__(self, total: int) -> None:
        super().__init__(max_bytes=None)
        self.total = total

    @property
    def frames(self) -> Items:
        return self

    @property
    def total_frames(self) -> int:
        return self.total


class Player(QObject):
    """Controls and a timer over ``session``: calls ``show(frame, index)`` when the frame on show changes.

    ``session`` is the run owner whose record and play position it plays (a fresh one when omitted);
    ``busy()`` says whether a job is still filling the record; ``chrome(index, available)`` (optional) is
    called at most every CHROME_MS for status text; ``idle_play()`` (optional) is what Play does when the
    session has no record of its current run (the reverse panel starts one).
    """

    def __init__(
        self,
        show: Callable[[object, int], None],
        parent: QWidget,
        session: RunSession | None = None,
        *,
        busy: Callable[[], bool] = lambda: False,
        chrome: Callable[[int, int], None] | None = None,
        idle_play: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(parent)
        session = session or RunSession()
        self.session, self.show, self.busy, self.chrome, self.idle_play = session, show, busy, chrome, idle_play
        self._shown: tuple[int, int] | None = None  # (id of record, index) on screen
        self._chrome_at = 0.0
        self.play_button = QPushButton("Play")
        self.play_button.setToolTip("Play / pause (Space)")
        self.play_button.clicked.connect(self.toggle)
        self.step_button = QPushButton("Step")
        self.step_button.setToolTip("One frame forward (→); ← one back")
        self.step_button.clicked.connect(lambda: self.step(1))
        for b in (self.play_button, self.step_button):
            b.setFocusPolicy(Qt.FocusPolicy.TabFocus)  # a click leaves the keys with the panel
        self.speed = QComboBox()
        self.speed.addItems(list(SPEEDS))
        self.speed.setCurrentText(DEFAULT_SPEED)
        self.speed.setToolTip("How fast the recorded frames play; inference runs ahead as fast as it can")
        self.speed.currentTextChanged.connect(self._speed_changed)
        self.timeline = Timeline()
        self.timeline.seek_requested.connect(self.seek)
        self._timer = QTimer(self)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)
        session.connect("run_started", lambda _record: self._started())
        session.connect("run_cleared", self._cleared)
        session.connect("run_finished", lambda _completed: self._timer.start())  # catch up, repaint the chrome
        self._speed_changed(self.speed.currentText())
        self.update_buttons()

    @property
    def playback(self):
        return self.session.playback

    def bar(self) -> QHBoxLayout:
        row = QHBoxLayout()
        for w in (self.play_button, self.step_button, self.speed):
            row.addWidget(w)
        row.addWidget(self.timeline, 1)
        return row

    # -- requests ------------------------------------------------------------------------------

    def start(self, items: Items, busy: Callable[[], bool], playing: bool = True) -> None:
        """Play ``items`` as the session's record, filled by a job while ``busy()``."""
        self.busy = busy
        self.session.begin(items, paused=not playing)

    def toggle(self) -> None:
        """Play / pause the session's run; with no record of its current run, ``idle_play()``."""
        if not (self.session.current and self.playback.total_frames):
            if self.idle_play is not None:
                self.idle_play()
            return
        if self.playback.playing:
            self.playback.pause()
        else:
            self.playback.play()
            self._timer.start()
        self.update_buttons()

    def step(self, delta: int) -> None:
        if self.session.record is not None:
            self.playback.pause()
            self.seek(self.playback.position + delta)

    def seek(self, index: int) -> None:
        """Show recorded frame ``index`` (clamped to what is computed); play/pause is unchanged."""
        record = self.session.record
        if record is not None:
            self.playback.seek(index, len(record.frames))
            self.paint(force_chrome=True)

    def seek_end(self) -> None:
        if self.session.record is not None:
            self.seek(len(self.session.record.frames) - 1)

    def repaint(self) -> None:
        """Show the current frame again (a view option changed)."""
        self._shown = None
        if self.session.record is not None and len(self.session.record.frames):
            self.paint(force_chrome=True)

    def stop(self) -> None:
        self._timer.stop()

    # -- display -------------------------------------------------------------------------------

    def _started(self) -> None:
        self._shown = None
        self._timer.start()
        self.update_buttons()

    def _cleared(self) -> None:
        self._shown = None
        self.timeline.set_state(0, 0, 0)
        self.update_buttons()

    def _speed_changed(self, text: str) -> None:
        self.playback.speed = SPEEDS.get(text, 1.0)
        self._timer.setInterval(TICK_AS_COMPUTED_MS if self.playback.speed is None else TICK_MS)

    def _tick(self) -> None:
        if self.session.record is None:
            self._timer.stop()
            return
        self.paint()
        if not self.playback.playing and not self.busy():
            self._timer.stop()
            self.paint(force_chrome=True)

    def paint(self, force_chrome: bool = False) -> None:
        record = self.session.record
        if record is None:
            return
        available = len(record.frames)
        self.playback.total_frames = record.total_frames  # a job may learn its true length as it runs
        index = self.playback.tick(available, complete=not self.busy())
        if available and self._shown != (id(record), index):
            self._shown = (id(record), index)
            self.show(record.frames.at(index), index)
        now = time.monotonic()
        if force_chrome or now - self._chrome_at >= CHROME_MS / 1000:
            self._chrome_at = now
            self.timeline.set_state(record.total_frames, available, index)
            if self.chrome is not None:
                self.chrome(index, available)
            self.update_buttons()

    def update_buttons(self) -> None:
        self.play_button.setText("Pause" if self.playback.playing else "Play")
        has_record = self.session.record is not None
        self.timeline.setEnabled(has_record)
        if self.idle_play is None:
            self.play_button.setEnabled(has_record)
            self.step_button.setEnabled(has_record)
