"""The house's boundaries: core/ never imports a GUI toolkit; app's state never imports widgets."""

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

BLOCKER = """
import importlib, pkgutil, sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name in BLOCKED or name.split(".")[0] in BLOCKED:
            raise ImportError("blocked: " + name)
sys.meta_path.insert(0, Block())
"""


def _run(blocked: set[str], body: str) -> subprocess.CompletedProcess:
    code = f"BLOCKED = {blocked!r}\n" + BLOCKER + textwrap.dedent(body)
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_every_core_module_imports_with_qt_blocked():
    result = _run(
        {"PySide6", "PyQt5", "PyQt6", "shiboken6", "pyqtgraph", "app"},
        """
        import core
        names = [m.name for m in pkgutil.walk_packages(core.__path__, "core.")]
        for name in names:
            importlib.import_module(name)
        from core.diffusion.schedules import NoiseSchedule
        assert NoiseSchedule.linear().T == 1000
        assert "core.diffusion.samplers" in names and "core.models.checkpoint" in names, names
        print("ok", len(names))
        """,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok")


def test_app_state_imports_no_widgets():
    result = _run(
        {"PySide6.QtWidgets", "PySide6.QtGui", "pyqtgraph"},
        """
        import app.state
        print("ok")
        """,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_image_models_and_point_models_meet_one_protocol():
    import torch

    from core.diffusion.schedules import NoiseSchedule
    from core.models.checkpoint import LoadedModel
    from core.models.protocol import Denoiser

    class Points:  # a 2-D model knows nothing of images
        schedule, prediction = NoiseSchedule.cosine(10), "eps"

        def __call__(self, x, t):
            return torch.zeros_like(x)

    image_model = LoadedModel(torch.nn.Identity(), NoiseSchedule.cosine(10), "eps", 8, 3, torch.device("cpu"), "m")
    assert isinstance(Points(), Denoiser) and isinstance(image_model, Denoiser)
    assert not isinstance(object(), Denoiser)
