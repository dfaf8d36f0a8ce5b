"""The variational bound: its pieces against closed forms, and an oracle beating a wrong model."""

import math

import pytest
import torch

from core.diffusion.schedules import NoiseSchedule
from core.diffusion.vlb import (
    bits_per_dim,
    discretized_gaussian_log_likelihood,
    normal_kl,
    prior_bpd,
    vlb_terms_bpd,
)
from tests.test_samplers import oracle


def test_normal_kl_closed_forms():
    zero = torch.zeros(1, dtype=torch.float64)
    assert normal_kl(zero, zero, zero, zero).item() == 0.0
    # KL(N(0,1) ‖ N(1,1)) = 1/2; KL(N(0,1) ‖ N(0,e²)) = (−1 + 2 + e^{−2}) / 2.
    assert normal_kl(zero, zero, zero + 1, zero).item() == pytest.approx(0.5)
    assert normal_kl(zero, zero, zero, zero + 2).item() == pytest.approx(0.5 * (1 + math.exp(-2)))


def test_discretized_likelihood_sums_to_one_over_the_256_bins():
    bins = torch.arange(256, dtype=torch.float64) / 127.5 - 1
    for mean, log_scale in [(0.0, -3.0), (0.7, -1.0), (-1.2, -5.0)]:
        logp = discretized_gaussian_log_likelihood(bins, torch.full_like(bins, mean), torch.full_like(bins, log_scale))
        assert logp.exp().sum().item() == pytest.approx(1.0, abs=1e-9)


def test_prior_term_of_the_linear_schedule_is_tiny():
    x0 = torch.linspace(-1, 1, 48, dtype=torch.float64).reshape(1, 3, 4, 4)
    assert 0 < prior_bpd(NoiseSchedule.linear(), x0).item() < 1e-4


def test_oracle_has_lower_bits_per_dim_than_a_wrong_model(gen):
    s = NoiseSchedule.linear(1000)
    x0 = torch.full((1, 3, 4, 4), 100 / 127.5 - 1, dtype=torch.float64)  # a constant 8-bit image
    good = bits_per_dim(oracle(s, x0), s, x0, generator=gen)
    bad = bits_per_dim(lambda x, t: torch.zeros_like(x), s, x0, generator=gen)
    assert good["terms"].shape == (1, 1000)
    assert torch.isfinite(good["total"]).all() and torch.isfinite(bad["total"]).all()
    assert good["total"].item() < bad["total"].item()
    # The oracle's bound is its decoder cost alone: every KL term is 0 and L_T is tiny. With σ² = β̃ at
    # index 1 and a mean on the pixel, L_0 = −log2(Φ(h/σ) − Φ(−h/σ)) with half a bin h = 1/255 (Eq. 13).
    sigma = math.sqrt(s.posterior_variance[1].item())
    cdf = lambda z: 0.5 * (1 + math.erf(z / math.sqrt(2)))  # noqa: E731
    decoder = -math.log2(cdf(1 / 255 / sigma) - cdf(-1 / 255 / sigma))
    assert good["total"].item() == pytest.approx(decoder, rel=1e-6, abs=1e-4)
    assert good["terms"][0, 1:].abs().max().item() < 1e-9


def test_strided_estimate_is_unbiased(gen):
    # An x0-model with a constant wrong answer has KL terms that do not depend on the noise, so the full
    # bound is exact and the only randomness left is the stratified choice of t.
    s = NoiseSchedule.linear(1000)
    x0 = torch.rand(2, 3, 4, 4, generator=gen, dtype=torch.float64) * 2 - 1
    wrong = lambda x, t: 0.5 * torch.ones_like(x)  # noqa: E731
    full = bits_per_dim(wrong, s, x0, prediction="x0", generator=torch.Generator().manual_seed(0))["total"]
    estimates = torch.stack(
        [
            bits_per_dim(wrong, s, x0, prediction="x0", generator=torch.Generator().manual_seed(k), stride=20)["total"]
            for k in range(40)
        ]
    )
    standard_error = estimates.std(0) / len(estimates) ** 0.5
    assert ((estimates.mean(0) - full).abs() < 4 * standard_error + 1e-6).all()
    assert not torch.allclose(estimates[0], estimates[1])  # the strata really are sampled


def test_the_batched_terms_of_one_image_equal_the_term_by_term_bound():
    # The bound per t (the window's plot, the vlb command) is the bound `evaluate` computes at stride 1.
    from core.diffusion.vlb import vlb_terms_batched
    from core.models.unet import UNet, UNetConfig

    torch.manual_seed(0)
    net = UNet(UNetConfig(base_channels=8, channel_mults=(1, 2), attention_resolutions=(), groups=4, image_size=8))
    for p in net.parameters():  # an untrained but non-trivial network
        torch.nn.init.normal_(p, std=0.05)
    net.eval()
    s = NoiseSchedule.cosine(60)
    x0 = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(1)) * 2 - 1
    x0 = (torch.round((x0 + 1) * 127.5) / 127.5 - 1).float()
    batched = vlb_terms_batched(net, s, x0, prediction="v", generator=torch.Generator().manual_seed(5), batch_size=16)
    stepwise = vlb_terms_bpd(net, s, x0, prediction="v", generator=torch.Generator().manual_seed(5))[0]
    assert batched.shape == (60,)
    torch.testing.assert_close(batched, stepwise, rtol=1e-4, atol=1e-5)
    total = bits_per_dim(net, s, x0, prediction="v", generator=torch.Generator().manual_seed(5), stride=1)["total"]
    assert float(batched.sum() + prior_bpd(s, x0)[0]) == pytest.approx(float(total[0]), rel=1e-5)


def test_cancelling_the_batched_bound_returns_nothing():
    from core.diffusion.vlb import vlb_terms_batched

    s = NoiseSchedule.cosine(50)
    calls = []
    result = vlb_terms_batched(
        lambda x, t: torch.zeros_like(x),
        s,
        torch.zeros(1, 1, 2, 2),
        batch_size=10,
        progress=lambda done, total: calls.append(done) or len(calls) < 2,
    )
    assert result is None and calls == [10, 20]


def test_the_prior_term_is_the_kl_at_the_last_step():
    """L_T = KL(N(√ᾱ_T x_0, 1−ᾱ_T) ‖ N(0, 1)) per dimension, by hand; ᾱ_{T−1} is ten times larger here."""
    s = NoiseSchedule.from_betas([0.1, 0.2, 0.5, 0.9])
    x0 = torch.full((1, 1, 2, 2), 0.5, dtype=torch.float64)
    abar = s.abar(s.T - 1)
    kl = 0.5 * (abar * 0.25 + (1 - abar) - 1 - math.log(1 - abar))
    assert prior_bpd(s, x0).item() == pytest.approx(kl / math.log(2))
