"""Screenshots of the Analysis dock (issue 25) in set-up states, grabbed as the window drew them.

    xvfb-run -a -s "-screen 0 1500x950x24" .venv/bin/python scripts/analysis_shots.py OUT_DIR [NAME ...] [--image PATH]
Names: ladder, spectrum, exposure, decided (default: all). ``--image`` replaces the sample emoji for the
spectrum shot (a photo); only the dock is grabbed then, so the photo itself is not in the picture.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PySide6.QtWidgets import QApplication  # noqa: E402

from scripts.shots import make_window, wait  # noqa: E402


def show_tab(app, w, name: str) -> None:
    dock = w.analysis
    dock.show()
    dock.tabs.setCurrentIndex([dock.tabs.tabText(i) for i in range(dock.tabs.count())].index(name))
    wait(app, 0.5)


def run_to(app, w, paused_at: float, from_noise: bool) -> None:
    r = w.reverse
    r.start_from.setCurrentIndex(1 if from_noise else 0)
    r.sampler.setCurrentIndex(r.sampler.findData("ddim"))
    r.steps.setValue(50)
    r.eta.setValue(1.0)
    r.start(paused=True)
    wait(app, 600, until=lambda: r.record is not None and r.record.done)
    r.seek(int(paused_at * (len(r.frames()) - 1)))
    wait(app, 0.5)


def main() -> None:
    out = Path(sys.argv[1])
    args = sys.argv[2:]
    image = None
    if "--image" in args:
        i = args.index("--image")
        image, args = args[i + 1], args[:i] + args[i + 2 :]
    names = args or ["ladder", "spectrum", "exposure", "decided"]
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication([])
    w = make_window(app)
    if "ladder" in names:
        w.state.set_t(400)
        show_tab(app, w, "Resolution ladder")
        w.grab().save(str(out / "analysis_ladder.png"))
    if "spectrum" in names:
        if image:
            from core.imaging.images import load_image

            w.state.set_image(load_image(image), Path(image).name)
        w.state.set_t(w.state.T * 3 // 5)
        show_tab(app, w, "Spectrum")
        run_to(app, w, 0.5, from_noise=False)
        (w.analysis.grab() if image else w.grab()).save(str(out / "analysis_spectrum.png"))
    if "exposure" in names:
        from assets import SAMPLE_IMAGE
        from core.imaging.images import load_image

        w.state.set_image(load_image(SAMPLE_IMAGE), "sample.png")
        w.state.set_t(w.state.T * 3 // 5)
        show_tab(app, w, "Exposure bias")
        run_to(app, w, 0.5, from_noise=False)
        view = w.analysis.exposure
        view.button.click()
        wait(app, 1200, until=lambda: "mean |variance gap|" in view.status.text())
        w.grab().save(str(out / "analysis_exposure_off.png"))
        view.toggle.setChecked(True)
        wait(app, 0.5)
        w.grab().save(str(out / "analysis_exposure_on.png"))
    if "decided" in names:
        show_tab(app, w, "When is it decided?")
        run_to(app, w, 0.3, from_noise=True)
        view = w.analysis.decided
        view.curve_button.click()
        wait(app, 3000, until=lambda: "Flip threshold" in view.status.text() or "never flips" in view.status.text())
        w.grab().save(str(out / "analysis_decided.png"))
    w.close()


if __name__ == "__main__":
    main()
