"""The UNet, model folders (ours and diffusers'), and training: what a user of `train` relies on."""

import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from core.diffusion.schedules import NoiseSchedule
from core.errors import ModelLoadError
from core.models.checkpoint import load_model, save_model
from core.models.unet import UNet, UNetConfig
from core.training.train import TrainConfig, train
from tests.helpers import assert_close_f32

TINY = UNetConfig(base_channels=8, channel_mults=(1, 2), attention_resolutions=(4,), groups=4, image_size=8)


def test_unet_keeps_the_shape_for_any_divisible_square():
    net = UNet(UNetConfig(base_channels=8, channel_mults=(1, 2, 2), attention_resolutions=(8,), groups=4))
    for side in (8, 16, 32):
        x = torch.randn(2, 3, side, side)
        assert net(x, torch.tensor([0, 999])).shape == x.shape
    with pytest.raises(ValueError, match="square"):
        net(torch.randn(1, 3, 8, 6), torch.tensor([1]))


def test_timestep_changes_the_output():
    torch.manual_seed(0)
    net = UNet(TINY)
    for p in net.parameters():  # the zero-initialised output layers would hide the time input
        torch.nn.init.normal_(p, std=0.1)
    x = torch.randn(1, 3, 8, 8)
    assert not torch.allclose(net(x, torch.tensor([1])), net(x, torch.tensor([900])))


def test_model_folder_round_trip(tmp_path):
    net = UNet(TINY)
    schedule = NoiseSchedule.cosine(100)
    save_model(tmp_path / "m", net, schedule, "v", provenance={"steps": 3})
    loaded = load_model(tmp_path / "m", device="cpu")
    assert loaded.prediction == "v" and loaded.image_size == 8 and loaded.channels == 3
    assert torch.equal(loaded.schedule.betas, schedule.betas)
    assert loaded.config["provenance"] == {"steps": 3}
    x, t = torch.randn(1, 3, 8, 8), torch.tensor([5])
    with torch.no_grad():
        assert_close_f32(loaded(x, t), net(x, t))


def _saved(tmp_path):
    folder = tmp_path / "m"
    save_model(folder, UNet(TINY), NoiseSchedule.linear(10), "eps")
    return folder


def test_a_folder_of_pictures_is_offered_as_an_ideal_or_gaussian_model(tmp_path):
    from PIL import Image

    from core.errors import ImageFolderError

    (tmp_path / "photos").mkdir()
    for k in range(3):
        Image.new("RGB", (8, 8), (k, 0, 0)).save(tmp_path / "photos" / f"{k}.png")
    with pytest.raises(ImageFolderError, match="3 pictures, not a model folder.*ideal:.*gaussian:") as caught:
        load_model(tmp_path / "photos")
    assert caught.value.count == 3 and caught.value.folder == str(tmp_path / "photos")


def test_a_folder_that_is_not_a_model_is_refused_with_what_is_missing(tmp_path):
    (tmp_path / "photos").mkdir()
    with pytest.raises(ModelLoadError, match="config.json is missing"):
        load_model(tmp_path / "photos")
    with pytest.raises(ModelLoadError, match="does not exist"):
        load_model(tmp_path / "nowhere")


def test_pickles_are_never_loaded(tmp_path):
    folder = tmp_path / "old"
    folder.mkdir()
    torch.save({"w": torch.zeros(1)}, folder / "model.pt")
    with pytest.raises(ModelLoadError, match="pickle"):
        load_model(folder)
    with pytest.raises(ModelLoadError, match="pickle"):
        load_model(folder / "model.pt")


def test_missing_weights_and_bad_config_fields(tmp_path):
    folder = _saved(tmp_path)
    config = json.loads((folder / "config.json").read_text())
    del config["prediction"]
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelLoadError, match="prediction"):
        load_model(folder)
    config["prediction"] = "score"
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelLoadError, match="wrong field"):
        load_model(folder)
    (folder / "model.safetensors").unlink()
    config["prediction"] = "eps"
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelLoadError, match="lacks its weights"):
        load_model(folder)


def test_mismatched_and_truncated_weights(tmp_path):
    folder = _saved(tmp_path)
    data = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelLoadError, match="damaged or truncated"):
        load_model(folder)
    save_file({"stem.weight": torch.zeros(1)}, str(folder / "model.safetensors"))
    with pytest.raises(ModelLoadError, match="do not match"):
        load_model(folder)


