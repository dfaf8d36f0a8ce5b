"""On a machine with CUDA: a reverse chain there matches the CPU's, and the window's worker uses the GPU."""

import pytest
import torch

from core.diffusion.samplers import SamplerConfig
from core.models.checkpoint import BUNDLED_MODEL, load_model
from core.runs.chain import run_chain
from core.runs.spec import RunSpec

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def test_a_chain_on_cuda_matches_the_cpu_within_float_tolerance():
    config = SamplerConfig("ddim", steps=20, seed=4)
    cpu = list(run_chain(RunSpec(load_model(BUNDLED_MODEL, device="cpu"), config)))[-1]
    gpu = list(run_chain(RunSpec(load_model(BUNDLED_MODEL, device="cuda"), config)))[-1]
    # TF32 and other kernels differ; the same seed gives the same picture to within a few grey levels.
    torch.testing.assert_close(gpu.x_t, cpu.x_t, rtol=0, atol=0.05)


def test_the_window_worker_runs_the_model_on_the_gpu(qtbot, tmp_path):
    from PySide6.QtCore import QSettings

    from app.window import MainWindow

    w = MainWindow(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    w.set_model(load_model(BUNDLED_MODEL))
    assert w.model.device.type == "cuda" and "CUDA" in w.device_label.text()
    w.reverse.start_from.setCurrentText("pure noise")
    with qtbot.waitSignal(w.reverse.run_finished, timeout=60000) as done:
        w.reverse.start()
    assert done.args[1] is True and w.reverse.frames()[-1].final
    w.reverse.shutdown()
