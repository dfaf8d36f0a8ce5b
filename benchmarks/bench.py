"""diffusion-viz benchmark: what the user feels, each against its floor or its peer, as ratios.

Run:  QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench.py [--quick]

Prints one table: measurement, ours, reference, ratio, goal, met / not met. Times are medians; where
a ratio matters, ours and its reference are measured in alternating rounds and the ratio is the
median of the per-round ratios (a shared 2-core machine drifts by ±20 % from minute to minute).
Nothing here asserts; it measures (tests assert behaviour, this script reports speed).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

ROWS: list[tuple] = []


def alternate(ours, ref, rounds: int) -> tuple[float, float, float]:
    """``ours()`` and ``ref()`` (each returns a time) in ``rounds`` alternating rounds: (median of ours, median of
    ref, median of the per-round ratios ours/ref). A shared machine drifts between rounds; within one it does not."""
    pairs = [(ours(), ref()) for _ in range(rounds)]
    return (
        statistics.median(p[0] for p in pairs),
        statistics.median(p[1] for p in pairs),
        statistics.median(p[0] / p[1] for p in pairs),
    )


def median_time(fn, repeat: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def row(name, ours, ref, unit, goal_text, met, ratio=None):
    ratio = ours / ref if ratio is None and ref else ratio
    ROWS.append((name, ours, ref, unit, ratio, goal_text, met))


def row_order(row) -> tuple[int, str]:
    """Rows by their number, 2 before 10 and 24a before 24b; rows of one number keep the order they were measured in."""
    number = re.match(r"(\d+)(\w*)\.", row[0])
    return (int(number[1]), number[2]) if number else (10**6, "")


def fmt(v, unit):
    if v is None:
        return "—"
    if unit == "ms":
        return f"{v * 1000:.2f} ms"
    if unit == "img/s":
        return f"{v:.1f} img/s"
    return f"{v:.3g} {unit}"


def bench_forward(app, quick):
    for side in (256, 512, 1024):
        _bench_forward_size(app, quick, side)


def _bench_forward_size(app, quick, side):
    from app.panels.forward import ForwardPanel
    from app.state import ViewState
    from core.diffusion.schedules import NoiseSchedule
    from core.imaging.scaling import float_to_uint8

    image = np.random.default_rng(0).integers(0, 256, (side, side, 3), dtype=np.uint8)
    state = ViewState(NoiseSchedule.linear())
    panel = ForwardPanel(state)
    panel.resize(1400, 600)
    panel.show()
    state.set_image(image, "bench")
    app.processEvents()
    ts = iter(range(1, 10**9))

    def scrub():
        state.set_t(1 + next(ts) % 999)
        panel.view_xt.repaint()  # synchronous paint: the pixels are on the widget when this returns

    # The floor: the same arithmetic and uint8 conversion on the same array in numpy, nothing else.
    x0 = state.working.astype(np.float32) / 127.5 - 1
    eps = np.random.default_rng(1).standard_normal(x0.shape, dtype=np.float32)
    out, scratch, u8 = np.empty_like(x0), np.empty_like(x0), np.empty(x0.shape, np.uint8)

    a = np.float32(state.schedule.sqrt_alphas_cumprod[500])
    b = np.float32(state.schedule.sqrt_one_minus_alphas_cumprod[500])

    def floor():  # Eq. 4 as plain numpy into reused buffers
        np.multiply(x0, a, out=out)
        np.add(out, b * eps, out=out)
        float_to_uint8(out, out=u8, scratch=scratch)

    reps, rounds = (10, 3) if quick else (25, 6)
    ours_t, ref_t, ratio = alternate(lambda: median_time(scrub, reps), lambda: median_time(floor, reps), rounds)
    ours, ref = ours_t, ref_t
    computed = f"{state.working.shape[1]}²"
    met = ("met" if ratio <= 2.0 else "NOT met") if side == 512 else "—"
    row(
        f"1. forward scrub {side}² (computed at {computed}): new t → painted",
        ours,
        ref,
        "ms",
        "≤ 2× floor at 512²" if side == 512 else "(reported)",
        met,
        ratio=ratio,
    )
    panel.close()
    panel.deleteLater()
    app.processEvents()


def load_bench_model(folder):
    from core.models.checkpoint import BUNDLED_MODEL, load_model

    return load_model(folder or BUNDLED_MODEL)


def bench_reverse(app, quick, model):
    """Rounds of (bare model loop, app run) back to back, so drift of a shared machine hits both."""
    from PySide6.QtCore import QEventLoop, QTimer

    from app.panels.reverse import ReversePanel
    from app.state import ViewState

    steps, rounds = (40, 3) if quick else (60, 8)
    x = torch.randn(1, model.channels, model.image_size, model.image_size).contiguous(memory_format=torch.channels_last)
    t = torch.tensor([500])

    def bare_per_step():
        t0 = time.perf_counter()
        with torch.inference_mode():
            for _ in range(steps):
                model(x, t)
        return (time.perf_counter() - t0) / steps

    state = ViewState(model.schedule)
    panel = ReversePanel(state)
    state.set_model(model)
    panel.resize(900, 500)
    panel.show()
    # From an image, with ε̂ and the true ε on show: every view the panel has, painted as computed.
    state.set_image(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8), "bench")
    state.set_t(model.schedule.T)
    panel.view.setCurrentIndex(panel.view.findData("eps"))
    panel.speed.setCurrentText("as computed")
    panel.sampler.setCurrentIndex(panel.sampler.findData("ddim"))
    panel.steps.setValue(steps)

    lateness = []
    timer = QTimer()
    timer.setInterval(5)
    last = [time.perf_counter()]

    def tick():
        now = time.perf_counter()
        lateness.append(now - last[0] - 0.005)
        last[0] = now

    timer.timeout.connect(tick)

    def app_per_step():
        loop, done = QEventLoop(), []

        def finished(_run_id, _completed):
            done.append(time.perf_counter())
            loop.quit()

        panel.run_finished.connect(finished)
        last[0] = t0 = time.perf_counter()
        timer.start()
        panel.start()
        loop.exec()  # the real event loop, as in the program: idle waits cost no CPU
        timer.stop()
        panel.run_finished.disconnect(finished)
        return (done[0] - t0) / steps

    bare_per_step(), app_per_step()  # warm-up: first calls, the inference thread's start
    lateness.clear()
    bare, ours = [], []
    for _ in range(rounds):
        bare.append(bare_per_step())
        ours.append(app_per_step())
    ratio = statistics.median(o / b for o, b in zip(ours, bare, strict=True))
    row(
        f"2. reverse chain per step, app path (ε̂ and ε_true on show) vs bare model ({steps} DDIM steps × {rounds})",
        statistics.median(ours),
        statistics.median(bare),
        "ms",
        "overhead ≤ 5 %",
        "met" if ratio <= 1.05 else "NOT met",
        ratio=ratio,
    )
    stall = max(lateness) if lateness else 0.0
    row(
        "4. GUI thread's longest stall during the runs",
        stall,
        0.050,
        "ms",
        "< 50 ms",
        "met" if stall < 0.05 else "NOT met",
    )
    panel.shutdown()
    panel.close()


def bench_slider(app, quick, model):
    """Row 13: one forward-slider step with the whole window listening, GUI-thread time, vs the forward panel alone.

    The window holds the model and every tab; the image is the bundled 32² sample or a 12-megapixel photo
    (random pixels: the cost is in the size). Each step is ``set_t``, the event loop drained, then the x_t view
    painted; the reference is the same step on a lone forward panel of the same size. A burst of steps is timed
    as the GUI thread's CPU time (``time.thread_time``: what the GUI thread spent, not what other programs on a
    shared machine took from it), including a few frames after the burst, so work that the window defers to
    30 Hz (the plots' cursors, the reverse panel's start preview) is counted; the row is per step.
    """
    from PySide6.QtCore import QSettings

    from app.panels.forward import ForwardPanel
    from app.state import ViewState
    from app.views.display_rate import FOLLOW_MS
    from app.views.plots import STEPS_SETTLE_MS
    from app.window import MainWindow, default_image_path
    from core.imaging.images import load_image

    def drain():
        for _ in range(3):
            app.processEvents()

    def settle():  # idle event loop until deferred work has run (the steps' ticks wait for the slider to rest)
        end = time.perf_counter() + (STEPS_SETTLE_MS + 3 * FOLLOW_MS) / 1000
        while time.perf_counter() < end:
            app.processEvents()
            time.sleep(0.001)

    folder = tempfile.mkdtemp()
    window = MainWindow(QSettings(str(Path(folder) / "s.ini"), QSettings.Format.IniFormat))
    window.set_model(model)
    window.resize(1500, 940)
    window.show()
    drain()
    alone_state = ViewState(model.schedule)
    alone = ForwardPanel(alone_state)
    alone.resize(window.forward.size())  # the same picture sizes: the difference is who else listens
    alone.show()
    photo = np.random.default_rng(0).integers(0, 256, (3000, 4000, 3), dtype=np.uint8)

    for name, image in (("the 32² sample", load_image(default_image_path())), ("a 12-megapixel photo", photo)):
        window.state.set_image(image, "bench")
        alone_state.set_image(image, "bench")
        drain()
        window.compute_bound()  # now, and wait for it: the bound is not the slider's work
        window.bound_worker.wait(120)
        settle()
        ts = iter(range(1, 10**9))
        reps, rounds = (20, 4) if quick else (40, 8)

        def burst(state, panel, ts=ts, reps=reps):
            t0 = time.thread_time()
            for _ in range(reps):
                state.set_t(1 + next(ts) % (state.T - 1))
                drain()
                panel.view_xt.repaint()
            settle()
            return (time.thread_time() - t0) / reps

        burst(window.state, window.forward), burst(alone_state, alone)  # warm-up
        ours_t, ref_t, ratio = alternate(
            lambda: burst(window.state, window.forward), lambda: burst(alone_state, alone), rounds
        )
        row(
            f"13. forward-slider step, whole window listening vs the forward panel alone ({name}; GUI-thread CPU)",
            ours_t,
            ref_t,
            "ms",
            "≤ 2×",
            "met" if ratio <= 2.0 else "NOT met",
            ratio=ratio,
        )
    alone.close()
    window.close()
    drain()


def longest_stall(start, seconds: float) -> float:
    """Call ``start()``, run the event loop for ``seconds``, return the GUI thread's longest stall.

    A 5 ms probe timer notes how late each of its ticks is; the first few (start-up) are left out.
    """
    from PySide6.QtCore import QEventLoop, QTimer

    lateness, last = [], [time.perf_counter()]
    probe = QTimer()
    probe.setInterval(5)

    def tick():
        now = time.perf_counter()
        lateness.append(now - last[0] - 0.005)
        last[0] = now

    probe.timeout.connect(tick)
    done = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), done.quit)
    start()
    last[0] = time.perf_counter()
    probe.start()
    done.exec()
    probe.stop()
    return max(lateness[3:]) if len(lateness) > 3 else 0.0


def bench_playback(app, quick, model):
    """Playing a recorded 1000-step run at 60 frames/s: the GUI thread's longest stall."""
    from PySide6.QtCore import QEventLoop

    from app.panels.reverse import ReversePanel
    from app.state import ViewState

    state = ViewState(model.schedule)
    panel = ReversePanel(state)
    state.set_model(model)
    panel.resize(900, 500)
    panel.show()
    state.set_image(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8), "bench")
    state.set_t(model.schedule.T)
    panel.view.setCurrentIndex(panel.view.findData("eps"))
    loop = QEventLoop()
    panel.run_finished.connect(lambda *_: loop.quit())
    panel.start(paused=True)
    loop.exec()  # the whole run recorded first
    panel.playback.speed = 60 * 8.0 / panel.record.total_frames  # 60 frames/s
    panel.seek(0)
    stall = longest_stall(panel.toggle_play, 3 if quick else 8)
    fps = panel.playback.fps
    row(
        f"7. playback of recorded frames at {fps:.0f} frames/s: GUI thread's longest stall",
        stall,
        0.020,
        "ms",
        "< 20 ms",
        "met" if stall < 0.020 else "NOT met",
    )
    panel.shutdown()
    panel.close()