def test_a_diffusers_folder_loads(tmp_path):
    diffusers = pytest.importorskip("diffusers")
    unet = diffusers.UNet2DModel(
        sample_size=8,
        in_channels=3,
        out_channels=3,
        block_out_channels=(8, 16),
        layers_per_block=1,
        norm_num_groups=4,
        down_block_types=("DownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "UpBlock2D"),
    )
    unet.save_pretrained(tmp_path / "ddpm-tiny", safe_serialization=True)
    scheduler = diffusers.DDPMScheduler(num_train_timesteps=100, beta_schedule="linear", prediction_type="v_prediction")
    scheduler.save_pretrained(tmp_path / "ddpm-tiny")
    loaded = load_model(tmp_path / "ddpm-tiny", device="cpu")
    assert loaded.prediction == "v" and loaded.image_size == 8 and loaded.schedule.T == 100
    assert torch.allclose(loaded.schedule.alphas_cumprod.float(), scheduler.alphas_cumprod, atol=1e-6)
    x, t = torch.randn(1, 3, 8, 8), torch.tensor([3])
    with torch.no_grad():
        assert_close_f32(loaded(x, t), unet(x, t).sample)


def _tiny_diffusers_unet(diffusers, width: int):
    return diffusers.UNet2DModel(
        sample_size=8,
        in_channels=3,
        out_channels=3,
        block_out_channels=(width, 2 * width),
        layers_per_block=1,
        norm_num_groups=4,
        down_block_types=("DownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "UpBlock2D"),
    )


def test_diffusers_weights_that_do_not_fit_the_config_are_one_short_line(tmp_path, capfd):
    diffusers = pytest.importorskip("diffusers")
    _tiny_diffusers_unet(diffusers, 8).save_pretrained(tmp_path / "unet", safe_serialization=True)
    wider = tmp_path / "wider"
    _tiny_diffusers_unet(diffusers, 16).save_pretrained(wider, safe_serialization=True)
    (tmp_path / "unet" / "config.json").write_bytes((wider / "config.json").read_bytes())  # config wants 16 wide
    capfd.readouterr()
    with pytest.raises(ModelLoadError) as info:
        load_model(tmp_path / "unet", device="cpu")
    message = str(info.value)
    assert "\n" not in message and len(message) < 200, message
    assert message.startswith("weights do not match config.json: ")
    assert "conv_in.weight is [8,3,3,3], config.json wants [16,3,3,3]" in message and "more" in message
    out, err = capfd.readouterr()
    assert out == "" and err == ""  # no diffusers banner on the user's terminal


def test_truncated_diffusers_weights_are_named(tmp_path):
    diffusers = pytest.importorskip("diffusers")
    folder = tmp_path / "unet"
    _tiny_diffusers_unet(diffusers, 8).save_pretrained(folder, safe_serialization=True)
    weights = next(folder.glob("*.safetensors"))
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(ModelLoadError, match="damaged or truncated") as info:
        load_model(folder, device="cpu")
    assert str(info.value).startswith(str(folder))  # the folder as the user gave it


def test_a_diffusers_unet_without_a_scheduler_loads_with_ddpm_defaults(tmp_path):
    diffusers = pytest.importorskip("diffusers")
    folder = tmp_path / "shared-unet"
    _tiny_diffusers_unet(diffusers, 8).save_pretrained(folder, safe_serialization=True)
    loaded = load_model(folder, device="cpu")
    assert loaded.prediction == "eps" and loaded.schedule.T == 1000
    assert loaded.schedule.name == "linear" and loaded.schedule.params["beta_end"] == pytest.approx(0.02)
    assert len(loaded.notes) == 1 and "no scheduler config" in loaded.notes[0]


def test_a_diffusers_folder_without_the_extra_says_how_to_install(tmp_path, monkeypatch):
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"_class_name": "UNet2DModel"}))
    (folder / "scheduler_config.json").write_text("{}")
    (folder / "diffusion_pytorch_model.safetensors").write_bytes(b"")
    monkeypatch.setitem(__import__("sys").modules, "diffusers", None)
    with pytest.raises(ModelLoadError, match=r"pip install 'diffusion-viz\[diffusers\]'"):
        load_model(folder)


@pytest.fixture
def tiny_folder(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "data"
    folder.mkdir()
    for i in range(12):  # flat colour squares: easy to learn, so the loss must fall quickly
        colour = rng.integers(0, 256, 3)
        Image.fromarray(np.broadcast_to(colour, (8, 8, 3)).astype(np.uint8)).save(folder / f"{i}.png")
    return folder


def _tiny_cfg(data, out, steps):
    return TrainConfig(
        data=str(data),
        out=str(out),
        size=8,
        steps=steps,
        batch_size=16,
        lr=2e-3,
        warmup=1,
        base_channels=8,
        channel_mults=(1, 2),
        attention_resolutions=(4,),
        groups=4,
        checkpoint_every=steps,
        log_every=10,
        num_samples=4,
        schedule="linear",
        T=100,
        prediction="eps",
    )


def test_a_few_training_steps_lower_the_loss(tiny_folder, tmp_path):
    lines = []
    summary = train(_tiny_cfg(tiny_folder, tmp_path / "run", 60), log=lines.append)
    losses = [float(line.split("loss ")[1].split()[0]) for line in lines if line.startswith("step ")]
    assert losses[-1] < 0.6 * losses[0]
    assert summary["steps"] == 60
    assert any("img/s" in line and "ETA" in line for line in lines)
    assert load_model(tmp_path / "run").config["provenance"]["steps"] == 60
    assert (tmp_path / "run" / "samples" / "step_000060.png").is_file()


def test_resume_continues_exactly_where_it_stopped_on_the_same_held_out_split(tiny_folder, tmp_path):
    straight = tmp_path / "straight"
    train(replace(_tiny_cfg(tiny_folder, straight, 20), holdout_seed=4), log=lambda _m: None)
    split = tmp_path / "split"
    train(replace(_tiny_cfg(tiny_folder, split, 10), holdout_seed=4), log=lambda _m: None)
    lines = []
    # Resumed without naming the split: it must keep the one the run began with, or it trains on held-out images.
    train(_tiny_cfg(tiny_folder, split, 20), resume=True, log=lines.append)
    assert any("resumed from step 10" in line for line in lines)
    assert load_model(split).config["provenance"]["holdout_seed"] == 4
    a, b = load_model(straight), load_model(split)
    for (name, pa), pb in zip(a.network.state_dict().items(), b.network.state_dict().values(), strict=True):
        assert torch.allclose(pa, pb, atol=1e-6), name
