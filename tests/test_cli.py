"""The command line, as a script or a user at a terminal runs it."""

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import core.imaging.datasets
from app.cli import SUBCOMMANDS, build_parser, build_window_parser, main
from app.commands import train as train_command
from app.commands.options import option_fields
from core import choices
from core.diffusion import parameterization, posterior, samplers, schedules
from core.diffusion.schedules import NoiseSchedule
from core.models.checkpoint import load_model, save_model
from core.models.unet import UNet, UNetConfig
from core.runs import views
from core.training.config import TrainConfig

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def model_dir(tmp_path):
    torch.manual_seed(0)
    net = UNet(UNetConfig(base_channels=8, channel_mults=(1, 2), attention_resolutions=(4,), groups=4, image_size=8))
    return save_model(
        tmp_path / "tiny",
        net,
        NoiseSchedule.linear(60),
        "eps",
        provenance={"holdout_seed": 0, "holdout_fraction": 0.25},
    )


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "photo.jpg"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (40, 50, 3), dtype=np.uint8)).save(path)
    return path


def _run(*args):
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY")}
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_help_and_version_need_no_display():
    # No display and no offscreen platform: opening a window here would abort the process.
    result = _run("--help")
    assert result.returncode == 0 and "export" in result.stdout and "IMAGE" in result.stdout
    result = _run("--version")
    assert result.returncode == 0 and result.stdout.startswith("diffusion-viz ")
    assert _run("export", "--help").returncode == 0


def test_export_reverse_writes_a_gif(model_dir, photo, tmp_path, capsys):
    out = tmp_path / "run.gif"
    code = main(
        [
            "export",
            str(photo),
            "--out",
            str(out),
            "--mode",
            "reverse",
            "--model",
            str(model_dir),
            "--sampler",
            "ddim",
            "--steps",
            "6",
            "--strength",
            "40",
            "--fps",
            "10",
            "--scale",
            "2",
        ]
    )
    assert code == 0
    with Image.open(out) as gif:
        assert gif.n_frames == 7  # 6 steps and the final sample
        assert gif.size[0] == 8 * 2 * 2 + 6 and gif.size[1] > 8 * 2 + 2 * 16  # a label, then titled columns
        assert gif.info["duration"] == 100
    assert "wrote 7 frames" in capsys.readouterr().out


def test_export_forward_with_a_named_schedule(photo, tmp_path):
    out = tmp_path / "fwd.gif"
    assert (
        main(
            [
                "export",
                str(photo),
                "--out",
                str(out),
                "--mode",
                "forward",
                "--schedule",
                "linear",
                "--stride",
                "250",
                "--no-label",
                "--scale",
                "1",
            ]
        )
        == 0
    )
    with Image.open(out) as gif:
        assert gif.n_frames == 5 and gif.size == (50, 40)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["export", "missing.png", "--out", "{tmp}/a.gif", "--model", "{model}"], "does not exist"),
        (["export", "{photo}", "--out", "{tmp}/no/such/folder/a.gif", "--model", "{model}"], "does not exist"),
        (["export", "{photo}", "--out", "{tmp}/a.gif", "--model", "{tmp}"], "not a model folder"),
        (["export", "{photo}", "--out", "{tmp}/a.gif", "--model", "{model}", "--strength", "999"], "--strength"),
        (["sample", "--out", "{tmp}/g.png", "--model", "{model}", "--eta", "3"], "eta"),
    ],
)
def test_bad_input_gets_one_line_and_a_nonzero_exit(args, message, model_dir, photo, tmp_path, capsys):
    filled = [a.format(tmp=tmp_path, model=model_dir, photo=photo) for a in args]
    assert main(filled) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and err.count("\n") == 0 and "Traceback" not in err
    assert not list(tmp_path.glob("*.gif")) and not list(tmp_path.glob("*.tmp"))


