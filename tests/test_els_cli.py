"""``diffusion-viz theory``: r² CSV and plot, calibration beside the model, and its one-line refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from app.cli import main
from core.diffusion.schedules import NoiseSchedule
from core.models.checkpoint import save_model
from core.models.gaussian import GaussianSpectrum
from core.models.unet import UNet, UNetConfig


@pytest.fixture
def data(tmp_path):
    folder = tmp_path / "pictures"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(6):
        Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(folder / f"p{i}.png")
    return folder


@pytest.fixture
def tiny(tmp_path, data):
    net = UNet(UNetConfig(base_channels=8, channel_mults=(1, 2), attention_resolutions=(), groups=4, image_size=8))
    return save_model(tmp_path / "tiny", net, NoiseSchedule.cosine(50), "eps", provenance={"data": str(data)})


def test_theory_writes_r2_per_t_and_of_final_samples(tiny, tmp_path, capsys):
    out, plot = tmp_path / "r2.csv", tmp_path / "r2.png"
    assert (
        main(["theory", "--model", str(tiny), "--n", "2", "--steps", "3", "--out", str(out), "--plot", str(plot)]) == 0
    )
    lines = out.read_text().splitlines()
    assert lines[0] == "kind,t,alphas_cumprod,r2_ideal,r2_gaussian,r2_els"
    assert [line.split(",")[0] for line in lines[1:]] == ["x0_hat"] * 3 + ["final_sample"]
    assert all(float(v) <= 1.0 for line in lines[1:] for v in line.split(",")[3:])
    with Image.open(plot) as image:
        assert image.size[0] > 100
    assert "final samples from the same x_T, els vs network: median r²" in capsys.readouterr().out


def test_calibration_lands_beside_the_model_and_is_used(tiny, capsys):
    assert main(["theory", "--calibrate", "--model", str(tiny), "--n", "2"]) == 0
    table = json.loads((tiny / "theory.json").read_text())
    assert table["model"] == "tiny" and len(table["patch_sizes"]) == 10
    assert all(p <= 15 for p in table["patch_sizes"])  # at most what 8² images can hold
    capsys.readouterr()
    assert main(["theory", "--model", str(tiny), "--n", "1", "--steps", "2"]) == 0
    assert "no P(t) calibration" not in capsys.readouterr().err


def _one_line_error(capsys, args, needle):
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and needle in err, err


def test_bad_input_is_one_line(tiny, tmp_path, capsys):
    (tiny / "theory.json").write_text(
        json.dumps({"format": "diffusion-viz patch sizes", "model": "other", "indices": [0], "patch_sizes": [3]})
    )
    _one_line_error(capsys, ["theory", "--model", str(tiny), "--n", "1"], "recalibrate")
    (tiny / "theory.json").write_text(
        json.dumps({"format": "diffusion-viz patch sizes", "model": "tiny", "indices": [0], "patch_sizes": [21]})
    )
    _one_line_error(capsys, ["theory", "--model", str(tiny), "--n", "1"], "does not fit")
    (tiny / "theory.json").unlink()
    config = json.loads((tiny / "config.json").read_text())
    config["provenance"] = {"data": "/no/such/pictures"}
    (tiny / "config.json").write_text(json.dumps(config))
    _one_line_error(capsys, ["theory", "--model", str(tiny), "--n", "1"], "pass --data")


def test_fit_spectrum_writes_the_file_gaussian_photos_reads(data, tmp_path, capsys):
    out = tmp_path / "spectrum.npz"
    assert main(["theory", "--fit-spectrum", str(data), "--size", "8", "--out", str(out)]) == 0
    assert GaussianSpectrum.load(out).n_images == 6
