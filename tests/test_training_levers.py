"""The training levers of #14: warm start, skin-tone balance, cosine learning rate, min-SNR weighting."""

import numpy as np
import pytest
import torch
from PIL import Image

from core.diffusion.schedules import NoiseSchedule
from core.models.checkpoint import load_model
from core.training.data import group_weights
from core.training.train import TrainConfig, _learning_rate, _loss_weight, train


def test_group_weights_give_every_group_the_same_total():
    w = group_weights(["a", "a", "a", "b", "c", "c"])
    assert w[:3].sum() == pytest.approx(1) and w[3] == pytest.approx(1) and w[4:].sum() == pytest.approx(1)


def test_the_cosine_learning_rate_decays_to_zero_after_the_warm_up():
    cfg = TrainConfig(lr=1e-3, steps=1000, warmup=100, lr_schedule="cosine")
    assert _learning_rate(cfg, 0) == pytest.approx(1e-5)
    assert _learning_rate(cfg, 500) == pytest.approx(5e-4, rel=0.01)
    assert _learning_rate(cfg, 999) < 1e-7
    assert _learning_rate(TrainConfig(lr=1e-3, warmup=100), 999) == pytest.approx(1e-3)


def test_min_snr_weights_clamp_at_gamma_for_every_target():
    s = NoiseSchedule.cosine(1000)
    t = torch.tensor([0, 500, 999])
    snr = s.snr[t].float()
    for prediction, per_target in (("eps", snr), ("x0", torch.ones(3)), ("v", snr + 1)):
        w = _loss_weight(s, t, TrainConfig(prediction=prediction, min_snr=5.0))
        # in x_0 units every weight is min(SNR, γ): equal weight where SNR > γ, SNR where below
        torch.testing.assert_close(w * per_target, snr.clamp(max=5.0))
    assert _loss_weight(s, t, TrainConfig()) == 1.0


def test_a_warm_start_begins_from_the_given_weights(tmp_path):
    rng = np.random.default_rng(0)
    data = tmp_path / "data"
    data.mkdir()
    for i in range(6):
        Image.fromarray(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)).save(data / f"{i}.png")
    small = dict(
        data=str(data),
        size=8,
        base_channels=8,
        channel_mults=(1, 2),
        attention_resolutions=(),
        groups=4,
        batch_size=4,
        checkpoint_every=10**6,
        num_samples=2,
        log_every=1,
    )
    train(TrainConfig(out=str(tmp_path / "a"), steps=3, **small), log=lambda _m: None)
    first = load_model(tmp_path / "a")
    train(
        TrainConfig(out=str(tmp_path / "b"), steps=1, lr=1e-12, init=str(tmp_path / "a"), **small), log=lambda _m: None
    )
    second = load_model(tmp_path / "b")
    for (name, a), (_, b) in zip(first.network.state_dict().items(), second.network.state_dict().items(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5, msg=name)
    assert second.config["provenance"]["init"] == str(tmp_path / "a")
