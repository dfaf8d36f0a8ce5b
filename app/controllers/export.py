"""Exports for slides: a run session or the forward state in, an animation or PNG frames out.

What is exported is read when asked, on the GUI thread (the session's record, the forward image, the
schedule); the pictures are composed and written on the files worker, or at once with ``wait=True``.
A bad target is one line for the user and no file.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from app.controllers.files import FilesController
from app.state import ViewState
from core.errors import DiffusionVizError
from core.imaging.export import HOLD_S, write_animation, write_pngs
from core.runs.pictures import SLIDE_SIDE, compare_pictures, forward_pictures, reverse_pictures
from core.runs.session import RunSession


class ExportController:
    """Writes what a :class:`~core.runs.session.RunSession` recorded, or the forward scrub of a state.

    ``say(text, error)`` gives the user the outcome in one line.
    """

    def __init__(self, files: FilesController, say: Callable[[str, bool], None]) -> None:
        self.files = files
        self.say = say

    def reverse(
        self,
        session: RunSession,
        view: str,
        target: str | Path,
        *,
        content: str = "both",
        stride: int = 1,
        scale: int = 1,
        label: bool = True,
        **write,
    ) -> bool:
        """The session's reverse run: x_t beside the ``view`` prediction (and the truth with ``content='all'``)."""
        record = session.record

        def pictures():
            return reverse_pictures(
                record.frames.snapshot(),
                record.spec.model.schedule,
                content=content,
                view=view,
                x0=record.x0,
                stride=stride,
                scale=scale,
                label=label,
            )

        return self.write(pictures, target, **write)

    def forward(
        self,
        state: ViewState,
        target: str | Path,
        *,
        stride: int = 1,
        label: bool = True,
        side: int = SLIDE_SIDE,
        **write,
    ) -> bool:
        """The forward scrub of the state's image under its schedule and noise, ``side`` px on the long side."""
        schedule, working, seed = state.schedule, state.working, state.seed
        return self.write(lambda: forward_pictures(schedule, working, seed, stride, 1, label, side), target, **write)

    def comparison(
        self,
        session: RunSession,
        titles: list[str],
        what: str,
        target: str | Path,
        *,
        stride: int = 1,
        scale: int = 4,
        label: bool = True,
        **write,
    ) -> bool:
        """The compared runs as one row of titled columns per tick, showing ``what`` (``'xt'`` or ``'x0'``)."""
        ticks, titles = session.frames(), list(titles)
        return self.write(
            lambda: compare_pictures(ticks, titles, what=what, stride=stride, scale=scale, label=label), target, **write
        )

    def write(
        self,
        make_pictures: Callable[[], list],
        target: str | Path,
        pngs: bool = False,
        fps: float = 20,
        wait: bool = True,
        hold_s: float = HOLD_S,
    ) -> bool:
        """Every export's last step: compose, write as an animation or PNG frames, say what happened.

        ``wait=False`` (the menus) does it on the files worker and reports when done; the return value
        then only says it started.
        """

        def job(_handle=None) -> int:
            pictures = make_pictures()
            if pngs:
                write_pngs(pictures, target)
            else:
                write_animation(pictures, target, fps, hold_s)
            return len(pictures)

        def done(count: int) -> None:
            self.say(f"Exported {count} frames to {target}", False)

        if not wait:
            self.files.submit(f"exporting to {Path(str(target)).name}…", job, done)
            return True
        try:
            count = job()
        except DiffusionVizError as exc:
            self.say(str(exc), True)
            return False
        done(count)
        return True