def test_a_folder_that_refuses_writes_gets_one_line(model_dir, tmp_path, monkeypatch, capsys):
    def read_only(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(tmp_path))

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    out = tmp_path / "grid.png"
    assert main(["sample", "--model", str(model_dir), "--out", str(out), "--n", "1", "--steps", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"diffusion-viz: could not write {out}: Permission denied"
    assert not out.exists()


def test_sample_writes_a_grid(model_dir, tmp_path):
    out = tmp_path / "grid.png"
    assert main(["sample", "--model", str(model_dir), "--out", str(out), "--n", "4", "--steps", "5"]) == 0
    with Image.open(out) as grid:
        assert grid.size == ((2 * 8 + 3 * 2) * 4,) * 2


def test_sample_defaults_to_stochastic_ddim_100_and_says_so(model_dir, tmp_path, capsys):
    sample = build_parser().parse_args(["sample", "--out", "g.png"])
    export = build_parser().parse_args(["export", "x.png", "--out", "x.gif"])
    assert (sample.steps, sample.eta) == (100, 1.0) and (export.steps, export.eta) == (50, 0.0)
    assert main(["sample", "--model", str(model_dir), "--out", str(tmp_path / "g.png"), "--n", "1"]) == 0
    T = load_model(model_dir).schedule.T
    assert f"(DDIM {min(100, T)} steps, η = 1, seed 0)" in capsys.readouterr().out


def test_evaluate_prints_bits_per_dim(model_dir, tmp_path, capsys):
    data = tmp_path / "imgs"
    data.mkdir()
    for i in range(8):
        Image.fromarray(np.full((8, 8, 3), i * 30, np.uint8)).save(data / f"{i}.png")
    assert main(["evaluate", "--model", str(model_dir), "--data", str(data), "--stride", "5"]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("held-out bits/dim"))
    assert np.isfinite(float(line.split(":")[1].split()[0]))


def test_train_without_the_emoji_font_says_how_to_install(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(core.imaging.datasets, "EMOJI_FONT_PATHS", (str(tmp_path / "none.ttf"),))
    assert main(["train", "--data", "emoji", "--out", str(tmp_path / "run"), "--steps", "1"]) == 2
    assert "apt-get install fonts-noto-color-emoji" in capsys.readouterr().err


def test_train_under_torchrun_is_data_parallel_and_reports_once(tmp_path):
    # gloo on the CPU runs the same DistributedDataParallel path that NCCL runs on several GPUs.
    data = tmp_path / "data"
    data.mkdir()
    for i in range(12):
        Image.fromarray(np.random.default_rng(i).integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(data / f"{i}.png")
    out = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "app.cli",
        "train",
        "--data",
        str(data),
        "--size",
        "16",
        "--steps",
        "4",
        "--batch-size",
        "4",
        "--base-channels",
        "8",
        "--channel-mults",
        "1,2",
        "--log-every",
        "2",
        "--out",
        str(out),
    ]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.count("done: 4 steps") == 1  # rank 1 trains but stays quiet
    assert "world size 2" in result.stdout
    provenance = load_model(out, device="cpu").config["provenance"]
    assert provenance["hardware"].endswith("× 2, " + os.uname().machine)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
@pytest.mark.parametrize("device", ["cuda", "warp-drive"])
def test_an_unavailable_device_is_one_line_and_exit_2(model_dir, tmp_path, capsys, device):
    code = main(["sample", "--model", str(model_dir), "--device", device, "--out", str(tmp_path / "g.png")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("diffusion-viz: ") and device in err
    assert not (tmp_path / "g.png").exists()


def test_default_exports_are_a_few_seconds_not_the_whole_run(model_dir, photo, tmp_path):
    # 60 DDPM steps: the default stride keeps about 60 frames; a 1000-step run would keep about 60 too.
    out = tmp_path / "ddpm.gif"
    args = ["export", str(photo), "--out", str(out), "--model", str(model_dir), "--sampler", "ddpm"]
    assert main([*args, "--strength", "60"]) == 0
    with Image.open(out) as gif:
        assert gif.n_frames <= 61
    from core.runs.pictures import default_stride

    assert -(-1001 // default_stride(1001)) <= 60 and default_stride(11) == 1
    assert main([*args, "--strength", "60", "--stride", "1"]) == 0  # every frame, one flag away
    with Image.open(out) as gif:
        assert gif.n_frames == 61


def test_export_shows_any_prediction_and_the_truth(model_dir, photo, tmp_path):
    out = tmp_path / "eps.gif"
    base = ["export", str(photo), "--out", str(out), "--model", str(model_dir), "--sampler", "ddim", "--steps", "5"]
    assert main([*base, "--view", "eps", "--content", "all", "--scale", "1", "--no-label"]) == 0
    with Image.open(out) as gif:
        assert gif.size == (3 * 8 + 2 * 6, 8)  # x_t | ε̂ | ε_true


def test_vlb_writes_every_term_and_they_sum_to_the_bound(model_dir, photo, tmp_path, capsys):
    from core.diffusion.vlb import bits_per_dim
    from core.imaging.images import load_image
    from core.runs.chain import model_x0

    out, plot = tmp_path / "terms.csv", tmp_path / "terms.png"
    assert main(["vlb", str(photo), "--model", str(model_dir), "--out", str(out), "--plot", str(plot)]) == 0
    rows = out.read_text().splitlines()
    assert rows[0] == "term,t,bits_per_dim" and len(rows) == 1 + 60 + 1  # L_0 … L_59, then L_T
    assert rows[1].startswith("L_0,1,") and rows[-1].startswith("L_60 (prior),60,")
    total = sum(float(r.split(",")[2]) for r in rows[1:])
    printed = float(capsys.readouterr().out.split("total ")[1].split()[0])
    assert total == pytest.approx(printed, abs=1e-3)
    model = load_model(model_dir)
    x0 = model_x0(model, load_image(photo))
    expected = bits_per_dim(model, model.schedule, x0, prediction="eps", generator=torch.Generator().manual_seed(0))
    assert total == pytest.approx(float(expected["total"][0]), rel=1e-4)  # `evaluate`'s bound at stride 1
    with Image.open(plot) as im:
        assert im.size[0] > 300


def test_vlb_of_a_model_that_takes_no_pictures_is_one_message(tmp_path, photo, capsys):
    torch.manual_seed(0)
    net = UNet(
        UNetConfig(in_channels=4, base_channels=8, channel_mults=(1,), attention_resolutions=(), groups=4, image_size=8)
    )
    folder = save_model(tmp_path / "latent", net, NoiseSchedule.linear(20), "eps")
    assert main(["vlb", str(photo), "--model", str(folder), "--out", str(tmp_path / "t.csv")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "4-channel" in err and not (tmp_path / "t.csv").exists()


def test_export_compare_writes_one_gif_of_labelled_columns(model_dir, photo, tmp_path, capsys):
    out = tmp_path / "cmp.gif"
    args = ["export", str(photo), "--mode", "compare", "--runs", "ddpm:60,ddim:10,ddim:5", "--out", str(out)]
    assert main([*args, "--model", str(model_dir), "--scale", "4"]) == 0
    with Image.open(out) as gif:
        assert gif.size[0] == 3 * 32 + 2 * 6 and gif.size[1] > 32 + 2 * 16  # three titled columns under the label
        assert 30 <= gif.n_frames <= 62
    assert "3 runs from pure noise" in capsys.readouterr().out
    assert main([*args, "--model", str(model_dir), "--runs", "lms:3"]) == 2
    assert main([*args, "--model", str(model_dir), "--runs", "heun:2"]) == 2  # Heun makes 2 calls a step


def test_invert_writes_the_round_trip_and_prints_its_psnr(model_dir, photo, tmp_path, capsys):
    out = tmp_path / "inv.gif"
    assert (
        main(["invert", str(photo), "--model", str(model_dir), "--steps", "6", "--out", str(out), "--scale", "2"]) == 0
    )
    printed = capsys.readouterr().out
    assert "η = 0" in printed and "PSNR" in printed
    float(printed.split("PSNR ")[1].split()[0])
    with Image.open(out) as gif:
        assert gif.n_frames >= 11  # up 6 steps, down 6 (identical held frames merge)


def test_playground_trains_samples_writes_a_gif_and_prints_both_distances(tmp_path, capsys):
    out = tmp_path / "run.gif"
    assert main(["playground", "--data", "moons", "--sampler", "ddim", "--steps", "20", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    samples = float(printed.split("samples to data: ")[1].split(";")[0])
    floor = float(printed.split("draws of the data: ")[1].split(";")[0])
    assert samples < 0.3 and floor < 0.3  # an untrained model lands hundreds of units away (tests/test_toy2d.py)
    with Image.open(out) as gif:
        assert gif.n_frames >= 10
    assert main(["playground", "--data", "nonsense", "--out", str(out)]) == 2


def test_any_command_takes_an_ideal_model_of_a_picture_folder(tmp_path, capsys):
    folder = tmp_path / "pictures"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    (folder / "broken.png").write_text("not a picture")
    out = tmp_path / "g.png"
    assert (
        main(["sample", "--model", f"ideal:{folder}", "--size", "12", "--n", "4", "--steps", "5", "--out", str(out)])
        == 0
    )
    captured = capsys.readouterr()
    assert "broken.png" in captured.err and captured.err.count("broken.png") == 1  # listed once
    with Image.open(out) as grid:
        assert grid.size[0] >= 2 * 12


def test_sample_runs_a_fully_convolutional_model_at_the_size_asked_and_others_at_their_own(model_dir, tmp_path, capsys):
    torch.manual_seed(0)
    net = UNet(UNetConfig(base_channels=8, channel_mults=(1, 2), attention_resolutions=(), groups=4, image_size=8))
    conv = save_model(tmp_path / "conv", net, NoiseSchedule.linear(60), "eps")
    assert (
        main(["sample", "--model", str(conv), "--size", "24", "--n", "2", "--steps", "3", "--out", f"{tmp_path}/c.png"])
        == 0
    )
    assert (
        main(
            [
                "sample",
                "--model",
                str(model_dir),
                "--size",
                "24",
                "--n",
                "2",
                "--steps",
                "3",
                "--out",
                f"{tmp_path}/a.png",
            ]
        )
        == 0
    )
    err = capsys.readouterr().err
    assert "cannot run at 24 px" in err and "self-attention" in err
    with Image.open(tmp_path / "c.png") as conv_grid, Image.open(tmp_path / "a.png") as attn_grid:
        assert conv_grid.height > 2 * attn_grid.height  # 24-px samples against 8-px ones, same grid layout


def test_export_and_invert_run_a_convolutional_model_at_its_run_size_by_default(tmp_path, photo, capsys):
    """The photo model's config says run_size 128: its GIFs are made at 128 px, not at its 32-px training size."""
    import json

    torch.manual_seed(0)
    net = UNet(UNetConfig(base_channels=8, channel_mults=(1, 2), attention_resolutions=(), groups=4, image_size=8))
    conv = save_model(tmp_path / "conv", net, NoiseSchedule.linear(20), "eps")
    config = json.loads((conv / "config.json").read_text())
    (conv / "config.json").write_text(json.dumps({**config, "run_size": 64}))
    common = ["--model", str(conv), "--scale", "1", "--no-label"]
    out = tmp_path / "rev.gif"
    assert main(["export", str(photo), "--out", str(out), "--content", "xt", "--strength", "5", *common]) == 0
    with Image.open(out) as gif:
        assert gif.size == (64, 64)
    assert main(["invert", str(photo), "--out", str(tmp_path / "inv.gif"), "--steps", "3", *common[:4]]) == 0
    assert "at 64 px" in capsys.readouterr().out


def _subparsers(parser):
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices


def _options(parser) -> dict[str, argparse.Action]:
    return {flag: action for action in parser._actions for flag in action.option_strings}


def test_every_command_is_dispatched_by_its_parser_and_named_in_subcommands():
    commands = _subparsers(build_parser())
    assert set(commands) == set(SUBCOMMANDS)
    for name, parser in commands.items():
        assert callable(parser.get_default("func")), name


def test_the_choices_are_cores_own_names():
    commands = _subparsers(build_parser())
    export, train = _options(commands["export"]), _options(commands["train"])
    assert tuple(export["--sampler"].choices) == choices.SAMPLERS == samplers.SAMPLERS
    assert tuple(export["--variance"].choices) == choices.VARIANCES == posterior.VARIANCES
    assert tuple(export["--view"].choices) == choices.VIEWS == views.VIEWS
    assert tuple(export["--schedule"].choices) == ("model", *schedules.SCHEDULE_NAMES)
    assert tuple(train["--prediction"].choices) == parameterization.PREDICTIONS
    assert tuple(_options(build_window_parser())["--view"].choices) == views.VIEWS


def test_the_playground_choices_are_the_toy_packages_own():
    from app.commands import playground
    from core import toy2d

    options = _options(_subparsers(build_parser())["playground"])
    assert tuple(options["--sampler"].choices) == toy2d.TOY_SAMPLERS
    assert options["--sizes"].default == ",".join(map(str, toy2d.DEFAULT_SIZES)) == playground.MEMORISATION_SIZES
    assert all(name in options["--data"].help for name in toy2d.DATASETS)


def test_help_for_any_command_costs_no_torch_import():
    """``diffusion-viz sample --help`` answers at once: building every command's parser imports neither torch nor
    numpy (each takes a second or more to import on a cold machine)."""
    code = (
        "import sys; from app.cli import build_parser, build_window_parser; build_parser(); build_window_parser(); "
        "print(sorted(m for m in ('torch', 'numpy', 'PySide6') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_train_options_are_train_configs_fields_with_its_defaults():
    args = build_parser().parse_args(["train", "--out", "somewhere"])
    assert args.func is train_command.run
    config = TrainConfig(**{f.name: getattr(args, f.name) for f in option_fields(TrainConfig)})
    assert config == TrainConfig(out="somewhere")  # no default repeated in the CLI, so none can drift
    assert {"warmup", "ema_decay", "extra"}.isdisjoint(vars(args))  # internal fields are no options
    args = build_parser().parse_args(
        ["train", "--out", "o", "--channel-mults", "1,2", "--attention-resolutions", "none", "--balance"]
    )
    assert (args.channel_mults, args.attention_resolutions, args.balance) == ((1, 2), (), True)
    help_text = _subparsers(build_parser())["train"].format_help()
    assert "(default: 1,2,2,2)" in help_text and "(default: cosine)" in help_text and "--resume" in help_text


@pytest.mark.parametrize(
    "args",
    [
        ["train", "--out", "o", "--prediction", "score"],
        ["train", "--out", "o", "--channel-mults", "1,x"],
        ["train", "--out", "o", "--steps", "0"],
        ["train"],
        ["sample", "--out", "g.png", "--sampler", "lms"],
        ["sample", "--out", "g.png", "--spacing", "uniform"],
    ],
)
def test_an_argparse_error_in_any_command_is_one_line_and_exit_2(args, capsys):
    with pytest.raises(SystemExit) as info:
        main(args)
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.count("\n") == 1 and "Traceback" not in err


def test_every_option_the_readme_shows_exists_on_its_command():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("## Command line", 1)[1].split("```text", 1)[1].split("```", 1)[0]
    commands, window = _subparsers(build_parser()), build_window_parser()
    parser, seen = None, 0
    for line in block.splitlines():
        if line.startswith("diffusion-viz "):
            word = line.split()[1]
            parser = commands[word] if word in commands else window
        for flag in re.findall(r"(?<![\w-])--[a-z][a-z-]*", line):
            assert flag in _options(parser), f"{flag} in the README's line {line.strip()!r}"
            seen += 1
    assert seen > 40


def test_export_says_when_the_image_lies_far_outside_the_models_data_and_which_model_fits(model_dir, photo, capsys):
    """The window's domain line, in the CLI's words: a photo under an emoji model is told, with the --model to use."""
    import json

    out = photo.parent / "rev.gif"
    common = ["export", str(photo), "--out", str(out), "--model", str(model_dir), "--sampler", "ddim", "--steps", "2"]
    assert main(common) == 0
    assert "trained on" not in capsys.readouterr().err  # no held-out figure in its card: nothing to compare with
    (model_dir / "evaluation.json").write_text(json.dumps({"bpd": 0.01, "domain": "emoji"}))
    assert main(common) == 0
    err = capsys.readouterr().err
    assert "was trained on emoji" in err and "bits/dim against 0.0" in err
    assert "--model " in err and str(Path("assets") / "models" / "photo") in err  # the bundled photo model