def bench_bound(quick, model):
    """All T terms of the bound for one image, against the model's best per-image time × T."""
    from core.diffusion.vlb import bound_per_t

    T = model.schedule.T
    x0 = torch.rand(1, model.channels, model.image_size, model.image_size) * 2 - 1
    per_image = {}
    for batch in (1, 10, 50, 100, 200):
        xb = x0.expand(batch, -1, -1, -1).contiguous(memory_format=torch.channels_last)
        tb = torch.randint(0, T, (batch,))
        with torch.inference_mode():
            per_image[batch] = median_time(lambda xb=xb, tb=tb: model(xb, tb), 3 if quick else 5) / batch
    best = min(per_image, key=per_image.get)
    rounds = 1 if quick else 3
    ours, floors = [], []
    for _ in range(rounds):
        floors.append(per_image[best] * T)
        t0 = time.perf_counter()
        bound_per_t(model, x0, batch_size=best)
        ours.append(time.perf_counter() - t0)
    ratio = statistics.median(ours) / floors[0]
    row(
        f"8. the bound per t: all {T} terms of one {model.image_size}² image (floor: batch {best}, "
        f"{per_image[best] * 1000:.2f} ms/image × {T}; batch 1: {per_image[1] * 1000:.2f} ms/image)",
        statistics.median(ours),
        floors[0],
        "ms",
        "≤ 2× the batched floor",
        "met" if ratio <= 2.0 else "NOT met",
        ratio=ratio,
    )


