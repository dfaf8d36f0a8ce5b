"""The "What has it learned?" view through its plain inputs."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from app.panels.learned import LearnedPanel
from core.diffusion.forward import q_sample
from core.models.checkpoint import load_model
from core.runs.theory import network_x0


def _ideal_network(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(5):
        Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(tmp_path / f"p{i}.png")
    return load_model(f"ideal:{tmp_path}", "cpu", ideal_size=8)


def test_a_network_that_is_the_ideal_denoiser_reads_r2_one_for_the_ideal(qtbot, tmp_path):
    model = _ideal_network(tmp_path)  # stands in for a network that memorised its five images
    panel = LearnedPanel()
    qtbot.addWidget(panel)
    panel.show()
    panel.set_model(model)
    qtbot.waitUntil(lambda: panel.theories is not None, timeout=60_000)
    x_t = q_sample(model.schedule, torch.zeros(1, 3, 8, 8), 500, torch.randn(1, 3, 8, 8))
    panel.show_frame(x_t[0], 500, network_x0(model, x_t, 500)[0])
    qtbot.waitUntil(lambda: "r²" in panel.views["els"].caption, timeout=60_000)
    assert "(r² 1.00)" in panel.views["ideal"].caption
    assert panel.views["source"].image() is not None
    final = network_x0(model, x_t, 0)[0]
    panel.set_run([(x_t[0], 500, network_x0(model, x_t, 500)[0]), (final, -1, final)])
    qtbot.waitUntil(lambda: panel.views["nearest"].image() is not None, timeout=60_000)
    assert "RMS" in panel.views["nearest"].caption
    x, y = panel.curves["ideal"].getData()
    assert list(x) == [501] and abs(y[0] - 1.0) < 1e-6
    panel.shutdown()


def test_a_model_whose_data_is_missing_says_what_is_needed(qtbot, tmp_path):
    model = _ideal_network(tmp_path)
    model.config["provenance"]["data"] = "/no/such/pictures"
    panel = LearnedPanel()
    qtbot.addWidget(panel)
    panel.show()
    panel.set_model(model)
    qtbot.waitUntil(lambda: "cannot be found" in panel.status.text(), timeout=60_000)
    panel.shutdown()
