"""The resolution ladder: the forward panel's x_t average-pooled 2×2 and 4×4, each with its effective SNR."""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtWidgets import QGridLayout, QLabel, QVBoxLayout, QWidget

from app.views.imageview import ImageView
from core.analysis.errors import AnalysisError
from core.analysis.ladder import DEFAULT_FACTORS, ladder, shift_for_resolution
from core.diffusion.schedules import NoiseSchedule
from core.imaging.scaling import float_to_uint8


class LadderView(QWidget):
    """x_t at the forward panel's resolution and pooled copies, their SNR, shift and the t they look like."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.views = [ImageView() for _ in DEFAULT_FACTORS]
        for v in self.views:
            v.set_smooth(False)
        grid = QGridLayout()
        for i, v in enumerate(self.views):
            grid.addWidget(v, 0, i)
        self.explain = QLabel()
        self.explain.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addLayout(grid, 1)
        layout.addWidget(self.explain)
        self.rungs = []

    def show_forward(
        self, schedule: NoiseSchedule, index: int, x0: np.ndarray, noise: np.ndarray, model_side: int | None
    ) -> None:
        """x0 and noise [C, H, W] in [−1, 1] units; ``model_side`` the model's resolution, for the sentence."""
        try:
            self.rungs = ladder(schedule, x0, noise, index)
        except AnalysisError as exc:
            self.explain.setText(str(exc))
            for v in self.views:
                v.set_image(None)
            return
        side = x0.shape[-1]
        for view, r in zip(self.views, self.rungs, strict=True):
            view.set_image(float_to_uint8(np.ascontiguousarray(r.x_t.transpose(1, 2, 0))))
            view.set_caption(
                f"{r.factor}×{r.factor} ({side // r.factor} px): SNR {r.snr:.3g}, log SNR {r.log_snr_shift:+.2f} "
                f"(≤ {2 * math.log(r.factor):+.2f}), looks like t = {r.matching_paper_t}"
            )
        t = index + 1
        r2, r4 = self.rungs[1], self.rungs[2]
        text = (
            f"At t = {t} the noise is independent from pixel to pixel, so averaging s×s pixels divides its variance "
            f"by s² while the picture, smooth on that scale, keeps its values: the 2×2 copy is {r2.snr / self.rungs[0].snr:.1f}× "
            f"and the 4×4 copy {r4.snr / self.rungs[0].snr:.1f}× cleaner (a constant image: exactly 4× and 16×; "
            "finer detail is lost to the average, so a real image gains less). Hoogeboom et al. 2023 shift log SNR by "
            "2 log s to match."
        )
        if model_side and side > model_side:
            shift = shift_for_resolution(side, model_side)
            text += (
                f" The model works at {model_side} px: there each noise pixel covers {side / model_side:.1f}×{side / model_side:.1f} "
                f"of these, so at the same t its picture is {math.exp(shift):.0f}× noisier (log SNR {-shift:+.1f}) — "
                "why the reverse panel's start is confetti where this one is clear."
            )
        self.explain.setText(text)
