"""``diffusion-viz train``: its options are :class:`~core.training.train.TrainConfig`'s fields (and ``--resume``)."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from app.commands.options import add_dataclass_options, option_fields
from app.commands.running import advance, progress_bar
from core.training.config import TrainConfig


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "train",
        help="train a model on emoji or a folder of images",
        description="Train a UNet with the simple DDPM loss; the output folder is a model folder.",
    )
    add_dataclass_options(p, TrainConfig)
    p.add_argument("--resume", action="store_true", help="continue from the training state in --out")
    return p


def run(args) -> int:
    from core.training.train import train

    cfg = TrainConfig(**{f.name: getattr(args, f.name) for f in option_fields(TrainConfig)})
    with progress_bar(cfg.steps, "training steps") as bar:

        def log(message: str) -> None:
            step = re.match(r"step (\d+)/(\d+)", message)
            if step:
                advance(bar, int(step[1]), int(step[2]))
            bar.write(message, file=sys.stdout)

        summary = train(cfg, resume=args.resume, log=log)
    if not summary["main_process"]:
        return 0
    print(
        f"done: {summary['steps']} steps in {summary['seconds']:.0f} s, final loss {summary['final_loss']:.4f}, "
        f"model in {Path(cfg.out)}"
    )
    return 0
