"""A play head over a growing list of pictures: Play / Pause, Step, a timeline, paced by :class:`Playback`.

Used by the comparison and inversion panels, whose jobs append items from a worker thread; the reverse
panel has the same parts with more around them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QPushButton, QWidget

from app.playback import DEFAULT_SPEED, SPEEDS, Playback
from app.views.timeline import Timeline


class Items:
    """A list that one thread appends to while another reads (the GUI)."""

    def __init__(self, total: int) -> None:
        self.total = total
        self._items: list = []
        self._lock = threading.Lock()

    def append(self, item) -> None:
        with self._lock:
            self._items.append(item)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __getitem__(self, i: int):
        with self._lock:
            return self._items[i]

    def snapshot(self) -> list:
        with self._lock:
            return list(self._items)


class Player(QObject):
    """Controls (Play, Step, speed, timeline) and a 60 Hz timer that calls ``show(item, index)``."""

    def __init__(self, show: Callable[[object, int], None], parent: QWidget) -> None:
        super().__init__(parent)
        self.show = show
        self.items: Items | None = None
        self.playback = Playback()
        self.busy: Callable[[], bool] = lambda: False
        self._shown = -1
        self.play_button = QPushButton("Play")
        self.play_button.clicked.connect(self.toggle)
        self.step_button = QPushButton("Step")
        self.step_button.clicked.connect(lambda: self.step(1))
        self.speed = QComboBox()
        self.speed.addItems(list(SPEEDS))
        self.speed.setCurrentText(DEFAULT_SPEED)
        self.speed.currentTextChanged.connect(lambda text: setattr(self.playback, "speed", SPEEDS.get(text, 1.0)))
        self.timeline = Timeline()
        self.timeline.seek_requested.connect(self.seek)
        self._timer = QTimer(self)
        self._timer.setInterval(16)
        self._timer.timeout.connect(self._tick)
        self._buttons()

    def bar(self) -> QHBoxLayout:
        row = QHBoxLayout()
        for w in (self.play_button, self.step_button, self.speed):
            row.addWidget(w)
        row.addWidget(self.timeline, 1)
        return row

    def start(self, items: Items, busy: Callable[[], bool], playing: bool = True) -> None:
        self.items, self.busy, self._shown = items, busy, -1
        self.playback.reset(items.total, playing)
        self._timer.start()
        self._buttons()

    def toggle(self) -> None:
        if self.items is None:
            return
        if self.playback.playing:
            self.playback.pause()
        else:
            self.playback.play()
            self._timer.start()
        self._buttons()

    def step(self, delta: int) -> None:
        if self.items is not None:
            self.playback.pause()
            self.seek(self.playback.position + delta)

    def seek(self, index: int) -> None:
        if self.items is not None:
            self.playback.seek(index, len(self.items))
            self._paint()
            self._buttons()

    def stop(self) -> None:
        self._timer.stop()

    def _tick(self) -> None:
        if self.items is None:
            return
        self._paint()
        if not self.playback.playing and not self.busy():
            self._timer.stop()
        self._buttons()

    def _paint(self) -> None:
        available = len(self.items)
        self.playback.total_frames = self.items.total  # a job may learn its true length as it runs
        index = self.playback.tick(available, complete=not self.busy())
        self.timeline.set_state(self.items.total, available, index)
        if available and index != self._shown:
            self._shown = index
            self.show(self.items[index], index)

    def _buttons(self) -> None:
        self.play_button.setText("Pause" if self.playback.playing else "Play")
        for w in (self.timeline, self.play_button, self.step_button):
            w.setEnabled(self.items is not None)
