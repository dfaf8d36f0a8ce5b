"""Follow a fast signal at a steady pace: the newest value, at most 30 times a second, and only when it can be seen."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QWidget

# Views that follow the forward slider beside its own picture (the plots' cursors, the reverse panel's start
# preview, its note) move at 30 Hz, the pace the reverse panel paints a run at while it computes
# (app.views.player.TICK_AS_COMPUTED_MS); the forward x_t itself is painted at every step.
FOLLOW_MS = 33


def shown_in_window(widget: QWidget) -> bool:
    """Whether ``widget`` is on show whenever its window is: no tab or splitter between them hides it.

    A window that was never shown (a test's) counts as shown, so its views still follow the state.
    """
    w = widget
    while w is not None and not w.isWindow():
        if w.isHidden():
            return False
        w = w.parentWidget()
    return True


class DisplayRate(QObject):
    """Calls ``apply(newest)`` at most once per ``interval_ms``, for the newest value :meth:`request`-ed.

    A slider dragged across 30 values in 33 ms moves a plot's cursor once, to the last of them.
    While ``widget`` is hidden (another tab is on show) nothing is applied; the newest value is
    applied as it is shown again, before it paints, so a hidden view never does work nobody sees
    and never shows a stale value either.
    """

    def __init__(
        self, apply: Callable[[Any], None], widget: QWidget, interval_ms: int = FOLLOW_MS, settle: bool = False
    ) -> None:
        """``settle=True`` waits instead until no request came for ``interval_ms`` (for what may lag a drag)."""
        super().__init__(widget)
        self._settle = settle
        self._apply, self._widget = apply, widget
        self._pending: Any = None
        self.dirty = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._fire)
        widget.installEventFilter(self)

    def request(self, value: Any = None) -> None:
        """Ask for ``apply(value)``; a later request before it is applied replaces it."""
        self._pending, self.dirty = value, True
        if self._timer.isActive():  # already due (and shown when it was started)
            if self._settle:
                self._timer.start()  # not yet: the requests have not stopped
        elif shown_in_window(self._widget):
            self._timer.start()

    def cancel(self) -> None:
        self._timer.stop()
        self.dirty = False

    def flush(self) -> None:
        """Apply the newest request now, if one is waiting."""
        self._timer.stop()
        if self.dirty:
            self.dirty = False
            self._apply(self._pending)

    def _fire(self) -> None:
        if shown_in_window(self._widget):
            self.flush()

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if obj is self._widget and event.type() == QEvent.Type.Show and self.dirty:
            self.flush()  # shown again: catch up before the first paint
        return False
