"""A timeline over a run: how far it is computed (a light bar) and where playback is (the handle)."""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget


class Timeline(QWidget):
    """``total`` frames in all, ``computed`` of them recorded, the play head at ``position``.

    Clicking or dragging asks for a frame (``seek_requested``), clamped to what is computed; the
    owner decides and calls :meth:`set_state`. The panel's keys (←/→/Home/End) move it too.
    """

    seek_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.total = 0
        self.computed = 0
        self.position = 0
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setAccessibleName("timeline")
        self.setToolTip("Light: computed so far. Handle: the frame on show. Click or drag to scrub.")

    def sizeHint(self) -> QSize:
        return QSize(300, 22)

    def minimumSizeHint(self) -> QSize:
        return QSize(80, 22)

    def set_state(self, total: int, computed: int, position: int) -> None:
        if (total, computed, position) != (self.total, self.computed, self.position):
            self.total, self.computed, self.position = total, computed, position
            self.update()

    def _x(self, index: float) -> float:
        span = max(self.total - 1, 1)
        return 6 + (self.width() - 12) * index / span

    def _index_at(self, x: float) -> int:
        span = max(self.total - 1, 1)
        return round((x - 6) / max(self.width() - 12, 1) * span)

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        mid = self.height() / 2
        track = QRectF(6, mid - 3, self.width() - 12, 6)
        p.fillRect(track, QColor(225, 225, 225))
        if self.total and self.computed:
            done = QRectF(track.left(), track.top(), self._x(self.computed - 1) - 6, track.height())
            p.fillRect(done, QColor(150, 190, 230) if self.isEnabled() else QColor(200, 200, 200))
            x = self._x(self.position)
            p.setPen(QPen(QColor(40, 40, 40), 1))
            p.setBrush(QColor(31, 119, 180) if self.isEnabled() else QColor(160, 160, 160))
            p.drawRoundedRect(QRectF(x - 4, 2, 8, self.height() - 4), 3, 3)
        if self.hasFocus():
            p.setPen(QPen(QColor(31, 119, 180), 1, Qt.PenStyle.DotLine))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRect(self.rect().adjusted(0, 0, -1, -1))
        p.end()

    def mousePressEvent(self, event) -> None:
        if self.total:
            self.seek_requested.emit(self._index_at(event.position().x()))

    def mouseMoveEvent(self, event) -> None:
        if self.total and event.buttons() & Qt.MouseButton.LeftButton:
            self.seek_requested.emit(self._index_at(event.position().x()))
