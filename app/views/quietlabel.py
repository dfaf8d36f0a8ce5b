"""A line of text whose changes never re-lay out the window, and repaint at most 30 times a second."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

from app.views.display_rate import DisplayRate


class QuietLabel(QWidget):
    """A :class:`QLabel` in a box of fixed height that has no layout.

    ``QLabel.setText`` asks its parent's layout for a new geometry, and that request climbs to the
    main window, which then lays out and repaints everything: a status line that changes at every
    frame or every slider step cost more than the picture it describes. Here the label's parent is
    this box, which has no layout, so the request stops at the box, which keeps its own size.
    :meth:`text` is the newest text at once; the label on screen follows at 30 Hz, so a burst of
    changes is drawn once.
    """

    def __init__(self, text: str = "", lines: int = 1, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel(text, self)
        self.label.setWordWrap(lines > 1)
        self._text = text
        self._rate = DisplayRate(self.label.setText, self)
        self.setFixedHeight(self.fontMetrics().lineSpacing() * lines + 4)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)

    def resizeEvent(self, event) -> None:
        self.label.setGeometry(self.rect())
        super().resizeEvent(event)

    def setText(self, text: str) -> None:
        if text != self._text:
            self._text = text
            self._rate.request(text)

    def text(self) -> str:
        return self._text
