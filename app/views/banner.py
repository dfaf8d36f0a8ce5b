"""The one-line message of the window, drawn in the menu bar's empty right-hand part: it covers nothing.

A message used to float over the top of the central widget, over the main tab bar, for 12 s. The
menu bar holds three short menus and is otherwise empty, so the message sits there, elided to the room
it has (the whole text is its tooltip and stays in the status bar).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QLabel, QStyle, QStyleOption, QWidget

from app.views.marks import mark

ERROR_STYLE = "background:#fdecea; color:#611a15; padding:0 6px; border:1px solid #f5c6cb;"
INFO_STYLE = "background:#e8f4fd; color:#0c3c60; padding:0 6px; border:1px solid #b6dcf7;"


class Banner(QLabel):
    """A QLabel whose text is drawn on one line, elided at the right; ``text()`` is the whole message."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWordWrap(False)
        self.setStyleSheet(ERROR_STYLE)

    def say(self, text: str, error: bool) -> None:
        self.setText(text)
        self.setToolTip(text)
        self.setStyleSheet(ERROR_STYLE if error else INFO_STYLE)

    def place(self, bar: QWidget, after: int) -> None:
        """Fill ``bar`` (the menu bar) from x = ``after`` to its right end, at its height."""
        left = after + 12
        self.setGeometry(left, 1, max(bar.width() - left - 6, 80), max(bar.height() - 2, 12))

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        option = QStyleOption()
        option.initFrom(self)
        self.style().drawPrimitive(QStyle.PrimitiveElement.PE_Widget, option, painter, self)  # the style sheet
        area = self.contentsRect().adjusted(6, 0, -6, 0)
        text = self.fontMetrics().elidedText(mark(self.text()), Qt.TextElideMode.ElideRight, area.width())
        painter.setPen(self.palette().windowText().color())
        painter.drawText(area, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, text)
        painter.end()
