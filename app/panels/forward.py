"""The forward process q(x_t | x_0): x_0, ε and x_t side by side, and a slider over t."""

from __future__ import annotations

from PySide6.QtCore import QSignalBlocker, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QGridLayout,
    QLabel,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.state import ViewState
from app.views.imageview import ImageView
from core.diffusion.forward import ForwardPictures, IterativeChain, forward_noise
from core.diffusion.schedules import index_from_paper_t
from core.imaging.scaling import NOISE_SHOWN_SIGMAS, float_to_uint8, uint8_to_unit

RESOLUTION_NOTE = (
    "Noise hides more of a smaller picture at the same t: each pixel gets its own ε, so at 32² one pixel's noise "
    "covers what 16 × 16 pixels carry at 512², and the eye averages less of it away. The reverse panel works at "
    "the model's size, so its x_t looks noisier than this one at the same t."
)
READOUTS = (
    ("t", "t ="),
    ("sqrt_abar", "√ᾱ_t ="),
    ("sqrt_one_minus_abar", "√(1−ᾱ_t) ="),
    ("snr", "SNR ="),
    ("log_snr", "log SNR ="),
    ("abar_T", "ᾱ_T ="),
)


class ForwardPanel(QWidget):
    """Follows a :class:`ViewState`; its slider and buttons send requests to that state."""

    def __init__(self, state: ViewState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self._pictures: ForwardPictures | None = None  # x_t for the current image and ε
        self._chain: IterativeChain | None = None

        self.view_x0 = ImageView("x₀")
        self.view_eps = ImageView(f"ε (±{NOISE_SHOWN_SIGMAS:g}σ)")
        self.view_eps.setToolTip(
            f"The noise ε ~ N(0, I) of this seed, drawn from −{NOISE_SHOWN_SIGMAS:g}σ (black) to "
            f"+{NOISE_SHOWN_SIGMAS:g}σ (white); New noise draws another"
        )
        self.view_xt = ImageView("x_t")
        # x_t, the picture this panel is about, takes two thirds of the width and the full height; x₀ and ε
        # stand one above the other beside it, so at the default size every picture is larger than in a row
        # of three (whose narrow columns left ≈ 150 px pictures in tall grey boxes).
        views = QGridLayout()
        views.setSpacing(4)
        views.addWidget(self.view_x0, 0, 0)
        views.addWidget(self.view_eps, 1, 0)
        views.addWidget(self.view_xt, 0, 1, 2, 1)
        views.setColumnStretch(0, 1)
        views.setColumnStretch(1, 2)
        for view in (self.view_x0, self.view_eps):
            view.setMinimumSize(90, 90)

        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setAccessibleName("forward t")
        self.slider.valueChanged.connect(state.set_t)
        self.spin = QSpinBox()
        self.spin.setPrefix("t = ")
        self.spin.valueChanged.connect(state.set_t)
        # Names are fixed labels and values plain digits: re-shaping a line of Greek and maths
        # symbols on every slider move cost more than computing x_t itself.
        readout = QGridLayout()  # two rows of three: fixed places, so nothing moves while scrubbing
        readout.setHorizontalSpacing(6)
        self.readout: dict[str, QLabel] = {}
        for i, (key, name) in enumerate(READOUTS):
            label = QLabel(name)
            if key == "abar_T":
                label.setToolTip(
                    "How much signal x_T still carries: near 0 means x_T is pure noise, as sampling assumes"
                )
            value = QLabel()
            # Wide enough for its widest value (t = 10000 / 10000, 1.234e-05), so fields never run together; a
            # fixed size, because a label that may change size asks the whole window to re-lay out and repaint
            # at every setText (Qt's updateGeometry climbs to the top), which cost more than x_t itself.
            widest = "00000 / 00000" if key == "t" else "0.000e+00"  # SNR's and ᾱ_T's widest: 1.234e+04
            value.setFixedSize(value.fontMetrics().horizontalAdvance(widest), value.sizeHint().height())
            readout.addWidget(label, i // 3, 2 * (i % 3), Qt.AlignmentFlag.AlignRight)
            readout.addWidget(value, i // 3, 2 * (i % 3) + 1)
            self.readout[key] = value
        readout.setColumnStretch(6, 1)
        self.new_noise = QPushButton("New noise")
        self.new_noise.setToolTip("Draw a new ε (the seed goes up by one)")
        self.new_noise.clicked.connect(lambda: state.new_noise())
        self.iterative = QCheckBox("Step by step: iterate q(x_t | x_{t−1})")
        self.iterative.setToolTip(
            "Build x_t by t single steps of Eq. 2 with fresh noise each step, instead of the closed form (Eq. 4).\n"
            "Both have the same distribution, and both are computed at the same size, so they look alike."
        )
        self.iterative.toggled.connect(state.set_iterative)
        self.info = QLabel()
        self.info.setWordWrap(True)
        self.info.setToolTip(RESOLUTION_NOTE)

        controls = QGridLayout()
        controls.addWidget(self.slider, 0, 0, 1, 3)
        controls.addWidget(self.spin, 0, 3)
        controls.addLayout(readout, 1, 0, 1, 4)
        controls.addWidget(self.new_noise, 2, 0)
        controls.addWidget(self.iterative, 2, 1, 1, 3)

        title = QLabel(
            "<b>Forward process</b> q(x<sub>t</sub> | x<sub>0</sub>) = "
            "N(√ᾱ<sub>t</sub> x<sub>0</sub>, (1 − ᾱ<sub>t</sub>) I)"
        )
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addLayout(views, 1)
        layout.addLayout(controls)
        layout.addWidget(self.info)

        state.image_changed.connect(self._image_changed)
        state.schedule_changed.connect(self._schedule_changed)
        state.t_changed.connect(self._t_changed)
        state.noise_changed.connect(self._noise_changed)
        state.iterative_changed.connect(self._iterative_changed)
        self._schedule_changed()

    # -- state → widgets -----------------------------------------------------------------------

    def _schedule_changed(self) -> None:
        for w in (self.slider, self.spin):
            with QSignalBlocker(w):
                w.setRange(0, self.state.T)
                w.setValue(self.state.t)
        self._chain = None
        self.render()

    def _image_changed(self) -> None:
        working = self.state.working
        self.view_x0.set_image(working)
        h, w = self.state.image.shape[:2]
        wh, ww = working.shape[:2]
        shown = "" if (h, w) == (wh, ww) else f", computed at {ww}×{wh}"
        self.info.setText(
            f"{self.state.image_name}: {w}×{h}{shown}. At the same t, noise hides more of a smaller picture "
            "(hover for why)."
        )
        self._noise_changed()

    def _noise_changed(self) -> None:
        working = self.state.working
        if working is None:
            return
        noise = forward_noise(working.shape, self.state.seed)
        self._pictures = ForwardPictures(working, noise)
        self.view_eps.set_image(float_to_uint8(noise / NOISE_SHOWN_SIGMAS))
        self.view_eps.set_caption(f"ε, seed {self.state.seed} (±{NOISE_SHOWN_SIGMAS:g}σ)")
        self._chain = None
        self.render()

    def _iterative_changed(self, on: bool) -> None:
        with QSignalBlocker(self.iterative):
            self.iterative.setChecked(on)
        self.render()

    def _t_changed(self, t: int) -> None:
        for w in (self.slider, self.spin):
            with QSignalBlocker(w):
                w.setValue(t)
        self.render()

    def render(self) -> None:
        """Recompute x_t and the read-outs for the current state; the views repaint at display rate."""
        s, t = self.state.schedule, self.state.t
        index = index_from_paper_t(t)
        abar_T = f"{float(s.alphas_cumprod[-1]):.3g}"
        if t == 0:  # the clean image
            values = (f"0 / {s.T}", "1", "0", "inf", "inf", abar_T)
        else:
            values = (
                f"{t} / {s.T}",
                f"{float(s.sqrt_alphas_cumprod[index]):.4f}",
                f"{float(s.sqrt_one_minus_alphas_cumprod[index]):.4f}",
                f"{float(s.snr[index]):.4g}",
                f"{float(s.log_snr[index]):+.2f}",
                abar_T,
            )
        for (key, _), value in zip(READOUTS, values, strict=True):
            self.readout[key].setText(value)
        if self._pictures is None:
            return
        if self.state.iterative:
            if self._chain is None:  # at the closed form's own size: the grain of the two must match
                self._chain = IterativeChain(s, uint8_to_unit(self.state.working), seed=self.state.seed)
            self.view_xt.set_image(float_to_uint8(self._chain.at(index)))
            self.view_xt.set_caption(f"x_t by {t} single steps (Eq. 2)")
            return
        self.view_xt.set_image(self._pictures.at(s, index))
        self.view_xt.set_caption("x_t  (Eq. 4, closed form)")
