"""``diffusion-viz invert``: DDIM inversion, an image to x_T and back, as an animation; prints the PSNR."""

from __future__ import annotations

from pathlib import Path

from app.commands.options import add_animation_args, add_model_args, positive_int
from app.commands.running import load_model, one_step, progress_bar, run_size, say_if_far_outside


def add_parser(sub) -> None:
    p = sub.add_parser("invert", help="DDIM inversion: an image to x_T and back, as a GIF; prints the PSNR")
    p.add_argument("image", metavar="IMAGE", help="the image (centre-cropped and resized to the model's size)")
    add_model_args(p)
    p.add_argument(
        "--steps", type=positive_int, default=50, help="DDIM steps each way, η = 0 always (default: %(default)s)"
    )
    p.add_argument("--out", required=True, help="the animation (.gif, .webp, .mp4): x_0 | x_t up to x_T | back down")
    add_animation_args(p)
    p.add_argument("--scale", type=positive_int, default=None, help="nearest-neighbour scale (default: to ≈256 px)")


def run(args) -> int:
    from core.imaging.export import animation_format, check_target, write_animation
    from core.imaging.images import load_image
    from core.runs.inversion import inversion_frames
    from core.runs.pictures import SLIDE_SIDE, inversion_pictures, scale_for

    animation_format(args.out)
    out = check_target(args.out)
    image = load_image(args.image)
    model = load_model(args)
    size = run_size(model, args)
    say_if_far_outside(model, image, Path(args.image).name)
    print(f"model: {model.name}; DDIM inversion at {size} px with {args.steps} steps each way (η = 0)", flush=True)
    with progress_bar(2 * args.steps + 1, "inversion steps") as bar:
        frames = [f for f in inversion_frames(model, image, args.steps, size=size) if not one_step(bar)]
    scale = args.scale or scale_for(size, SLIDE_SIDE // 2)  # three columns of about 128 px: 384 px in all
    pictures = inversion_pictures(frames, scale)
    write_animation(pictures, out, args.fps, args.hold)
    print(f"reconstruction PSNR {frames[-1].psnr:.2f} dB (x_0 → x_T → x_0); wrote {out}")
    return 0
