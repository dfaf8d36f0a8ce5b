"""QImage ↔ numpy."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage

from core.imaging.images import to_rgb


def qimage_to_array(image: QImage) -> np.ndarray:
    """Any QImage → RGB uint8 [H, W, 3], transparency composited on white."""
    from PIL import Image

    rgba = image.convertToFormat(QImage.Format.Format_RGBA8888)
    h, w, stride = rgba.height(), rgba.width(), rgba.bytesPerLine()
    buf = np.frombuffer(rgba.constBits(), np.uint8, count=h * stride).reshape(h, stride)[:, : w * 4]
    return np.asarray(to_rgb(Image.fromarray(buf.reshape(h, w, 4).copy(), "RGBA")))
