"""Exports a teacher would put on a slide: small files, a format from the name, a held result, readable labels."""

import av
import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from app.cli import main
from core.diffusion.schedules import NoiseSchedule
from core.errors import DiffusionVizError
from core.imaging import text
from core.imaging.export import compose, write_animation
from core.models.checkpoint import save_model
from core.models.unet import UNet, UNetConfig
from core.runs.chain import Frame
from core.runs.inversion import InversionFrame
from core.runs.pictures import inversion_pictures, reverse_pictures


@pytest.fixture
def model_dir(tmp_path):
    torch.manual_seed(0)
    net = UNet(UNetConfig(base_channels=8, channel_mults=(1, 2), attention_resolutions=(4,), groups=4, image_size=8))
    return save_model(tmp_path / "tiny", net, NoiseSchedule.linear(60), "eps")


def twelve_megapixel_photo(path):
    """A 4240 × 2832 picture with a photo's mix of smooth sky and busy detail."""
    h, w = 2832, 4240
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    sky = np.stack([80 + 100 * y / h, 110 + 80 * y / h, 170 + 60 * x / w], axis=-1)
    grass = np.random.default_rng(0).integers(0, 90, (h // 8, w // 8, 3)).repeat(8, 0).repeat(8, 1)
    picture = np.where((y > h * 0.6)[..., None], grass + np.array([40, 100, 30]), sky)
    Image.fromarray(np.clip(picture, 0, 255).astype(np.uint8)).save(path, quality=90)
    return path


def frames(n=6, size=(40, 30)):
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8) for _ in range(n)]


def test_the_default_forward_gif_of_a_12_megapixel_photo_fits_a_slide(tmp_path, capsys):
    photo = twelve_megapixel_photo(tmp_path / "big.jpg")
    out = tmp_path / "forward.gif"
    assert main(["export", str(photo), "--mode", "forward", "--schedule", "linear", "--out", str(out)]) == 0
    assert out.stat().st_size <= 8_000_000  # 17.9 MB before: 512 px frames
    with Image.open(out) as gif:
        assert max(gif.size) == 256 and 55 <= gif.n_frames <= 65
    full = tmp_path / "full.gif"
    assert (
        main(
            ["export", str(photo), "--mode", "forward", "--schedule", "linear", "--side", "512"]
            + ["--out", str(full), "--stride", "100"]
        )
        == 0
    )
    with Image.open(full) as gif:
        assert max(gif.size) == 512  # full size: one flag away


@pytest.mark.parametrize("suffix", [".gif", ".webp", ".mp4"])
def test_the_format_follows_the_extension_and_the_last_frame_is_held(tmp_path, suffix):
    out = write_animation(frames(), tmp_path / f"run{suffix}", fps=10, hold_s=1.5)
    if suffix == ".mp4":
        with av.open(str(out)) as video:
            stream = video.streams.video[0]
            decoded = [f.to_ndarray(format="rgb24") for f in video.decode(stream)]
            assert stream.codec_context.name == "h264" and float(stream.average_rate) == pytest.approx(10)
        assert len(decoded) == 6 + 15  # 1.5 s at 10 fps: the last frame repeated
        assert decoded[0].shape[:2] == (30, 40)
        return
    with Image.open(out) as image:
        assert image.format == {".gif": "GIF", ".webp": "WEBP"}[suffix] and image.n_frames == 6
        durations = []
        for i in range(image.n_frames):
            image.seek(i)
            image.load()  # WebP reads a frame's duration with the frame
            durations.append(image.info["duration"])
    assert durations == [100] * 5 + [1600]  # 10 fps, the result held 1.5 s longer


