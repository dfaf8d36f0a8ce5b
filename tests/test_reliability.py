"""Bad models, failing runs, long runs, full disks, uncaught exceptions: messages, never crashes."""

import errno
import json
import os
import sys
import time
import tracemalloc

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PySide6.QtCore import QSettings

import app.gui
from app.window import MainWindow
from core.diffusion.schedules import NoiseSchedule
from core.errors import ModelLoadError
from core.models.checkpoint import LoadedModel, load_model, save_model
from core.models.unet import UNet, UNetConfig
from core.runs.chain import Frame
from core.runs.record import FrameHistory

TINY = UNetConfig(base_channels=8, channel_mults=(1, 2), attention_resolutions=(4,), groups=4, image_size=8)


@pytest.fixture
def model_dir(tmp_path):
    return save_model(tmp_path / "tiny", UNet(TINY), NoiseSchedule.linear(40), "eps")


@pytest.fixture
def window(qtbot, tmp_path, model_dir):
    w = MainWindow(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    w.set_model(load_model(model_dir))
    w.reverse.start_from.setCurrentText("pure noise")
    yield w
    w.reverse.shutdown()


def stub_model(T, fn=None, size=8):
    """A model whose network is a plain function: fast enough for 10 000 steps."""
    net = torch.nn.Identity()
    return LoadedModel(
        network=net,
        schedule=NoiseSchedule.linear(T, 1e-4, 0.02 * 1000 / T),
        prediction="eps",
        image_size=size,
        channels=3,
        device=torch.device("cpu"),
        name=f"stub-{T}",
        forward=fn or (lambda x, t: torch.zeros_like(x)),
    )


# -- model folders -------------------------------------------------------------------------------

config_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 300) | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    patch=st.dictionaries(
        st.sampled_from(["architecture", "schedule", "prediction", "format", "image_size"]), config_values, max_size=3
    ),
    arch_patch=st.dictionaries(
        st.sampled_from(
            ["base_channels", "channel_mults", "groups", "image_size", "attention_resolutions", "in_channels", "bogus"]
        ),
        config_values,
        max_size=2,
    ),
)
def test_random_configs_load_or_give_our_error(model_dir, patch, arch_patch):
    config = json.loads((model_dir / "config.json").read_text())
    config.update(patch)
    if isinstance(config.get("architecture"), dict):
        config["architecture"] = {**config["architecture"], **arch_patch}
    (model_dir / "config.json").write_text(json.dumps(config))
    try:
        model = load_model(model_dir, device="cpu")
    except ModelLoadError as exc:
        assert str(exc)
        return
    assert isinstance(model, LoadedModel)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("in_channels", {}),
        ("base_channels", "8"),
        ("groups", 0),
        ("heads", 3),
        ("channel_mults", [1, True]),
        ("dropout", 2.0),
        ("attention_resolutions", 4),
    ],
)
def test_wrong_architecture_types_get_our_message(model_dir, field, value):
    # Found by the property test above: {"in_channels": {}} used to escape as a TypeError from torch.
    config = json.loads((model_dir / "config.json").read_text())
    config["architecture"][field] = value
    (model_dir / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelLoadError, match=f"wrong field: .*{field}"):
        load_model(model_dir, device="cpu")


def test_invalid_json_config(model_dir):
    (model_dir / "config.json").write_text("{ not json")
    with pytest.raises(ModelLoadError, match="not valid JSON"):
        load_model(model_dir)


# -- runs ----------------------------------------------------------------------------------------


def test_an_exception_in_the_worker_reaches_the_window_and_the_log(window, qtbot, caplog):
    def broken(x, t):
        raise RuntimeError("CUDA out of memory (simulated)")

    window.set_model(stub_model(20, broken))
    with qtbot.waitSignal(window.reverse.worker.failed, timeout=10000):
        window.reverse.start()
    qtbot.waitUntil(lambda: "out of memory" in window.banner.text(), timeout=5000)
    assert "Traceback" in caplog.text and "out of memory" in caplog.text  # what the crash log file receives
    window.reverse.worker.wait()
    assert not window.reverse.worker.busy
    window.set_model(stub_model(20))  # the window keeps working
    with qtbot.waitSignal(window.reverse.run_finished, timeout=10000):
        window.reverse.start()
    assert len(window.reverse.frames()) == 21


def test_a_model_that_returns_nan_stops_the_run_with_one_message_and_keeps_the_frames(window, qtbot):
    def nan_at_step_5(x, t):
        return torch.full_like(x, float("nan")) if int(t[0]) == 14 else torch.zeros_like(x)

    window.set_model(stub_model(20, nan_at_step_5))
    with qtbot.waitSignal(window.reverse.run_finished, timeout=10000) as done:
        window.reverse.start()
    assert done.args[1] is False
    qtbot.waitUntil(lambda: "not finite" in window.banner.text(), timeout=5000)
    assert "step 6 of 20 (t = 15)" in window.banner.text()
    assert len(window.reverse.frames()) == 5  # the steps before it stay, to be scrubbed
    qtbot.waitUntil(lambda: "not finite" in window.reverse.status.text(), timeout=5000)


