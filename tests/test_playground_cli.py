"""``diffusion-viz playground`` with flow matching, guidance and memorisation (#24), and its bad input."""

import csv

import pytest
from PIL import Image

from app.cli import main
from assets import SAMPLE_IMAGE


def test_flow_matching_writes_a_gif_and_prints_straightness(tmp_path, capsys):
    out = tmp_path / "fm.gif"
    assert main(["playground", "--data", "8gaussians", "--objective", "fm", "--steps", "10", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "flow matching" in printed and "straightness (Liu et al. 2023" in printed
    assert float(printed.split("samples to data: ")[1].split(";")[0]) < 0.3
    with Image.open(out) as gif:
        assert gif.size == (400, 400) and gif.n_frames >= 10


def test_guidance_samples_one_class(tmp_path, capsys):
    out = tmp_path / "cfg.gif"
    args = ["playground", "--data", "mixture", "--guidance", "2", "--label", "2", "--sampler", "ddim"]
    assert main([*args, "--steps", "20", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "class 2 guided with w = 2" in printed
    assert float(printed.split("samples to data: ")[1].split(";")[0]) < 0.3  # to class 2's points
    assert out.stat().st_size > 0


def test_memorisation_writes_the_curve_as_csv(tmp_path, capsys):
    out = tmp_path / "memo.csv"
    assert main(["playground", "--memorisation", "--sizes", "4", "--out", str(out)]) == 0
    with out.open() as f:
        rows = list(csv.DictReader(f))
    assert [int(r["n"]) for r in rows] == [4]
    assert float(rows[0]["copy_ratio"]) < 0.1  # four points are copied
    assert float(rows[0]["data_ratio"]) > 5  # and the two halves copy different ones
    printed = capsys.readouterr().out
    assert "copy ratio ρ =" in printed and "the data set stops mattering" in printed and "wrote" in printed


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--guidance", "2", "--data", "spiral"], "spiral has no classes"),
        (["--guidance", "2", "--data", "moons", "--label", "2"], "moons has 2 classes"),
        (["--guidance", "11"], "0…10"),
        (["--objective", "fm", "--sampler", "ddpm"], "ddpm needs a diffusion model"),
        (["--sampler", "euler"], "euler integrates a flow-matching model"),
        (["--reflow"], "--reflow straightens a flow"),
        (["--guidance", "1", "--interval", "0.8,0.2"], "0 ≤ A ≤ B ≤ 1"),
        (["--guidance", "2", "--data", str(SAMPLE_IMAGE)], "--guidance needs labelled data"),
        (["--memorisation", "--sizes", "6000"], "4…5000"),
        (["--memorisation", "--sizes", "2,64"], "4…5000"),
        (["--memorisation", "--sizes", "4,many"], "expected N,N"),
        (["--memorisation", "--data", str(SAMPLE_IMAGE)], "takes a named data set"),
    ],
)
def test_bad_playground_input_is_one_line_and_exit_code_2(args, words, tmp_path, capsys):
    out = tmp_path / "x.gif"
    assert main(["playground", *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err, err
    assert not out.exists()