def test_an_unknown_extension_is_one_clear_line_and_writes_nothing(tmp_path, capsys):
    with pytest.raises(DiffusionVizError, match=r"'\.avi' is not an animation format.*\.gif, \.webp or \.mp4"):
        write_animation(frames(), tmp_path / "run.avi")
    assert not list(tmp_path.iterdir())
    code = main(["export", str(tmp_path / "nope.png"), "--out", str(tmp_path / "run.png"), "--mode", "forward"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "'.png' is not an animation format" in err  # before any work


def test_sample_refuses_a_gif_name_instead_of_writing_a_png_into_it(model_dir, tmp_path, capsys):
    code = main(["sample", "--model", str(model_dir), "--out", str(tmp_path / "grid.gif"), "--n", "1"])
    err = capsys.readouterr().err
    assert code == 2 and "end the name in .png" in err and not (tmp_path / "grid.gif").exists()


def test_the_cli_export_defaults_to_the_window_sampler_and_help_says_so(capsys):
    with pytest.raises(SystemExit):
        main(["export", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    assert "default: ddpm" in help_text and "default: 1.5" in help_text and "default: fixed_small" in help_text


def ink_columns(picture, rows):
    """The x positions of dark pixels (text) in ``rows``."""
    return np.nonzero((picture[rows].min(axis=-1) < 128).any(axis=0))[0]


def test_column_titles_stay_inside_their_columns():
    panels = [np.full((32, 64, 3), 200, np.uint8) for _ in range(4)]
    titles = ["DDPM β̃ (emoji32)", "DDIM 50 η=0 (emoji32)", "DDIM 10 η=0 (emoji32)", "DDIM 50 η=1 (emoji32)"]
    picture = compose(panels, titles=titles)
    ink = set(ink_columns(picture, slice(0, picture.shape[0] - 32)))
    for k in range(4):
        assert ink & set(range(k * 70, k * 70 + 64))  # a title over every column …
    for k in range(3):
        assert not ink & set(range(k * 70 + 64, k * 70 + 70))  # … and none runs into the gap after it


def test_labels_are_a_real_font_with_the_hat_on_its_letter():
    assert text.font().size >= 14
    image = Image.new("L", (60, 40), 255)
    text.draw_text(ImageDraw.Draw(image), (10, 0), "x\u0302", 0)  # at the top of its line: the hat must fit
    ink = np.asarray(image) < 128
    rows = np.nonzero(ink.any(axis=1))[0]
    x_cols = np.nonzero(ink[rows[-1] - 3 : rows[-1] + 1].any(axis=0))[0]  # the x's foot
    gap = np.nonzero(~ink[rows[0] : rows[-1] + 1].any(axis=1))[0]
    hat_rows = slice(rows[0], rows[0] + gap[0]) if len(gap) else slice(rows[0], rows[0] + 3)
    hat_cols = np.nonzero(ink[hat_rows].any(axis=0))[0]
    assert len(gap) > 0  # the hat floats above the x, with white between them
    assert x_cols.min() <= hat_cols.mean() <= x_cols.max()  # and over it, not over a neighbour


def fake_frames():
    schedule = NoiseSchedule.linear(10)
    x0 = torch.full((3, 8, 8), 0.6)
    x = torch.randn(3, 8, 8, generator=torch.Generator().manual_seed(0))
    noisy = Frame(n=0, num_steps=1, index=4, x_t=x, x0_hat=x0, eps_hat=x)
    final = Frame(n=1, num_steps=1, index=-1, x_t=x0 - 0.9, x0_hat=x0 - 0.9, eps_hat=None)
    return schedule, [noisy, final], x0


def test_the_last_frame_of_eps_all_shows_the_result_not_grey_boxes():
    schedule, run, x0 = fake_frames()
    pictures = reverse_pictures(run, schedule, content="all", view="eps", x0=x0, label=False)
    last = pictures[-1]
    grey = (np.abs(last.astype(int) - 128) <= 1).all(axis=-1)
    assert not grey.any()  # a zero noise map shown at ±3σ was a uniform grey box
    assert (last == tensor_u8(x0 - 0.9)[0, 0]).all(axis=-1).sum() >= 64  # the sample itself is on show


def tensor_u8(x):
    from core.imaging.scaling import tensor_to_images

    return tensor_to_images(x)


def test_the_inversion_ends_on_three_panels_with_the_decoded_image(tmp_path):
    x0, xT = torch.zeros(3, 8, 8), torch.ones(3, 8, 8)
    run = [
        InversionFrame("invert", 1, 1, 10, xT, x0),
        InversionFrame("decode", 1, 1, 0, x0 - 0.5, x0, x0 - 0.5, 31.0),
    ]
    pictures = inversion_pictures(run, scale=4)
    out = write_animation(pictures, tmp_path / "inv.gif", hold_s=1.5)
    with Image.open(out) as gif:
        gif.seek(gif.n_frames - 1)
        last = np.asarray(gif.convert("RGB"))
    decoded = tensor_u8(x0 - 0.5)[0, 0]
    right = last[-32:, -32:]
    assert (right == decoded).all()  # the decoded panel is there, at the right, on the held last frame
    assert pictures[0].shape[1] == pictures[-1].shape[1]  # every frame has the same three columns
