"""The training levers of #14: warm start, skin-tone balance, cosine learning rate, min-SNR weighting."""

import numpy as np
import pytest
import torch
from PIL import Image

from core.diffusion.schedules import NoiseSchedule
from core.models.checkpoint import load_model
from core.training.data import group_weights
from core.training.evaluate import heldout_neighbour_distances, nearest_training
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


# A net and a data set small enough to train in a second.
TINY = dict(size=8, base_channels=8, channel_mults=(1, 2), attention_resolutions=(), groups=4)


def _noise_pictures(folder, n: int) -> str:
    rng = np.random.default_rng(0)
    folder.mkdir()
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    return str(folder)


def test_a_warm_start_begins_from_the_given_weights_and_keeps_their_held_out_split(tmp_path):
    small = dict(
        data=_noise_pictures(tmp_path / "data", 6),
        **TINY,
        batch_size=4,
        checkpoint_every=10**6,
        num_samples=2,
        log_every=1,
    )
    train(TrainConfig(out=str(tmp_path / "a"), steps=3, holdout_seed=4, **small), log=lambda _m: None)
    first = load_model(tmp_path / "a")
    train(
        TrainConfig(out=str(tmp_path / "b"), steps=1, lr=1e-12, seed=3, init=str(tmp_path / "a"), **small),
        log=lambda _m: None,
    )
    second = load_model(tmp_path / "b")
    for (name, a), (_, b) in zip(first.network.state_dict().items(), second.network.state_dict().items(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5, msg=name)
    assert second.config["provenance"]["init"] == str(tmp_path / "a")
    # Both stages are on record: the warm start's own steps and split travel with the fine-tuned model.
    stage_one = second.config["provenance"]["init_provenance"]
    assert (stage_one["steps"], stage_one["holdout_seed"]) == (3, 4)
    # Fine-tuned in place (--init b --out b), checkpointing every step: the record gains one stage, not one per
    # checkpoint.
    train(TrainConfig(out=str(tmp_path / "b"), steps=2, init=str(tmp_path / "b"), **{**small, "checkpoint_every": 1}))
    stages = []
    prov = load_model(tmp_path / "b").config["provenance"]
    while prov:
        stages.append(prov["steps"])
        prov = prov.get("init_provenance")
    assert stages == [2, 1, 3]
    # A new seed for the batches and noise, but the same held-out images: the warm start never trains on them.
    assert (second.config["provenance"]["seed"], second.config["provenance"]["holdout_seed"]) == (3, 4)


def test_every_checkpoint_records_the_code_that_started_the_run(tmp_path, monkeypatch):
    """A checkout that moves on while a long run trains must not be written down as the code that trained it."""
    import core.training.train as train_module

    versions = iter(f"0.1.0+commit{k}" for k in range(100))
    monkeypatch.setattr(train_module, "_git_version", lambda: next(versions))
    seen, seconds = [], []
    cfg = TrainConfig(
        data=_noise_pictures(tmp_path / "data", 4),
        out=str(tmp_path / "m"),
        **TINY,
        batch_size=2,
        steps=3,
        checkpoint_every=1,
        log_every=1,
        num_samples=1,
        holdout=0.25,
    )

    def log(message: str) -> None:
        if message.startswith("checkpoint"):
            prov = load_model(tmp_path / "m").config["provenance"]
            seen.append((prov["code_version"], prov["steps"], prov["final_loss"] > 0))
            seconds.append(prov["seconds"])

    train(cfg, log=log)
    # The per-checkpoint fields move on; the code version stays the one the run started with.
    assert seen == [("0.1.0+commit0", step, True) for step in (1, 2, 3)]
    assert seconds == sorted(seconds) and all(isinstance(s, float) for s in seconds)  # rounded to 0.1 s: may be 0


def test_nearest_training_finds_the_closest_image_and_its_rms_distance():
    rng = np.random.default_rng(0)
    train = rng.integers(0, 256, (50, 8, 8, 3), dtype=np.uint8)
    queries = np.concatenate([train[[7]], np.clip(train[[20]].astype(int) + 10, 0, 255).astype(np.uint8)])
    idx, dist = nearest_training(queries, train)
    brute = np.sqrt(((queries[:, None].astype(float) - train[None].astype(float)) ** 2).mean(axis=(2, 3, 4)))
    np.testing.assert_array_equal(idx, brute.argmin(1))
    np.testing.assert_allclose(dist, brute.min(1), atol=1e-6)
    assert idx[0] == 7 and dist[0] == pytest.approx(0, abs=1e-6)  # a copy of a training image is at 0


def test_the_held_out_yardstick_counts_every_image_and_splits_by_sibling():
    rng = np.random.default_rng(1)
    train = rng.integers(0, 256, (30, 4, 4, 3), dtype=np.uint8)
    near = np.clip(train[:3].astype(int) + 4, 0, 255).astype(np.uint8)  # skin-tone siblings of trained emoji
    new = rng.integers(0, 256, (5, 4, 4, 3), dtype=np.uint8)  # emoji never seen in any tone
    held = np.concatenate([near, new])
    train_groups = [f"g{i}" for i in range(30)]
    stats = heldout_neighbour_distances(held, train, ["g0", "g1", "g2"] + [f"new{i}" for i in range(5)], train_groups)
    assert (stats["with_sibling"], stats["without_sibling"]) == (3, 5)
    assert stats["median_with_sibling"] < 5 < stats["median_without_sibling"]
    _, all_dist = nearest_training(held, train)
    assert stats["median"] == pytest.approx(float(np.median(all_dist)))