def test_changing_model_or_schedule_mid_run(window, qtbot, model_dir):
    panel = window.reverse
    window.set_model(stub_model(5000))
    panel.start()
    qtbot.waitUntil(lambda: len(panel.record.frames) > 0, timeout=10000)
    window.schedule_choice.setCurrentIndex(window.schedule_choice.findData("cosine"))  # the run carries on
    assert panel.worker.busy
    old = panel.record
    window.open_model(model_dir)  # stops the old run
    panel.worker.wait()
    assert not old.done
    with qtbot.waitSignal(panel.run_finished, timeout=20000):
        panel.start()
    assert len(panel.frames()) == 41 and all(f.num_steps == 40 for f in panel.frames())


def test_closing_the_window_mid_run_ends_the_run_and_its_thread(window, qtbot):
    panel = window.reverse
    window.set_model(stub_model(5000))
    panel.start()
    qtbot.waitUntil(lambda: len(panel.record.frames) > 0, timeout=10000)
    thread = panel.worker._thread
    assert panel.worker.busy and thread.is_alive()
    started = time.perf_counter()
    window.close()
    assert time.perf_counter() - started < 5
    assert not panel.worker.busy and not thread.is_alive()


def test_ten_thousand_frames_in_one_run_with_bounded_memory(window, qtbot):
    panel = window.reverse
    panel.history_bytes = 2 * 1024 * 1024  # a small budget, so the bound is really exercised
    window.set_model(stub_model(10_000, size=16))
    with qtbot.waitSignal(panel.run_finished, timeout=120000) as done:
        panel.start()
    assert done.args[1] is True
    history = panel.record.frames
    assert history.nbytes <= 2 * 1024 * 1024
    assert history[len(history) - 1].t == 0  # the final sample is always kept
    assert len(panel.record.curve_snapshot().commit_t) == len(history) - 1
    panel.seek_end()
    assert panel.view_xt.caption.startswith("x₀: the final")
    assert panel.timeline.computed == len(history)


def test_ten_runs_back_to_back_do_not_grow(window, qtbot):
    panel = window.reverse
    window.set_model(stub_model(200, size=16))
    tracemalloc.start()
    sizes = []
    for _ in range(10):
        with qtbot.waitSignal(panel.run_finished, timeout=20000):
            panel.start()
        sizes.append(tracemalloc.get_traced_memory()[0])
    tracemalloc.stop()
    assert sizes[-1] < sizes[1] * 1.5 + 1_000_000


def test_history_thinning_keeps_the_newest_frame():
    tiny = torch.zeros(3, 2, 2)  # 48 bytes a tensor, 144 a frame
    history = FrameHistory(max_bytes=10 * 144)
    for n in range(100):
        history.append(Frame(n, 100, 99 - n, tiny, tiny, tiny))
    history.append(Frame(100, 100, -1, tiny, tiny, None), final=True)
    frames = history.snapshot()
    assert history.nbytes <= 10 * 144 and frames[-1].n == 100 and frames[0].n == 0
    assert [f.n for f in frames] == sorted(f.n for f in frames)


# -- files ---------------------------------------------------------------------------------------


def test_a_full_disk_leaves_no_half_written_file(window, qtbot, tmp_path, monkeypatch):
    window.state.set_image(np.zeros((16, 16, 3), np.uint8), "black")
    real_replace = os.replace

    def full(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    assert not window.export(tmp_path / "out.gif", reverse=False, stride=10)
    monkeypatch.setattr(os, "replace", real_replace)
    assert "No space left" in window.banner.text()
    assert list(tmp_path.glob("*out.gif*")) == []


def test_a_read_only_folder(window, tmp_path, monkeypatch):
    window.state.set_image(np.zeros((16, 16, 3), np.uint8), "black")
    import tempfile

    def read_only(*a, **k):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    assert not window.export(tmp_path / "out.gif", reverse=False, stride=10)
    assert "Read-only" in window.banner.text()


def test_uncaught_exceptions_are_shown_and_logged(window, tmp_path, monkeypatch):
    log = tmp_path / "logs" / "diffusion-viz.log"
    monkeypatch.setattr(app.gui, "log_file_path", lambda: log)
    old_hook = sys.excepthook
    try:
        app.gui.install_crash_guard(window)
        try:
            raise ValueError("a bug")
        except ValueError:
            sys.excepthook(*sys.exc_info())
    finally:
        sys.excepthook = old_hook
        for h in list(app.gui.log.handlers):
            h.close()
            app.gui.log.removeHandler(h)
    assert "ValueError: a bug" in window.banner.text() and str(log) in window.banner.text()
    assert "Traceback" in log.read_text()
