"""core/ must stay importable and usable without any GUI toolkit."""

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_core_imports_with_qt_blocked():
    code = textwrap.dedent("""
        import importlib, pkgutil, sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {"PySide6", "PyQt5", "PyQt6", "shiboken6", "pyqtgraph", "app"}:
                    raise ImportError("blocked: " + name)
        sys.meta_path.insert(0, Block())
        import core
        for mod in pkgutil.iter_modules(core.__path__):
            importlib.import_module("core." + mod.name)
        from core.schedules import NoiseSchedule
        assert NoiseSchedule.linear().T == 1000
        print("ok")
    """)
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