def bench_compare(quick, model):
    """Four compared runs, one batched call per step, against one run alone (per step)."""
    from core.diffusion.samplers import SamplerConfig
    from core.runs.compare import CompareRun, compare_chains

    steps = 10 if quick else 25
    config = SamplerConfig("ddim", steps=steps)

    def per_step(n_runs):
        t0 = time.perf_counter()
        for _ in compare_chains([CompareRun(model, config)] * n_runs, seed=0):
            pass
        return (time.perf_counter() - t0) / steps

    per_step(1), per_step(4)  # warm-up
    rounds = 2 if quick else 5
    ours_t, ref_t, ratio = alternate(lambda: per_step(4), lambda: per_step(1), rounds)
    row(
        f"9. four compared runs per step vs one run (DDIM {steps}, batched network call)",
        ours_t,
        ref_t,
        "ms",
        "≤ 2.5×",
        "met" if ratio <= 2.5 else "NOT met",
        ratio=ratio,
    )


def bench_ideal(quick):
    """The ideal denoiser at 64² over 3,900 images, one x_t per call, against its memory-bandwidth floor."""
    from core.diffusion.schedules import NoiseSchedule
    from core.models.ideal import IdealDenoiser

    n, side = 3900, 64
    images = torch.rand(n, 3, side, side) * 2 - 1
    denoiser = IdealDenoiser(images, NoiseSchedule.cosine(1000))
    x = torch.randn(1, 3, side, side)
    ts = [torch.tensor([t]) for t in (100, 400, 700, 950)]
    with torch.inference_mode():
        ours = statistics.median(median_time(lambda t=t: denoiser(x, t), 3 if quick else 7) for t in ts)
    bank = images.numel() * 4
    big = np.ones(bank // 4, np.float32)
    out = np.empty_like(big)
    copy = median_time(lambda: np.copyto(out, big), 3 if quick else 5)
    bandwidth = 2 * bank / copy  # a copy reads and writes the bank once each
    floor = bank / bandwidth
    row(
        f"10. ideal denoiser per step, 64² over {n} images (floor: {bank / 1e6:.0f} MB read once at "
        f"{bandwidth / 1e9:.0f} GB/s)",
        ours,
        floor,
        "ms",
        "≤ 20 ms",
        "met" if ours <= 0.020 else "NOT met",
    )


def bench_theory(quick, model):
    """The closed-form denoisers of emoji32's training set: cost against floors, and what they predict."""
    from core.diffusion.samplers import ddim_loop, final_step
    from core.diffusion.schedules import NoiseSchedule
    from core.models.gaussian import StationaryGaussianDenoiser, ddim_teleported, fit_spectrum
    from core.runs.theory import build_theories, network_x0, r_squared
    from core.training.model_data import training_images

    repeat = 3 if quick else 5
    # Stationary Gaussian x̂_0 at 256² against numpy's FFT round trip of that image (rfft2 + irfft2).
    rng = np.random.default_rng(0)
    spectrum = fit_spectrum(rng.integers(0, 255, (4, 64, 64, 3), dtype=np.uint8))
    wiener = StationaryGaussianDenoiser(spectrum, 256, NoiseSchedule.cosine(1000))
    x256 = torch.randn(1, 3, 256, 256)
    image = x256[0].numpy()
    ours, floor = [], []
    for _ in range(repeat):
        ours.append(median_time(lambda: wiener.x0_hat(x256, 500), 3))
        floor.append(median_time(lambda: np.fft.irfft2(np.fft.rfft2(image), s=image.shape[-2:]), 3))
    row(
        "18. Gaussian (stationary) x̂_0 at 256² vs numpy's FFT round trip",
        statistics.median(ours),
        statistics.median(floor),
        "ms",
        "≤ 2×",
        "met" if statistics.median(ours) <= 2 * statistics.median(floor) else "NOT met",
        statistics.median([a / b for a, b in zip(ours, floor, strict=True)]),
    )
    images = training_images(model)
    theories = build_theories(model, images)
    x = torch.randn(1, 3, model.image_size, model.image_size)
    t = torch.tensor([500])
    with torch.inference_mode():
        gauss = median_time(lambda: theories.gaussian.x0_hat(x, 500), repeat)
        net = median_time(lambda: model(x, t), repeat)
    row(
        f"19. Gaussian (full covariance, D = {x.numel()}) x̂_0 vs the network's step, 32²",
        gauss,
        net,
        "ms",
        "≤ 5×",
        "met" if gauss <= 5 * net else "NOT met",
    )
    els = theories.els
    patch = els.patch_sizes.size_at(500)
    used, total = els.subset_sizes(patch)
    cost = median_time(lambda: els.x0_hat(x, 500), 1 if quick else 3, warmup=1)
    d = 3 * patch * patch
    q, bank = torch.randn(model.image_size**2, d), torch.randn(used, d)
    matmul = median_time(lambda: q @ bank.T, repeat)
    row(
        f"20. ELS x̂_0 at 32², P = {patch}, {used:,} of {total:,} patches per pixel vs its distance product",
        cost,
        matmul,
        "ms",
        "≤ 1 s",
        "met" if cost <= 1.0 else "NOT met",
    )
    # What the Gaussian predicts at high noise, and what teleporting 25 % of DDIM 50 costs the samples.
    n = 4 if quick else 8
    x_T = torch.randn(n, 3, model.image_size, model.image_size, generator=torch.Generator().manual_seed(0))
    high = [i for i in range(model.schedule.T) if model.schedule.alphas_cumprod[i] <= 0.1][::40]
    x0 = torch.from_numpy(images[:n]).permute(0, 3, 1, 2).float() / 127.5 - 1
    r2 = []
    for index in high:
        x_t = model.schedule.sqrt_alphas_cumprod[index].float() * x0
        x_t = x_t + model.schedule.sqrt_one_minus_alphas_cumprod[index].float() * torch.randn_like(x0)
        r2.append(np.median(r_squared(network_x0(model, x_t, index), theories.gaussian.x0_hat(x_t, index))))
    row(
        "21. Gaussian vs network r² at ᾱ ≤ 0.1 (median over t and images)",
        float(np.median(r2)),
        None,
        "",
        "(reported)",
        "—",
    )
    untouched = final_step(ddim_loop(model, model.schedule, x_T, num_steps=50, prediction=model.prediction)).x_prev
    teleported = ddim_teleported(model, theories.gaussian, x_T, num_steps=50, prediction=model.prediction)
    coarse = final_step(ddim_loop(model, model.schedule, x_T, num_steps=25, prediction=model.prediction)).x_prev
    rms = float(((teleported - untouched) ** 2).mean().sqrt()) * 127.5
    ref = float(((coarse - untouched) ** 2).mean().sqrt()) * 127.5
    row(
        "17. DDIM 50 with its first 25 % teleported: RMS to the untouched run (0–255) vs DDIM 25's",
        rms,
        ref,
        "",
        "(reported)",
        "—",
    )


def _sample_and_play(panel, quick) -> float:
    """Sample in the playground panel, then play the run at 30 frames/s: the GUI thread's longest stall."""
    from PySide6.QtCore import QEventLoop

    loop = QEventLoop()
    panel.trainer.finished.connect(lambda *_: loop.quit())
    panel.sample()
    loop.exec()
    panel.player.seek(0)
    panel.player.playback.speed = 30 * 8.0 / panel.frames.total  # 30 frames/s
    return longest_stall(panel.player.toggle, 3 if quick else 6)


def bench_playground(app, quick):
    """The 2-D playground: time to a good fit, and the GUI thread while 5 000 particles and the arrows animate."""

    from app.panels.playground import N_POINTS, PlaygroundPanel
    from app.state import ViewState
    from core import toy2d

    settings = toy2d.DEFAULT_TRAIN
    data = toy2d.make_dataset("moons", 20_000, torch.Generator().manual_seed(0))
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    gen = torch.Generator().manual_seed(0)
    model, _ = toy2d.train_with(settings, data, settings.make_schedule(), "eps", gen)
    train_s = time.perf_counter() - t0
    torch.set_num_threads(before)
    row(
        f"11. playground: training to the fit ({settings.steps} steps, 1 thread)",
        train_s,
        15.0,
        "ms",
        "≤ 15 s",
        "met" if train_s <= 15 else "NOT met",
    )

    panel = PlaygroundPanel(ViewState())
    panel.resize(1200, 800)
    panel.show()
    panel.model, panel.model_prediction = model, "eps"
    panel.sampler.setCurrentIndex(panel.sampler.findData("ddim"))
    panel.steps.setValue(100)
    stall = _sample_and_play(panel, quick)
    row(
        f"12. playground: {N_POINTS} particles + arrows at 30 frames/s, GUI thread's longest stall",
        stall,
        0.033,
        "ms",
        "< 33 ms",
        "met" if stall < 0.033 else "NOT met",
    )
    panel.shutdown()
    panel.close()


def _one_thread_seconds(fn):
    """fn() on one torch thread; (its result, the seconds it took)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        t0 = time.perf_counter()
        result = fn()
        return result, time.perf_counter() - t0
    finally:
        torch.set_num_threads(before)


def bench_toy2d_flow(quick):
    """#24: flow matching against DDIM on two moons with the same net and steps; one reflow round."""
    from core import toy2d

    settings = toy2d.DEFAULT_TRAIN
    schedule = settings.make_schedule()
    data = toy2d.make_dataset("moons", 20_000, torch.Generator().manual_seed(0))
    reference = toy2d.make_dataset("moons", 2000, torch.Generator().manual_seed(7))
    noise = torch.randn(2000, 2, generator=torch.Generator().manual_seed(3))

    def train(prediction):
        return toy2d.train_with(settings, data, schedule, prediction, torch.Generator().manual_seed(0))[0]

    fm, fm_s = _one_thread_seconds(lambda: train("velocity"))
    ddpm, _ = _one_thread_seconds(lambda: train("eps"))
    row(
        f"24a. flow matching: training ({settings.steps} steps, 1 thread)",
        fm_s,
        15.0,
        "ms",
        "≤ 15 s",
        "met" if fm_s <= 15 else "NOT met",
    )
    for steps in (10, 50):
        *_, ours = toy2d.sample_toy(fm, None, "euler", steps=steps, x_start=noise, prediction="velocity")
        *_, theirs = toy2d.sample_toy(ddpm, schedule, "ddim", steps=steps, x_start=noise)
        a = toy2d.sliced_wasserstein(ours.points, reference)
        b = toy2d.sliced_wasserstein(theirs.points, reference)
        row(
            f"24b. two moons, {steps} steps: SW₂ of FM Euler (ours) vs DDIM η = 0 (ref)",
            a,
            b,
            "",
            "≤ 1.0×",
            "met" if a <= b else "NOT met",
        )
    before = toy2d.flow_report(fm, noise, reference)
    reflowed, reflow_s = _one_thread_seconds(lambda: toy2d.reflow(fm, generator=torch.Generator().manual_seed(5)))
    after = toy2d.flow_report(reflowed, noise, reference)
    row(
        "24c. reflow: training on 10 000 own pairs (4000 steps, 1 thread)",
        reflow_s,
        15.0,
        "ms",
        "≤ 15 s",
        "met" if reflow_s <= 15 else "NOT met",
    )
    row(
        "24d. reflow: straightness S after (ours) vs before (ref)",
        after["straightness"],
        before["straightness"],
        "",
        "< 1×",
        "met" if after["straightness"] < before["straightness"] else "NOT met",
    )
    row(
        "24e. reflow: 2-step Euler SW₂ after (ours) vs before (ref)",
        after["sw_2"],
        before["sw_2"],
        "",
        "< 1×",
        "met" if after["sw_2"] < before["sw_2"] else "NOT met",
    )
    print(f"flow report before {before}\nafter {after}", file=sys.stderr)


def bench_toy2d_guidance(quick):
    """#24: guided samples (exact mixture score, DDPM) against the tilted density p(x|c) p(c|x)^w."""
    from core import toy2d

    mixture = toy2d.default_mixture()
    schedule = toy2d.DEFAULT_TRAIN.make_schedule()
    n = 2000 if quick else 4000
    for w in (0.0, 2.0, 8.0):
        frames = toy2d.sample_toy(
            mixture.eps_model(schedule, 0, w), schedule, "ddpm", n, None, torch.Generator().manual_seed(1)
        )
        *_, last = frames
        tilted = toy2d.sample_tilted(mixture, 0, w, n, torch.Generator().manual_seed(2))
        floor = toy2d.sliced_wasserstein(
            tilted, toy2d.sample_tilted(mixture, 0, w, n, torch.Generator().manual_seed(3))
        )
        gap = toy2d.sliced_wasserstein(last.points, tilted)
        row(
            f"24f. guidance w = {w:g}, class 0: SW₂ guided samples → tilted density (ref: two tilted draws)",
            gap,
            floor,
            "",
            "(reported)",
            "—",
        )
    # Conditional training time.
    points, labels = toy2d.make_labelled_dataset("mixture", 10_000, torch.Generator().manual_seed(0))
    settings = toy2d.DEFAULT_TRAIN

    def train():
        return toy2d.train_with(settings, points, schedule, "eps", torch.Generator().manual_seed(0), labels=labels)

    _, seconds = _one_thread_seconds(train)
    row(
        f"24g. conditional MLP with label dropout: training ({settings.steps} steps, 1 thread)",
        seconds,
        15.0,
        "ms",
        "≤ 15 s",
        "met" if seconds <= 15 else "NOT met",
    )


def bench_toy2d_memorisation(quick):
    """#24: where the samples stop copying and the two halves' models stop depending on their data (Kadkhodaie et al. 2024)."""
    from core import toy2d

    sizes = (4, 16, 64, 256, 1024) if quick else toy2d.DEFAULT_SIZES
    for name in ("moons", "mixture"):
        points = []
        for n in sizes:
            pool = toy2d.memorisation_pool(name, n)
            point, seconds = _one_thread_seconds(lambda n=n, pool=pool: toy2d.memorisation_point(pool, n))
            points.append(point)
            print(
                f"{name} N={n}: sample→train {point.to_training:.4f} fresh→train {point.fresh_to_training:.4f} "
                f"ρ {point.copy_ratio:.3f}; A↔B {point.between_models:.4f} A↔A′ {point.between_seeds:.4f} "
                f"δ {point.data_ratio:.2f} ({seconds:.1f} s for three models)",
                file=sys.stderr,
                flush=True,
            )
        for what, where in (
            (f"copy ratio ρ stays ≥ {toy2d.COPY_LEVEL:g}", toy2d.copy_crossing(points)),
            (f"data ratio δ stays ≤ {toy2d.DATA_LEVEL:g}", toy2d.data_crossing(points)),
        ):
            row(
                f"24h. memorisation, {name}: N from which the {what}",
                where,
                None,
                "points",
                "(reported)",
                "—",
                ratio=None,
            )


def bench_toy2d_density(app, quick):
    """#24: the guided run with its tilted density beside it, played at 30 frames/s: the GUI thread's longest stall."""

    from app.panels.playground import PlaygroundPanel
    from app.state import ViewState

    panel = PlaygroundPanel(ViewState())
    panel.resize(1400, 800)
    panel.show()
    panel.data_choice.setCurrentIndex(panel.data_choice.findData("mixture"))
    panel.exact.setChecked(True)
    panel.conditional.setChecked(True)
    panel.guidance.setValue(2.0)
    panel.sampler.setCurrentIndex(panel.sampler.findData("ddim"))
    panel.steps.setValue(100)
    stall = _sample_and_play(panel, quick)
    row(
        "24i. guided run + tilted density + guided arrows at 30 frames/s, GUI thread's longest stall",
        stall,
        0.033,
        "ms",
        "< 33 ms",
        "met" if stall < 0.033 else "NOT met",
    )
    panel.shutdown()
    panel.close()


def bench_vs_diffusers(quick, model):
    try:
        from diffusers import DDIMScheduler, DDPMScheduler
    except ImportError:
        row("3. our loop vs diffusers' scheduler loop", None, None, "ms", "≥ 1.0×", "skipped (no diffusers)")
        return
    from core.diffusion.samplers import SamplerConfig, final_step
    from core.diffusion.schedulers import sample_loop

    steps = 50
    x_T = torch.randn(1, model.channels, model.image_size, model.image_size)
    betas = model.schedule.betas.float()
    pred = {"eps": "epsilon", "x0": "sample", "v": "v_prediction"}[model.prediction]

    def ours(sampler, network):
        config = SamplerConfig(sampler=sampler, steps=steps, clip_x0=True, spacing="trailing")
        if sampler == "ddpm":
            config = SamplerConfig(sampler="ddpm", clip_x0=True)
        g = torch.Generator().manual_seed(0)
        return lambda: final_step(
            sample_loop(network, model.schedule, config, x_T.clone(), prediction=model.prediction, generator=g)
        )

    def theirs(sampler, network):
        same = dict(
            num_train_timesteps=model.schedule.T, trained_betas=betas.numpy(), prediction_type=pred, clip_sample=True
        )
        if sampler == "ddim":
            sched = DDIMScheduler(**same, timestep_spacing="trailing", set_alpha_to_one=True)
            sched.set_timesteps(steps)
        else:
            sched = DDPMScheduler(**same, variance_type="fixed_small")
            sched.set_timesteps(model.schedule.T)

        def run():
            g = torch.Generator().manual_seed(0)
            x = x_T.clone()
            with torch.inference_mode():
                for t in sched.timesteps:
                    out = network(x, t.reshape(1))
                    x = sched.step(out, t, x, generator=g).prev_sample
            return x

        return run

    def no_op(x, t):  # isolates the loops themselves: schedule look-ups, step arithmetic, noise draws
        return x * 0.5

    for sampler, label, n, network, what in (
        ("ddim", f"DDIM {steps} steps", 3 if quick else 9, model, "same network"),
        ("ddpm", "DDPM 1000 steps", 1 if quick else 3, model, "same network"),
        ("ddim", f"DDIM {steps} steps", 5 if quick else 15, no_op, "network → no-op: loop overhead alone"),
        ("ddpm", "DDPM 1000 steps", 3 if quick else 7, no_op, "network → no-op: loop overhead alone"),
    ):
        mine, peer = ours(sampler, network), theirs(sampler, network)
        mine(), peer()  # warm-up
        ours_t, ref_t, ratio = alternate(
            lambda m=mine: median_time(m, 1, warmup=0), lambda p=peer: median_time(p, 1, warmup=0), n
        )
        a, b, speed = ours_t, ref_t, 1 / ratio
        row(
            f"3. our {label} loop vs diffusers' scheduler loop ({what})",
            a,
            b,
            "ms",
            "≥ 1.0× as fast",
            "met" if speed >= 1.0 else "NOT met",
            ratio=speed,
        )


def bench_photo(quick, model):
    """One reverse step of the photo model at 128², batch 1, against emoji32's at 32², alternating rounds."""
    from assets import MODELS
    from core.models.checkpoint import load_model

    photo = load_model(MODELS / "photo", device=model.device)
    x_photo = torch.randn(1, 3, 128, 128, device=model.device)
    x_emoji = torch.randn(1, 3, model.image_size, model.image_size, device=model.device)
    t = torch.tensor([500], device=model.device)
    ours, ref = [], []
    with torch.inference_mode():
        for _ in range(3 if quick else 7):
            ours.append(median_time(lambda: photo(x_photo, t), 5))
            ref.append(median_time(lambda: model(x_emoji, t), 5))
    ratio = statistics.median([a / b for a, b in zip(ours, ref, strict=True)])
    row(
        "22. photo model step at 128² (batch 1) vs emoji32's at 32²",
        statistics.median(ours),
        statistics.median(ref),
        "ms",
        "≤ 8×",
        "met" if ratio <= 8 else "NOT met",
        ratio,
    )


def bench_lab_mixture(quick):
    """The lab on the Gaussian mixture with its exact denoiser: each fitted slope against the solver's order."""
    from core.diffusion.ode_samplers import SAMPLERS
    from core.runs.lab import MixtureDenoiser, run_lab
    from core.toy2d import DEFAULT_TRAIN, default_mixture

    denoiser = MixtureDenoiser(default_mixture(), DEFAULT_TRAIN.make_schedule())
    x_T = torch.randn(128 if quick else 512, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    nfes = (10, 20, 50, 100)
    result = run_lab(denoiser, x_T, ("ddim", "euler", "heun", "dpmpp2m"), nfes, reference_nfe=1999 if quick else 3999)
    for name, slope in result.slopes.items():
        order = SAMPLERS[name].order
        row(
            f"25. lab, Gaussian mixture (exact score): {SAMPLERS[name].label} slope over NFE 10–100 vs order {order}",
            slope,
            order,
            "",
            "within 0.3",
            "met" if abs(slope - order) <= 0.3 else "NOT met",
            ratio=slope / order,
        )


def bench_lab_model(quick, model):
    """emoji32: DPM-Solver++(2M) 10 vs DDIM 10 against the reference; the whole lab vs its network calls alone."""
    from core.diffusion.ode_samplers import SigmaDenoiser
    from core.runs.lab import run_lab

    batch = 2 if quick else 16  # at 10 calls each x_T lands on its own emoji: 2 images were too few (1.58× vs 2.32×)
    x_T = torch.randn(
        batch, model.channels, model.image_size, model.image_size, generator=torch.Generator().manual_seed(0)
    )
    denoiser = SigmaDenoiser(model)
    t0 = time.perf_counter()
    result = run_lab(denoiser, x_T, ("ddim", "euler", "heun", "dpmpp2m"), (5, 10, 20, 50, 100), reference_nfe=999)
    wall = time.perf_counter() - t0
    ddim, dpm = result.run("ddim", 10).error, result.run("dpmpp2m", 10).error
    row(
        f"26. lab, {model.name}: DDIM 10 error / DPM-Solver++(2M) 10 error (reference Heun NFE {result.reference.nfe})",
        dpm,
        ddim,
        "",
        "≥ 2× closer",
        "met" if ddim / dpm >= 2 else "NOT met",
        ratio=ddim / dpm,
    )
    per_image = result.run("ddim", 10).per_sample / result.run("dpmpp2m", 10).per_sample
    row(
        f"26. … per image (×{batch}): median DDIM 10 / DPM-Solver++(2M) 10, and {int((per_image >= 2).sum())} of "
        f"{batch} images ≥ 2× (worst {per_image.min():.2f}×, best {per_image.max():.2f}×)",
        float(np.median(per_image)),
        1.0,
        "",
        "≥ 2× closer",
        "met" if np.median(per_image) >= 2 else "NOT met",
    )
    row(
        f"27. the whole lab, {model.name} ×{batch} (4 samplers × 5 NFE + reference, batched) vs its network calls",
        wall,
        result.network_seconds,
        "ms",
        "≤ 1.5×",
        "met" if wall / result.network_seconds <= 1.5 else "NOT met",
    )


def bench_ode_loops(quick, model):
    """Each σ sampler's loop with the network a no-op, against diffusers' scheduler loop of the same name."""
    try:
        import diffusers
    except ImportError:
        row("28. σ sampler loops vs diffusers", None, None, "ms", "≥ 1.0×", "skipped (no diffusers)")
        return
    from core.diffusion import ode_samplers as ode

    steps, schedule = 50, model.schedule
    x_T = torch.randn(1, model.channels, model.image_size, model.image_size)
    pred = {"eps": "epsilon", "x0": "sample", "v": "v_prediction"}[model.prediction]

    class NoOp:  # a Denoiser whose network costs nothing
        def __init__(self):
            self.schedule, self.prediction = schedule, model.prediction

        def __call__(self, x, t):
            return x * 0.5

    peers = {
        "euler": diffusers.EulerDiscreteScheduler,
        "heun": diffusers.HeunDiscreteScheduler,
        "dpmpp2m": diffusers.DPMSolverMultistepScheduler,
        "euler_a": diffusers.EulerAncestralDiscreteScheduler,
    }
    for name, cls in peers.items():
        extra = {"algorithm_type": "dpmsolver++", "solver_order": 2} if name == "dpmpp2m" else {}
        sched = cls(
            trained_betas=schedule.betas.float().numpy(), prediction_type=pred, timestep_spacing="trailing", **extra
        )

        def theirs(sched=sched, name=name):
            sched.set_timesteps(steps)
            g = torch.Generator().manual_seed(0)
            x = x_T * sched.init_noise_sigma
            with torch.inference_mode():
                for t in sched.timesteps:
                    out = sched.scale_model_input(x, t) * 0.5
                    kw = {"generator": g} if name in ("euler_a", "dpmpp2m") else {}
                    x = sched.step(out, t, x, **kw).prev_sample
            return x

        def ours(name=name):
            denoiser = ode.SigmaDenoiser(NoOp(), fractional_index=True)
            return ode.sample(
                name, denoiser, x_T.float(), steps, "trailing", generator=torch.Generator().manual_seed(0)
            )

        ours(), theirs()
        ours_t, ref_t, ratio = alternate(
            lambda: median_time(ours, 1, warmup=0), lambda: median_time(theirs, 1, warmup=0), 3 if quick else 9
        )
        speed = 1 / ratio
        row(
            f"28. our {ode.SAMPLERS[name].label} {steps}-step loop vs diffusers' (network → no-op)",
            ours_t,
            ref_t,
            "ms",
            "≥ 1.0× as fast",
            "met" if speed >= 1.0 else "NOT met",
            ratio=speed,
        )


def bench_gif(quick):
    from core.imaging.export import write_gif

    frames = [np.random.default_rng(i).integers(0, 256, (256, 256, 3), dtype=np.uint8) for i in range(100)]
    frames = [(f // 32 * 32).astype(np.uint8) for f in frames]  # few colours, like our frames
    with tempfile.TemporaryDirectory() as d:
        secs = median_time(lambda: write_gif(frames, Path(d) / "x.gif", 20), 2 if quick else 3, warmup=1)
    row("5. GIF export, 100 frames at 256²", secs, 1.0, "ms", "< 1 s", "met" if secs < 1.0 else "NOT met")


def bench_train(quick):
    from core.training.train import TrainConfig, train

    with tempfile.TemporaryDirectory() as d:
        steps = 10 if quick else 30
        cfg = TrainConfig(out=d, steps=steps, log_every=steps, checkpoint_every=10**9, num_samples=4)
        summary = train(cfg, log=lambda _m: None)
    row(
        "6. training throughput at 32², batch 64 (this machine)",
        summary["img_per_s"],
        None,
        "img/s",
        "(reported)",
        "—",
        ratio=None,
    )


def bench_analysis(app, quick, model):
    """The analysis views (#25): the spectrum per frame, K continuations, the exposure monitor, each vs its floor."""
    from app.views.analysis.spectrum import SpectrumView
    from core.analysis.decided import DECIDED_CONFIG, continuations
    from core.analysis.exposure import data_statistics, monitored_run
    from core.diffusion.samplers import final_step
    from core.diffusion.schedulers import sample_loop
    from core.diffusion.schedules import NoiseSchedule

    rounds = 3 if quick else 7
    rng = np.random.default_rng(0)
    x0 = rng.uniform(-1, 1, (3, 512, 512)).astype(np.float32)
    x_t = rng.standard_normal((3, 512, 512)).astype(np.float32)
    view = SpectrumView()
    view.resize(600, 400)
    view.show()
    schedule = NoiseSchedule.cosine()
    view.show_arrays("bench", schedule, 400, x_t, x0)
    app.processEvents()

    def ours():
        view.show_arrays("bench", schedule, 400, x_t, x0)
        view.plot.repaint()

    def floor():
        np.fft.rfft2(x_t), np.fft.rfft2(x0)

    ours_t, ref_t, ratio = alternate(lambda: median_time(ours, 5, 1), lambda: median_time(floor, 5, 1), rounds)
    row(
        "29. spectrum view per frame (x_t and x_0, 3×512², painted) vs numpy's rfft2 of the same arrays",
        ours_t,
        ref_t,
        "ms",
        "≤ 2×",
        "met" if ratio <= 2 else "NOT met",
        ratio=ratio,
    )
    view.close()

    config = DECIDED_CONFIG.__class__("ddim", steps=10 if quick else 20, eta=1.0)
    shape = (model.channels, model.image_size, model.image_size)
    frame = torch.randn(shape, generator=torch.Generator().manual_seed(0))
    start = 600

    def k8():
        continuations(model, frame, start, 8, config=config, seed=0)

    def batch8():
        x = torch.randn((8, *shape), generator=torch.Generator().manual_seed(0)).to(model.device)
        final_step(
            sample_loop(
                model,
                model.schedule,
                config,
                x,
                t_start=start,
                prediction=model.prediction,
                generator=torch.Generator().manual_seed(0),
            )
        )

    ours_t, ref_t, ratio = alternate(lambda: median_time(k8, 1, 1), lambda: median_time(batch8, 1, 1), rounds)
    row(
        f"30. K = 8 continuations of one frame vs one batched run of 8 (DDIM {config.steps}, η = 1)",
        ours_t,
        ref_t,
        "ms",
        "≤ 1.3×",
        "met" if ratio <= 1.3 else "NOT met",
        ratio=ratio,
    )

    stats = data_statistics(torch.zeros(1, *shape))
    x8 = torch.randn((8, *shape), generator=torch.Generator().manual_seed(1)).to(model.device)

    def monitored():
        for _ in monitored_run(model, config, x8, stats, generator=torch.Generator().manual_seed(0)):
            pass

    def plain():
        for _ in sample_loop(
            model, model.schedule, config, x8, prediction=model.prediction, generator=torch.Generator().manual_seed(0)
        ):
            pass

    ours_t, ref_t, ratio = alternate(lambda: median_time(monitored, 1, 1), lambda: median_time(plain, 1, 1), rounds)
    row(
        f"31. a run of 8 with the exposure monitor vs without (DDIM {config.steps}, η = 1)",
        ours_t,
        ref_t,
        "ms",
        "≤ 1.05×",
        "met" if ratio <= 1.05 else "NOT met",
        ratio=ratio,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--skip-train", action="store_true")
    parser.add_argument("--only", default=None, help="run only the sections whose name contains this")
    parser.add_argument("--model", default=None, help="model folder (default: the bundled emoji model)")
    args = parser.parse_args()

    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    model = load_bench_model(args.model)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, model {model.name} on {model.device}",
        flush=True,
    )
    sections = [
        ("forward scrub", lambda: bench_forward(app, args.quick)),
        ("reverse chain and GUI stalls", lambda: bench_reverse(app, args.quick, model)),
        ("forward slider, whole window", lambda: bench_slider(app, args.quick, model)),
        ("playback", lambda: bench_playback(app, args.quick, model)),
        ("the bound per t", lambda: bench_bound(args.quick, model)),
        ("compared runs", lambda: bench_compare(args.quick, model)),
        ("the ideal denoiser", lambda: bench_ideal(args.quick)),
        ("theory: Gaussian and ELS denoisers", lambda: bench_theory(args.quick, model)),
        ("the 2-D playground", lambda: bench_playground(app, args.quick)),
        ("2-D flow matching and reflow", lambda: bench_toy2d_flow(args.quick)),
        ("2-D guidance against the tilted density", lambda: bench_toy2d_guidance(args.quick)),
        ("2-D memorisation by N", lambda: bench_toy2d_memorisation(args.quick)),
        ("2-D density drawing", lambda: bench_toy2d_density(app, args.quick)),
        ("sampling loop vs diffusers", lambda: bench_vs_diffusers(args.quick, model)),
        ("GIF export", lambda: bench_gif(args.quick)),
        ("photo model step", lambda: bench_photo(args.quick, model)),
        ("analysis views", lambda: bench_analysis(app, args.quick, model)),
        ("sampler lab: mixture", lambda: bench_lab_mixture(args.quick)),
        ("sampler lab: model", lambda: bench_lab_model(args.quick, model)),
        ("sampler loops vs diffusers (no-op network)", lambda: bench_ode_loops(args.quick, model)),
    ]
    if not args.skip_train:
        sections.append(("training throughput", lambda: bench_train(args.quick)))
    if args.only:
        sections = [s for s in sections if args.only in s[0]]
    for i, (name, run) in enumerate(sections, 1):
        print(f"[{i}/{len(sections)}] {name} …", file=sys.stderr, flush=True)
        run()

    ROWS.sort(key=row_order)
    width = max(len(r[0]) for r in ROWS)
    print()
    print(f"{'measurement'.ljust(width)} | {'ours':>12} | {'reference':>12} | {'ratio':>7} | {'goal':<18} | result")
    print("-" * (width + 75))
    for name, ours, ref, unit, ratio, goal, met in ROWS:
        r = "—" if ratio is None else f"{ratio:.2f}×"
        print(f"{name.ljust(width)} | {fmt(ours, unit):>12} | {fmt(ref, unit):>12} | {r:>7} | {goal:<18} | {met}")


if __name__ == "__main__":
    main()
