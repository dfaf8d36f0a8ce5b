"""Screenshots of the real window in set-up states, for the README and for looking at as a newcomer.

Run under a virtual X screen (real widgets, the default window size):
    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python scripts/shots.py OUT_DIR [NAME ...]
Names: forward, guide, reverse, compare, ideal, inversion, playground, playground_image, learned, photo_mid, photo_end,
photo_emoji32, photo_compare (default: all). Each state is set through the
window's own widgets, then the window is grabbed as drawn. ``--size WxH`` (first argument after OUT_DIR)
takes the shots at another window size, e.g. 1100x650 to look at the small-screen layout.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from assets import SAMPLE_IMAGE  # noqa: E402
from core.imaging.images import load_image  # noqa: E402
from core.models.checkpoint import BUNDLED_MODEL, load_model  # noqa: E402


def wait(app, seconds: float, until=None) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        if until is not None and until():
            return
        time.sleep(0.01)


WINDOW_SIZE: tuple[int, int] | None = None  # --size WxH; None: the window's default size


def make_window(app):
    from app.window import DEFAULT_SIZE, MainWindow

    settings = QSettings(str(Path(tempfile.mkdtemp()) / "s.ini"), QSettings.Format.IniFormat)
    w = MainWindow(settings)
    w.set_model(load_model(BUNDLED_MODEL))
    w.state.set_image(load_image(SAMPLE_IMAGE), "sample.png")
    w.state.set_t(w.state.T * 2 // 5)
    w.resize(*(WINDOW_SIZE or DEFAULT_SIZE))
    w.show()
    wait(app, 1.5)
    return w


def shot_forward(app, w):
    """The forward panel as a newcomer first sees it: the bundled sample at t = 0.4 T."""
    wait(app, 0.5)


def shot_guide(app, w):
    """The guide (F1) over the window; grabbed by ``main`` as the dialog, not the window."""
    from app.views.guide import GUIDE, TextDialog

    w.guide_dialog = TextDialog("Guide", GUIDE, w)
    w.guide_dialog.show()
    wait(app, 0.8)


def shot_reverse(app, w):
    r = w.reverse
    r.view.setCurrentIndex(r.view.findData("eps"))
    r.start()
    wait(app, 4.5)
    r.toggle_play()  # pause mid-way
    wait(app, 3.0, until=lambda: not r.worker.busy)
    wait(app, 0.5)


def shot_compare(app, w):
    w.right_tabs.setCurrentWidget(w.compare)
    w.compare.start()
    wait(app, 120, until=lambda: not w.compare.worker.busy)
    w.compare.player.playback.pause()
    w.compare.player.seek(len(w.compare.ticks()) * 4 // 5)  # 80 % of the way: the pictures emerge
    wait(app, 0.5)


def shot_ideal(app, w):
    w.right_tabs.setCurrentWidget(w.compare)
    rows = w.compare.rows
    for row in rows[2:]:
        row.enabled.setChecked(False)
    for row, model_key in zip(rows[:2], ("model", "ideal-training"), strict=True):
        row.sampler.setCurrentIndex(row.sampler.findData("ddim"))
        row.steps.setValue(50)
        row.model.setCurrentIndex(row.model.findData(model_key))
    w.compare.seed.setValue(3)
    w.compare.start()
    wait(app, 60, until=lambda: not w.compare.worker.busy)
    w.compare.show_what.setCurrentIndex(w.compare.show_what.findData("x0"))
    w.compare.player.playback.pause()
    w.compare.player.seek(len(w.compare.ticks()) * 3 // 5)
    wait(app, 0.5)


def shot_inversion(app, w):
    w.right_tabs.setCurrentWidget(w.invert)
    w.invert.start()
    wait(app, 60, until=lambda: not w.invert.worker.busy)
    w.invert.player.playback.pause()
    w.invert.player.seek(w.invert.steps.value() - 1)  # x_T
    wait(app, 0.5)


def shot_learned(app, w):
    """The "What has it learned?" tab mid-run on an emoji from pure noise (DDIM 50), the r² curves complete."""
    r = w.reverse
    r.start_from.setCurrentText("pure noise")
    r.sampler.setCurrentIndex(r.sampler.findData("ddim"))
    r.steps.setValue(50)
    r.seed.setValue(3)
    w.right_tabs.setCurrentWidget(w.learned)
    wait(app, 600, until=lambda: w.learned.theories is not None)
    r.start()
    wait(app, 120, until=lambda: not r.worker.busy)
    wait(app, 1800, until=lambda: w.learned.views["nearest"].image() is not None)
    r.playback.pause()
    r.seek(len(r.frames()) * 2 // 5)
    wait(app, 600, until=lambda: "r²" in w.learned.views["els"].caption)
    wait(app, 0.5)


def _playground(app, w, data: str, sampler: str, fraction: float):
    pg = w.playground
    w.tabs.setCurrentWidget(pg)
    pg.data_choice.setCurrentIndex(pg.data_choice.findData(data))
    pg.train()
    wait(app, 120, until=lambda: not pg.trainer.busy)
    pg.sampler.setCurrentIndex(pg.sampler.findData(sampler))
    pg.sample()
    wait(app, 60, until=lambda: not pg.trainer.busy)
    pg.player.playback.pause()
    pg.player.seek(int(fraction * (len(pg.frames) - 1)))
    wait(app, 0.5)


def shot_playground(app, w):
    _playground(app, w, "moons", "ddim", 1.0)


def shot_playground_image(app, w):
    _playground(app, w, "image", "ddpm", 1.0)


def _photo(app, w, model_dir) -> None:
    """The held-out sample photo of the brushes at t = 0.3 T under ``model_dir``."""
    from assets import PHOTOS

    w.set_model(load_model(model_dir))
    w.state.set_image(load_image(PHOTOS / "brushes.jpg"), "brushes.jpg")
    w.state.set_t(int(0.3 * w.state.T))
    wait(app, 1.0)


def shot_photo_mid(app, w):
    _photo(app, w, BUNDLED_MODEL.parent / "photo")
    r = w.reverse
    r.start()
    wait(app, 600, until=lambda: not r.worker.busy)
    r.playback.pause()
    r.seek(len(r.frames()) // 2)
    wait(app, 0.5)


def shot_photo_end(app, w):
    _photo(app, w, BUNDLED_MODEL.parent / "photo")
    r = w.reverse
    r.start()
    wait(app, 600, until=lambda: not r.worker.busy)
    r.seek_end()
    wait(app, 0.5)


def shot_photo_emoji32(app, w):
    _photo(app, w, BUNDLED_MODEL)
    wait(app, 120, until=lambda: bool(w.reverse.domain.text()))
    wait(app, 0.5)


def shot_photo_compare(app, w):
    _photo(app, w, BUNDLED_MODEL.parent / "photo")
    w.right_tabs.setCurrentWidget(w.compare)
    rows = w.compare.rows
    keys = ("model", "spec:gaussian:photos", f"spec:{BUNDLED_MODEL}")
    for row, key in zip(rows, keys, strict=False):
        row.sampler.setCurrentIndex(row.sampler.findData("ddim"))
        row.steps.setValue(50)
        row.model.setCurrentIndex(row.model.findData(key))
    for row in rows[3:]:
        row.enabled.setChecked(False)
    w.compare.start_from.setCurrentIndex(1)  # the photo at its t
    w.compare.start()
    wait(app, 600, until=lambda: not w.compare.worker.busy)
    w.compare.show_what.setCurrentIndex(w.compare.show_what.findData("x0"))
    w.compare.player.playback.pause()
    w.compare.player.seek(len(w.compare.ticks()) * 3 // 5)
    wait(app, 0.5)


SHOTS = {
    "forward": shot_forward,
    "guide": shot_guide,
    "photo_mid": shot_photo_mid,
    "photo_end": shot_photo_end,
    "photo_emoji32": shot_photo_emoji32,
    "photo_compare": shot_photo_compare,
    "reverse": shot_reverse,
    "compare": shot_compare,
    "ideal": shot_ideal,
    "inversion": shot_inversion,
    "playground": shot_playground,
    "playground_image": shot_playground_image,
    "learned": shot_learned,
}


def main() -> None:
    global WINDOW_SIZE
    out = Path(sys.argv[1])
    names = sys.argv[2:]
    if names[:1] == ["--size"]:
        width, height = names[1].lower().split("x")
        WINDOW_SIZE = (int(width), int(height))
        names = names[2:]
    names = names or list(SHOTS)
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication([])
    for name in names:
        w = make_window(app)
        SHOTS[name](app, w)
        path = out / f"{name}.png"
        grabbed = getattr(w, "guide_dialog", None) or w
        grabbed.grab().save(str(path))
        print(f"wrote {path}", flush=True)
        w.close()
        wait(app, 0.3)


if __name__ == "__main__":
    main()
