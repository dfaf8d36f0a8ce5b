"""What an installed diffusion-viz carries: a wheel holds the bundled model and the sample image."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    pytest.importorskip("setuptools")
    out = tmp_path_factory.mktemp("wheel")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--quiet",
            "-w",
            str(out),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    (found,) = out.glob("diffusion_viz-*.whl")
    return found


def test_the_wheel_carries_the_model_and_the_sample_image(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "assets/__init__.py",
        "assets/sample.png",
        "assets/models/emoji32/config.json",
        "assets/models/emoji32/model.safetensors",
        "core/diffusion/samplers.py",
        "app/panels/reverse.py",
    ):
        assert needed in names, needed
    assert any(n.endswith(".dist-info/licenses/NOTICE") for n in names)


def test_the_installed_package_finds_its_model_from_another_folder(wheel, tmp_path):
    # Unpacked as pip would install it, imported from a folder that is not the checkout.
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from core.models.checkpoint import BUNDLED_MODEL, load_model;"
        "from assets import SAMPLE_IMAGE;"
        "m = load_model(BUNDLED_MODEL, device='cpu');"
        "print(BUNDLED_MODEL.is_relative_to(sys.argv[1]), SAMPLE_IMAGE.is_file(), m.image_size)"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-c", code, str(site)], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["True", "True", "32"]
