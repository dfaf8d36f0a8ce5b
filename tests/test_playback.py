"""Paced playback with a fake clock: which frame is on show, and when (no timed tests)."""

import pytest

from core.runs.playback import RUN_SECONDS, Playback, frames_per_second


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_frames_play_in_order_and_none_is_skipped_when_the_display_keeps_up():
    clock = Clock()
    p = Playback(clock)
    p.reset(total_frames=101, playing=True)  # 101 frames at 1× play in RUN_SECONDS → 12.6 frames/s
    shown = []
    while p.playing:
        clock.now += 1 / 60  # a 60 Hz display timer
        shown.append(p.tick(available=101))
    distinct = list(dict.fromkeys(shown))
    assert distinct == list(range(101))  # every frame, in order
    assert clock.now == pytest.approx(RUN_SECONDS, abs=0.1)


def test_a_ten_step_and_a_thousand_step_run_both_last_about_the_same():
    assert 11 / frames_per_second(11, 1.0) == pytest.approx(RUN_SECONDS)
    assert 1001 / frames_per_second(1001, 1.0) == pytest.approx(RUN_SECONDS)
    assert 1001 / frames_per_second(1001, 0.5) == pytest.approx(2 * RUN_SECONDS)


def test_playback_waits_for_inference_and_never_shows_an_unrecorded_frame():
    clock = Clock()
    p = Playback(clock)
    p.reset(total_frames=50, playing=True)
    for _ in range(200):
        clock.now += 1 / 60
        assert p.tick(available=10) <= 9
    assert p.position == 9 and p.playing  # waiting at the newest frame, not stopped
    shown = []
    for _ in range(int(60 / p.fps) + 2):  # one frame's worth of time after two more frames arrive
        clock.now += 1 / 60
        shown.append(p.tick(available=12))
    assert shown[-1] == 10 and set(shown) == {9, 10}  # no burst of banked time when inference catches up


def test_pause_step_and_seek_work_on_the_recorded_frames():
    clock = Clock()
    p = Playback(clock)
    p.reset(total_frames=30, playing=True)
    p.pause()
    clock.now += 5
    assert p.tick(available=30) == 0
    assert p.seek(12, available=20) == 12
    assert p.seek(99, available=20) == 19  # clamped to what is computed
    p.speed = None  # "as computed": follow the newest
    p.play()
    assert p.tick(available=25) == 24


def test_play_at_the_end_replays():
    clock = Clock()
    p = Playback(clock)
    p.reset(total_frames=5, playing=False)
    p.seek(4, available=5)
    p.play()
    assert p.position == 0 and p.playing


def test_a_run_that_ends_short_of_its_estimate_still_stops_playing():
    # Stopped, failed, thinned, or a Langevin run whose levels collapsed: fewer frames than announced.
    clock = Clock()
    p = Playback(clock)
    p.reset(total_frames=201, playing=True)
    for _ in range(2000):
        clock.now += 1 / 60
        p.tick(available=172, complete=True)
    assert p.position == 171 and not p.playing


def test_after_waiting_for_inference_the_pace_starts_again_when_the_next_frame_arrives():
    """The head waited at the newest frame: the next one comes a full frame interval later, never at once."""
    clock = Clock()
    p = Playback(clock)
    p.reset(total_frames=80, playing=True)  # 10 frames/s at 1×
    clock.now += 0.25
    assert p.tick(available=3) == 2  # 2.5 frames were due; only 3 are recorded: it waits at the newest
    clock.now += 0.06
    assert p.tick(available=13) == 2  # 0.6 of a frame since it caught up: not yet
    clock.now += 0.05
    assert p.tick(available=13) == 3


def test_the_pace_stays_between_one_and_240_frames_a_second():
    clock = Clock()
    fast, slow = Playback(clock), Playback(clock)
    fast.reset(total_frames=10_000, playing=True)
    fast.speed = 4.0  # 5 000 frames/s unclamped
    slow.reset(total_frames=2, playing=True)
    slow.speed = 0.25  # one frame every 16 s unclamped
    for _ in range(90):  # 1.5 s of a 60 Hz display
        clock.now += 1 / 60
        fast.tick(available=10_000)
        slow.tick(available=2)
    assert 350 <= fast.position <= 361 and slow.position == 1
