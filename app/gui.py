"""Starting the window: the Qt application, the default model and image, the crash guard."""

from __future__ import annotations

import logging
import sys
import traceback
from pathlib import Path

from core.errors import DiffusionVizError
from core.imaging.images import load_image
from core.models.checkpoint import BUNDLED_MODEL, load_model

log = logging.getLogger("diffusion-viz")


def log_file_path() -> Path:
    from PySide6.QtCore import QStandardPaths

    folder = Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation) or Path.home())
    return folder / "diffusion-viz.log"


def install_crash_guard(window) -> Path | None:
    """Route every uncaught exception to the window and a log file; never to a bare traceback."""
    path = log_file_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        log.addHandler(handler)
    except OSError:
        path = None

    def hook(exc_type, exc, tb):
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        log.error("uncaught exception\n%s", "".join(traceback.format_exception(exc_type, exc, tb)))
        where = f" (details in {path})" if path else ""
        text = str(exc) if isinstance(exc, DiffusionVizError) else f"Something went wrong: {exc_type.__name__}: {exc}"
        window.show_message(text + where)

    sys.excepthook = hook
    return path


def run(
    image: str | None = None, model: str | None = None, view: str | None = None, quit_after_ms: int | None = None
) -> int:
    """Open the window; returns the application's exit code."""
    import pyqtgraph  # noqa: F401 - configures itself for PySide6 before any widget exists
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from app.window import MainWindow, default_image_path

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("diffusion-viz")
    app.setOrganizationName("diffusion-viz")
    window = MainWindow()
    install_crash_guard(window)
    if model is not None:
        window.open_model_in_background(model)  # the window opens at once; the model arrives when loaded
    else:
        try:
            window.set_model(load_model(BUNDLED_MODEL))
        except DiffusionVizError as exc:
            window.show_message(f"The bundled model could not be loaded ({exc}); open one with File ▸ Open model…")
    if image is not None:
        window.open_image(image)  # a bad file gets its message in the window, which opens anyway
    elif default_image_path().is_file():
        window.state.set_image(load_image(default_image_path()), "sample.png (assets)")
    window.state.set_t(window.state.T * 2 // 5)
    if view is not None:
        window.reverse.view.setCurrentIndex(window.reverse.view.findData(view))
    window.show()
    window.reverse.setFocus()  # Space plays, ← → step: the keys start with the reverse panel
    if quit_after_ms is not None:
        QTimer.singleShot(quit_after_ms, window.close)
    return app.exec()
