"""The ``diffusion-viz`` command: the window by default, else one of the commands in :mod:`app.commands`."""

from __future__ import annotations

import argparse
import difflib
import os
import sys
from pathlib import Path

from app.commands import analyse, evaluate, export, invert, playground, sample, samplers, theory, train, vlb
from core import __version__
from core.choices import VIEWS
from core.errors import DiffusionVizError

# Each command is a module of app.commands with add_parser(sub) and run(args), in --help's order.
COMMANDS = (train, sample, evaluate, export, vlb, invert, playground, theory, analyse, samplers)
SUBCOMMANDS = tuple(command.__name__.rsplit(".", 1)[1] for command in COMMANDS)


class ArgumentParser(argparse.ArgumentParser):
    """argparse, with a usage error as one line (the usage block is one ``--help`` away)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _window_problem(image: str | None) -> str | None:
    """Why the window cannot open (a mistyped command, a missing image, no display), or None."""
    if image is not None and not Path(image).exists():
        if Path(image).suffix == "" and os.sep not in image:
            near = difflib.get_close_matches(image, SUBCOMMANDS, n=1)
            hint = f"did you mean {near[0]}? " if near else ""
            return f"{image!r} is neither a command ({hint}commands: {', '.join(SUBCOMMANDS)}) nor an image file"
        return f"{Path(image).absolute()} does not exist"
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if sys.platform.startswith("linux") and not platform:
        if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
            return (
                "no display to open the window on (DISPLAY is not set); the commands "
                f"({', '.join(SUBCOMMANDS)}) run without one"
            )
        import ctypes.util

        if not os.environ.get("WAYLAND_DISPLAY") and ctypes.util.find_library("xcb-cursor") is None:
            return "Qt needs the library xcb-cursor0 to open a window: sudo apt-get install libxcb-cursor0"
    return None


DESCRIPTION = (
    "See how a denoising diffusion model works: the forward process, the model's reverse chain, the schedules."
)
EPILOG = """commands (each has --help):
  train      train a model on emoji or a folder of images
  sample     write a grid of samples from a model
  evaluate   held-out bits/dim from the variational bound
  export     write a forward scrub or a reverse run as a GIF, without a window
  vlb        the variational bound's terms L_t of one image, as CSV (and a plot)
  invert     DDIM inversion: an image to x_T and back, as a GIF; prints the PSNR
  playground the 2-D playground: train on points, sample, write a GIF, print how close the samples came
  theory     r² of the ideal, Gaussian and ELS denoisers against the network; --calibrate fits P(t)
  analyse    spectrum at t, when each detail is decided, exposure bias, the resolution ladder
  samplers   the sampler lab: Euler, Heun, DPM-Solver++ and DDIM against a reference, error vs NFE as CSV

examples:
  diffusion-viz photo.jpg
  diffusion-viz export photo.jpg --out run.gif --mode reverse --strength 600
  diffusion-viz sample --out grid.png"""


def build_window_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="diffusion-viz",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        usage="diffusion-viz [IMAGE] [--model DIR] [--view x0|eps|v|score]\n       diffusion-viz COMMAND ...",
    )
    parser.add_argument("image", nargs="?", metavar="IMAGE", help="an image to open (default: a sample emoji)")
    parser.add_argument("--model", default=None, help="a model folder (default: the bundled emoji model)")
    parser.add_argument(
        "--view",
        choices=VIEWS,
        default=None,
        help="what the reverse panel's second picture shows first: x̂_0, ε̂, v̂ or the score",
    )
    parser.add_argument("--version", action="version", version=f"diffusion-viz {__version__}")
    parser.add_argument("--quit-after", type=int, default=None, metavar="MS", help=argparse.SUPPRESS)
    return parser


def _register(sub, command) -> None:
    """Add a command module's parser (``command.add_parser(sub)``) and dispatch it to ``command.run``."""
    before = set(sub.choices)
    command.add_parser(sub)
    for name in set(sub.choices) - before:
        sub.choices[name].set_defaults(func=command.run)


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="diffusion-viz", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"diffusion-viz {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        _register(sub, command)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in SUBCOMMANDS:
        args = build_window_parser().parse_args(argv)
        problem = _window_problem(args.image)
        if problem is not None:  # said before Qt is touched: Qt without a display aborts the process
            print(f"diffusion-viz: {problem}", file=sys.stderr)
            return 2
        from app.gui import run

        return run(args.image, args.model, view=args.view, quit_after_ms=args.quit_after)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except DiffusionVizError as exc:
        print(f"diffusion-viz: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a read-only folder, a full disk: the system's words, without a traceback
        where = f": {exc.filename}" if exc.filename else ""
        print(f"diffusion-viz: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("diffusion-viz: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
