"""A widget that paints an RGB uint8 array, scaled to fit, with a caption."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QSizePolicy, QWidget

from app.views.marks import mark


def same_picture(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    """Whether two pictures are equal; a differing first row answers without reading the rest."""
    if a is None or b is None:
        return a is b
    return a.shape == b.shape and np.array_equal(a[0], b[0]) and np.array_equal(a, b)


class ImageView(QWidget):
    """Paints the newest image straight from its buffer (no QPixmap round trip).

    Images fill the space they have: small ones (a 32² model) are enlarged with nearest-neighbour so
    pixels stay visible (``set_smooth`` for smooth scaling); large ones are shrunk smoothly.
    """

    def __init__(self, caption: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.caption = caption
        self._array: np.ndarray | None = None
        self._image: QImage | None = None
        self._enlarge: QImage | None = None  # the image as RGB32, for square-pixel enlarging (see paintEvent)
        self.smooth = False
        self.setMinimumSize(120, 120)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)  # paintEvent fills every pixel itself
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_image(self, array: np.ndarray | None) -> None:
        if same_picture(array, self._array):  # a preview that did not change (x₀ beside each new x_t) is not repainted
            return
        if array is None:
            self._array = self._image = None
        else:
            array = np.ascontiguousarray(array)
            h, w = array.shape[:2]
            self._array = array  # QImage borrows this buffer; keep it alive
            self._image = QImage(array.data, w, h, array.strides[0], QImage.Format.Format_RGB888)
        self._enlarge = None
        self.update()

    def set_smooth(self, on: bool) -> None:
        """Smooth scaling instead of nearest-neighbour for enlarged small images."""
        self.smooth = bool(on)
        self.update()

    def image(self) -> np.ndarray | None:
        return self._array

    def set_caption(self, caption: str) -> None:
        if caption != self.caption:
            self.caption = caption
            self.update()

    def sizeHint(self) -> QSize:
        return QSize(256, 280)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().window())
        caption_h = self.fontMetrics().height() + 4
        area = self.rect().adjusted(2, caption_h, -2, -2)
        top = area.y()
        if self._image is not None and area.width() > 0 and area.height() > 0:
            w, h = self._image.width(), self._image.height()
            scale = min(area.width() / w, area.height() / h)  # fill the space; grows with the window
            tw, th = max(1, int(w * scale)), max(1, int(h * scale))
            top = area.y() + (area.height() - th) // 2
            target = QRect(area.x() + (area.width() - tw) // 2, top, tw, th)
            # Enlarged small images keep square pixels unless smooth is asked for; shrinking is always smooth.
            smooth = scale < 1 or self.smooth
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth)
            if not smooth and self._enlarge is None:
                # Qt enlarges 32-bit pixels on its fast path and 24-bit ones on a generic one: a 32² x_t drawn at
                # 500 px took 1.3 ms as RGB888 and 0.04 ms as RGB32 (a small copy, made once per picture).
                self._enlarge = self._image.convertToFormat(QImage.Format.Format_RGB32)
            painter.drawImage(target, self._image if smooth else self._enlarge)
        else:
            painter.setPen(QColor(140, 140, 140))
            painter.drawText(area, Qt.AlignmentFlag.AlignCenter, "—")
        painter.setPen(self.palette().windowText().color())
        # The caption sits just above the picture, wherever the picture ends up.
        # mark(): x̂₀ as one glyph of the shipped marks font, so its hat cannot drift (app.views.marks)
        caption = self.fontMetrics().elidedText(mark(self.caption), Qt.TextElideMode.ElideRight, self.width() - 4)
        painter.drawText(QRect(0, top - caption_h, self.width(), caption_h), Qt.AlignmentFlag.AlignCenter, caption)
        painter.end()
