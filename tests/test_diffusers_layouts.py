"""The exact layouts and keys of the public DDPM photo models load (#20, item 6).

google/ddpm-cifar10-32 and google/ddpm-{cat,church,bedroom,celebahq}-256 are pipeline folders
(model_index.json, unet/, scheduler/) whose UNet config uses the original DDPM options
(downsample_padding 0, freq_shift 1, flip_sin_to_cos false, norm_eps 1e-6) and whose first scheduler
configs used legacy keys. Each test writes a tiny random model in that exact layout.
"""

import json

import pytest
import torch

from core.diffusion.schedules import NoiseSchedule
from core.errors import ModelLoadError
from core.models.checkpoint import load_model
from core.models.diffusers_import import schedule_from_scheduler_config
from tests.helpers import assert_close_f32

diffusers = pytest.importorskip("diffusers")

MODERN = {
    "_class_name": "DDPMScheduler",
    "_diffusers_version": "0.1.1",
    "beta_end": 0.02,
    "beta_schedule": "linear",
    "beta_start": 0.0001,
    "clip_sample": True,
    "num_train_timesteps": 1000,
    "trained_betas": None,
    "variance_type": "fixed_small",
}
LEGACY = {
    "_class_name": "GaussianDDPMScheduler",
    "_diffusers_version": "0.0.1",
    "beta_end": 0.02,
    "beta_schedule": "linear",
    "beta_start": 0.0001,
    "clip_sample": True,
    "timestep_values": None,
    "timesteps": 1000,
    "trained_betas": None,
    "variance_type": "fixed_large",
}


def _ddpm_style_unet():
    return diffusers.UNet2DModel(
        sample_size=8,
        in_channels=3,
        out_channels=3,
        block_out_channels=(8, 16),
        layers_per_block=1,
        norm_num_groups=4,
        norm_eps=1e-6,
        downsample_padding=0,
        flip_sin_to_cos=False,
        freq_shift=1,
        down_block_types=("DownBlock2D", "AttnDownBlock2D"),
        up_block_types=("AttnUpBlock2D", "UpBlock2D"),
    )


def _pipeline(folder, scheduler_config, unet=None, pipeline_class="DDPMPipeline", unet_class="UNet2DModel"):
    unet = unet or _ddpm_style_unet()
    unet.save_pretrained(folder / "unet", safe_serialization=True)
    (folder / "scheduler").mkdir()
    (folder / "scheduler" / "scheduler_config.json").write_text(json.dumps(scheduler_config))
    index = {
        "_class_name": pipeline_class,
        "scheduler": ["diffusers", "DDPMScheduler"],
        "unet": ["diffusers", unet_class],
    }
    (folder / "model_index.json").write_text(json.dumps(index))
    return unet


def test_a_pipeline_folder_in_the_google_ddpm_layout_loads_and_computes_the_same(tmp_path):
    unet = _pipeline(tmp_path, MODERN)
    model = load_model(tmp_path, device="cpu")
    assert model.prediction == "eps" and model.image_size == 8 and model.schedule.T == 1000
    torch.testing.assert_close(model.schedule.alphas_cumprod, NoiseSchedule.linear(1000).alphas_cumprod)
    x, t = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(0)), torch.tensor([5, 900])
    with torch.no_grad():
        assert_close_f32(model(x, t), unet(x, t).sample)
    assert model.config["default_variance"] == "fixed_small" and model.config["default_clip_x0"] is True


def test_legacy_scheduler_keys_give_the_same_schedule_as_their_modern_spelling():
    legacy = schedule_from_scheduler_config(LEGACY)
    modern = schedule_from_scheduler_config(MODERN)
    assert legacy.T == modern.T == 1000
    torch.testing.assert_close(legacy.betas, modern.betas)


def test_a_legacy_pipeline_loads_with_its_variance_as_the_default(tmp_path):
    _pipeline(tmp_path, LEGACY)
    model = load_model(tmp_path, device="cpu")
    assert model.schedule.T == 1000 and model.config["default_variance"] == "fixed_large"
    assert any("fixed_large" in note for note in model.notes)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"_class_name": "KarrasVeScheduler"}, "KarrasVeScheduler"),
        ({"variance_type": "learned_range"}, "learned"),
    ],
)
def test_schedulers_this_program_cannot_follow_are_one_line(tmp_path, change, message):
    _pipeline(tmp_path, {**MODERN, **change})
    with pytest.raises(ModelLoadError, match=message):
        load_model(tmp_path, device="cpu")


def test_a_pipeline_whose_network_is_not_a_unet2d_is_one_line(tmp_path):
    _pipeline(tmp_path, MODERN, unet_class="UNet2DConditionModel")
    with pytest.raises(ModelLoadError, match="UNet2DConditionModel"):
        load_model(tmp_path, device="cpu")


def test_pickle_weights_only_are_refused_with_the_way_out(tmp_path):
    _pipeline(tmp_path, MODERN)
    weights = next((tmp_path / "unet").glob("*.safetensors"))
    weights.rename(weights.with_suffix(".bin"))
    with pytest.raises(ModelLoadError, match=r"\.bin.*never loaded"):
        load_model(tmp_path, device="cpu")
