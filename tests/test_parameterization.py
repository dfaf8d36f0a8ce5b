import pytest
import torch

from core.diffusion.forward import q_sample
from core.diffusion.parameterization import (
    eps_from_score,
    eps_from_v,
    eps_from_x0,
    score_from_eps,
    target_from_x0_eps,
    v_from_x0_eps,
    x0_eps_from_output,
    x0_from_eps,
    x0_from_v,
)
from core.diffusion.schedules import NoiseSchedule


@pytest.fixture
def batch(gen):
    s = NoiseSchedule.cosine(1000)
    x0 = torch.rand(4, 3, 5, 5, generator=gen, dtype=torch.float64) * 2 - 1
    eps = torch.randn(x0.shape, generator=gen, dtype=torch.float64)
    t = torch.tensor([0, 1, 500, 998])
    return s, x0, eps, t, q_sample(s, x0, t, eps)


def test_eps_x0_round_trip_is_exact(batch):
    s, x0, eps, t, xt = batch
    assert torch.allclose(x0_from_eps(s, xt, t, eps), x0, atol=1e-12, rtol=0)
    assert torch.allclose(eps_from_x0(s, xt, t, x0), eps, atol=1e-9, rtol=0)


def test_v_round_trips_are_exact(batch):
    s, x0, eps, t, xt = batch
    v = v_from_x0_eps(s, x0, t, eps)
    assert torch.allclose(x0_from_v(s, xt, t, v), x0, atol=1e-12, rtol=0)
    assert torch.allclose(eps_from_v(s, xt, t, v), eps, atol=1e-12, rtol=0)


def test_score_round_trip(batch):
    s, x0, eps, t, xt = batch
    score = score_from_eps(s, xt, t, eps)
    assert torch.allclose(eps_from_score(s, xt, t, score), eps, atol=1e-12, rtol=0)
    # The score of q(x_t|x_0) = N(√ᾱ x_0, 1−ᾱ) is −(x_t − √ᾱ x_0)/(1−ᾱ).
    abar = s.alphas_cumprod[t].reshape(-1, 1, 1, 1)
    assert torch.allclose(score, -(xt - abar.sqrt() * x0) / (1 - abar), atol=1e-9)


@pytest.mark.parametrize("prediction", ["eps", "x0", "v"])
def test_every_prediction_reduces_to_the_same_pair(batch, prediction):
    s, x0, eps, t, xt = batch
    out = target_from_x0_eps(s, x0, t, eps, prediction)
    x0_hat, eps_hat = x0_eps_from_output(s, xt, t, out, prediction)
    assert torch.allclose(x0_hat, x0, atol=1e-9) and torch.allclose(eps_hat, eps, atol=1e-9)


def test_unknown_prediction_is_refused(batch):
    s, x0, eps, t, xt = batch
    with pytest.raises(ValueError, match="unknown prediction"):
        x0_eps_from_output(s, xt, t, eps, "score")
