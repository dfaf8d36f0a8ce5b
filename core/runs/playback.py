"""Paced playback of a recorded run: which frame the display shows, and when.

Inference runs ahead as fast as it can into the run's record; the display walks through the
recorded frames at the user's pace. No Qt here: the panel calls :meth:`Playback.tick` from its
display timer with the number of frames recorded so far, and tests drive it with a fake clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable

# A whole run plays in about this long at speed 1×, whatever its number of steps.
RUN_SECONDS = 8.0
MIN_FPS, MAX_FPS = 1.0, 240.0
SPEEDS = {"¼×": 0.25, "½×": 0.5, "1× (8 s a run)": 1.0, "2×": 2.0, "4×": 4.0, "as computed": None}
DEFAULT_SPEED = "1× (8 s a run)"


def frames_per_second(total_frames: int, speed: float) -> float:
    """The pace that plays ``total_frames`` in RUN_SECONDS / speed (10-step and 1000-step runs both watchable)."""
    return min(max(total_frames / RUN_SECONDS * speed, MIN_FPS), MAX_FPS)


class Playback:
    """A play head over a growing list of frames.

    ``position`` is the index of the frame on show. While playing, it advances by elapsed time × fps,
    at most one frame per tick when the display keeps up with the pace (no frame is skipped), and
    never past the newest recorded frame (it waits there for inference). ``speed=None`` follows the
    newest frame as it is computed.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.total_frames = 0
        self.speed: float | None = 1.0
        self.playing = False
        self.position = 0
        self._carry = 0.0  # fractional frames owed since the last advance
        self._last = clock()

    def reset(self, total_frames: int, playing: bool) -> None:
        """A new run of ``total_frames`` frames; the head goes to its first frame."""
        self.total_frames, self.playing, self.position, self._carry = total_frames, playing, 0, 0.0
        self._last = self.clock()

    @property
    def fps(self) -> float | None:
        return None if self.speed is None else frames_per_second(self.total_frames, self.speed)

    def play(self) -> None:
        if self.total_frames and self.position >= self.total_frames - 1:
            self.position = 0  # Play at the end replays the run
        self.playing, self._carry, self._last = True, 0.0, self.clock()

    def pause(self) -> None:
        self.playing = False

    def seek(self, index: int, available: int) -> int:
        """Jump to a recorded frame (clamped); playback keeps its play/pause state."""
        self.position = max(0, min(int(index), available - 1)) if available else 0
        self._carry, self._last = 0.0, self.clock()
        return self.position

    def tick(self, available: int, complete: bool = False) -> int:
        """Advance for the time since the last tick; returns the frame index to show.

        ``complete``: no more frames will come (the run ended, was stopped or failed, or was thinned), so
        reaching the newest frame ends playback even when fewer than ``total_frames`` were recorded.
        """
        now = self.clock()
        elapsed, self._last = now - self._last, now
        if not self.playing or available == 0:
            return self.position
        if self.speed is None:
            self.position = available - 1
        else:
            self._carry += elapsed * self.fps
            step = int(self._carry)
            if step:
                target = min(self.position + step, available - 1)
                # Caught up with the newest frame: what was owed is dropped (never a burst when frames
                # arrive), and the pace starts again from here.
                self._carry = 0.0 if target == available - 1 else self._carry - step
                self.position = target
        if self.position >= available - 1 and (complete or available >= self.total_frames):
            self.playing = False  # the end of the run
        return self.position
