"""DDIM inversion (Eq. 12 of Song et al. 2021 run upwards) and the ideal denoiser (the exact posterior mean)."""

import numpy as np
import pytest
import torch
from PIL import Image

from core.diffusion.forward import q_sample
from core.diffusion.parameterization import eps_from_x0, target_from_x0_eps, x0_eps_from_output
from core.diffusion.samplers import (
    InversionStep,
    ddim_inversion_timesteps,
    ddim_invert_loop,
    ddim_invert_step,
    ddim_loop,
    ddim_step,
    ddpm_loop,
    final_step,
    invert_and_reconstruct,
)
from core.diffusion.schedules import NoiseSchedule
from core.errors import DataError, DiffusionVizError, ModelLoadError
from core.imaging import datasets as data
from core.imaging.scaling import images_to_tensor, psnr
from core.models import ideal
from core.models.checkpoint import BUNDLED_MODEL, load_model, read_config
from core.models.ideal import IdealDenoiser, ideal_from_emoji, load_ideal_model
from core.training.data import split_holdout


def oracle_eps(schedule, x_star):
    """An ε-model that knows the data is the single point x_star and returns the true noise."""

    def model(x_t, t):
        abar = schedule.alphas_cumprod[t].to(x_t.dtype).reshape(-1, 1, 1, 1)
        return (x_t - abar.sqrt() * x_star) / (1 - abar).sqrt()

    return model


def rand_images(gen, n, shape=(3, 4, 4), dtype=torch.float64):
    return torch.rand(n, *shape, generator=gen, dtype=dtype) * 2 - 1


# -- DDIM inversion ------------------------------------------------------------------------------


# From the clean image only ε works: ddim_step back to −1 returns an x0-model's output verbatim.
@pytest.mark.parametrize(
    ("prediction", "t", "t_next"),
    [(p, t, n) for p in ("eps", "x0") for t, n in [(0, 1), (19, 39), (500, 999)]] + [("eps", -1, 0), ("eps", -1, 19)],
)
def test_invert_step_then_ddim_step_with_the_same_output_returns_the_input(gen, prediction, t, t_next):
    s = NoiseSchedule.cosine()
    x = torch.randn(2, 3, 4, 4, generator=gen, dtype=torch.float64)
    out = torch.randn(x.shape, generator=gen, dtype=torch.float64)
    x_next = ddim_invert_step(s, x, t, t_next, out, prediction)
    assert not torch.allclose(x_next, x)
    back, _ = ddim_step(s, x_next, t_next, t, out, 0.0, None, prediction)
    torch.testing.assert_close(back, x, rtol=0, atol=1e-10)


def test_invert_step_for_v_keeps_the_x0_eps_pair(gen):
    """A v-output means another (x̂_0, ε̂) at another ᾱ; re-expressed at t_next, ddim_step undoes the step."""
    s = NoiseSchedule.cosine()
    x = torch.randn(2, 3, 4, 4, generator=gen, dtype=torch.float64)
    v = torch.randn(x.shape, generator=gen, dtype=torch.float64)
    t, t_next = 300, 340
    x_next = ddim_invert_step(s, x, t, t_next, v, "v")
    x0_hat, eps_hat = x0_eps_from_output(s, x, t, v, "v")
    v_next = target_from_x0_eps(s, x0_hat, t_next, eps_hat, "v")
    back, x0_back = ddim_step(s, x_next, t_next, t, v_next, 0.0, None, "v")
    torch.testing.assert_close(back, x, rtol=0, atol=1e-10)
    torch.testing.assert_close(x0_back, x0_hat, rtol=0, atol=1e-10)


def test_invert_step_refuses_to_go_down_or_off_the_table():
    s = NoiseSchedule.cosine(50)
    x = torch.zeros(1, 3, 2, 2)
    for t, t_next in [(10, 10), (10, 5), (-1, -1), (-2, 3), (10, 50)]:
        with pytest.raises(ValueError):
            ddim_invert_step(s, x, t, t_next, x)


@pytest.mark.parametrize("spacing", ["trailing", "leading", "linspace"])
@pytest.mark.parametrize("t_end", [None, 600])
def test_inversion_walks_up_exactly_the_indices_ddim_walks_down(gen, spacing, t_end):
    s = NoiseSchedule.cosine()
    x0 = rand_images(gen, 1, (1, 2, 2))
    model = oracle_eps(s, x0)
    up = list(ddim_invert_loop(model, s, x0, num_steps=20, spacing=spacing, t_end=t_end))
    down = list(ddim_loop(model, s, up[-1].x_next, num_steps=20, spacing=spacing, t_start=t_end, clip_x0=False))
    assert all(isinstance(step, InversionStep) for step in up)
    assert [(st.index, st.next_index) for st in up] == [(st.prev_index, st.index) for st in reversed(down)]
    assert up[0].index == -1 and up[0].model_index == up[0].next_index
    assert all(st.model_index == st.index for st in up[1:])
    assert up[-1].next_index == (s.T - 1 if t_end is None else t_end)
    assert [st.n for st in up] == list(range(len(up))) and {st.num_steps for st in up} == {len(up)}
    assert ddim_inversion_timesteps(s.T, 20, spacing, t_end) == [up[0].index] + [st.next_index for st in up]


@pytest.mark.parametrize("spacing", ["trailing", "leading"])
def test_inverting_with_an_oracle_then_decoding_gives_back_the_image(gen, spacing):
    s = NoiseSchedule.cosine()
    x0 = rand_images(gen, 1)
    x_T, recon = invert_and_reconstruct(oracle_eps(s, x0), s, x0, 25, "eps", spacing=spacing)
    torch.testing.assert_close(recon, x0, rtol=0, atol=1e-6)
    assert psnr(recon, x0) > 100
    # The oracle's (x̂_0, ε̂) never change along the path, so x_T is x0 moved to ᾱ_T along the ε̂ of
    # the first step, where the clean image was fed in at the first index.
    t_first = ddim_inversion_timesteps(s.T, 25, spacing)[1]
    eps_first = oracle_eps(s, x0)(x0, torch.tensor([t_first]))
    abar_T = float(s.alphas_cumprod[-1])
    torch.testing.assert_close(x_T, abar_T**0.5 * x0 + (1 - abar_T) ** 0.5 * eps_first, rtol=0, atol=1e-9)
    assert not torch.allclose(x_T, x0, atol=1e-3)


def test_inverting_an_untrained_model_does_not_reconstruct(gen):
    """Inversion is an approximation; a model whose x̂_0 moves along the path loses the image."""
    s = NoiseSchedule.cosine(50)
    x0 = rand_images(gen, 1)
    w = torch.randn(3, 3, generator=gen, dtype=torch.float64)

    def model(x_t, t):
        return torch.einsum("ij,bjhw->bihw", w, x_t) * (1 + t.to(x_t.dtype).reshape(-1, 1, 1, 1) / 10)

    _, recon = invert_and_reconstruct(model, s, x0, 10, "eps")
    assert psnr(recon, x0) < 40


def test_psnr():
    a = torch.zeros(2, 3, 4, 4)
    assert psnr(a, a) == float("inf")
    assert psnr(a, a + 0.02) == pytest.approx(10 * np.log10(4 / 0.02**2))
    assert psnr(np.zeros(3), np.full(3, 2.0)) == pytest.approx(0.0)


# -- the ideal denoiser ------------------------------------------------------------------------------


def brute_force_x0_hat(images, schedule, x_t, t):
    """Σ_i softmax_i(−‖x_t − √ᾱ x_i‖² / (2(1−ᾱ))) x_i, computed directly in float64."""
    abar = schedule.alphas_cumprod[t].reshape(-1, 1)
    x = x_t.reshape(len(x_t), 1, -1)
    xi = images.reshape(1, len(images), -1)
    d2 = ((x - abar.sqrt()[..., None] * xi) ** 2).sum(-1)
    w = torch.softmax(-d2 / (2 * (1 - abar)), dim=1)
    return (w @ images.reshape(len(images), -1)).reshape(x_t.shape), w


def test_ideal_x0_hat_is_the_softmax_posterior_mean_per_sample(gen):
    s = NoiseSchedule.cosine(50)
    images = rand_images(gen, 7)
    t = torch.tensor([8, 20, 30, 45, 49])
    x_t = q_sample(s, images[[0, 1, 2, 3, 4]], t, torch.randn(5, 3, 4, 4, generator=gen, dtype=torch.float64))
    expected, w = brute_force_x0_hat(images, s, x_t, t)
    assert (w.max(dim=1).values < 0.999).sum() >= 2  # some rows truly mix images
    ideal = IdealDenoiser(images, s)
    torch.testing.assert_close(ideal.x0_hat(x_t, t), expected, rtol=0, atol=1e-12)
    torch.testing.assert_close(ideal(x_t, t), eps_from_x0(s, x_t, t, expected), rtol=0, atol=1e-9)
    # One sample's answer does not depend on the other samples' t.
    torch.testing.assert_close(ideal.x0_hat(x_t[2:3], t[2:3]), expected[2:3], rtol=0, atol=1e-12)
    # float32, as loaded models run: close to the float64 truth.
    ideal32 = IdealDenoiser(images.float(), s)
    torch.testing.assert_close(ideal32.x0_hat(x_t.float(), t).double(), expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize("chunk", [1, 2, 3])
def test_ideal_chunked_equals_unchunked(gen, chunk):
    s = NoiseSchedule.cosine(50)
    images = rand_images(gen, 7)
    x_t = torch.randn(4, 3, 4, 4, generator=gen, dtype=torch.float64) * 0.7
    t = torch.tensor([10, 25, 40, 49])
    whole = IdealDenoiser(images, s, chunk_size=1000).x0_hat(x_t, t)
    torch.testing.assert_close(IdealDenoiser(images, s, chunk_size=chunk).x0_hat(x_t, t), whole, rtol=0, atol=1e-13)


def test_ideal_x0_hat_over_many_images_in_chunks_matches_brute_force(gen):
    """Peaked rows read only the images that carry weight; mixed rows read whole chunks: both exact."""
    s = NoiseSchedule.cosine(50)
    images = rand_images(gen, 40)
    t = torch.tensor([0, 5, 15, 30, 45, 49])
    x_t = q_sample(s, images[[3, 17, 22, 39, 0, 8]], t, torch.randn(6, 3, 4, 4, generator=gen, dtype=torch.float64))
    expected, w = brute_force_x0_hat(images, s, x_t, t)
    assert (w.max(dim=1).values > 1 - 1e-12).any() and (w.max(dim=1).values < 0.5).any()
    for chunk in (3, 10, 40):
        got = IdealDenoiser(images, s, chunk_size=chunk).x0_hat(x_t, t)
        torch.testing.assert_close(got, expected, rtol=0, atol=1e-12)
        for row in range(len(t)):  # one row alone takes the sparse path whenever it is peaked
            alone = IdealDenoiser(images, s, chunk_size=chunk).x0_hat(x_t[row : row + 1], t[row : row + 1])
            torch.testing.assert_close(alone, expected[row : row + 1], rtol=0, atol=1e-12)


def test_ideal_x0_hat_does_not_overflow_near_the_clean_image(gen):
    """At t = 0 the logits are ~1e7 apart; the running maximum must keep the softmax finite and one-hot."""
    s = NoiseSchedule.cosine()
    images = rand_images(gen, 5, (3, 8, 8), torch.float32)
    x_t = q_sample(s, images[3:4], 0, torch.randn(1, 3, 8, 8, generator=gen))
    x0 = IdealDenoiser(images, s, chunk_size=2).x0_hat(x_t, 0)
    torch.testing.assert_close(x0, images[3:4], rtol=0, atol=1e-5)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_chain_of_a_single_image_ideal_model_ends_on_that_image(seed):
    gen = torch.Generator().manual_seed(seed)
    s = NoiseSchedule.cosine(50)
    image = rand_images(gen, 1, (3, 8, 8), torch.float32)
    model = IdealDenoiser(image, s)
    x_T = torch.randn(2, 3, 8, 8, generator=gen)
    ddim = final_step(ddim_loop(model, s, x_T, num_steps=10, generator=gen)).x_prev
    ddpm = final_step(ddpm_loop(model, s, x_T, generator=gen)).x_prev
    torch.testing.assert_close(ddim, image.expand_as(ddim), rtol=0, atol=1e-3)
    torch.testing.assert_close(ddpm, image.expand_as(ddpm), rtol=0, atol=1e-3)


def test_the_ideal_model_memorises_every_chain_ends_on_one_of_its_images():
    gen = torch.Generator().manual_seed(5)
    s = NoiseSchedule.cosine(50)
    images = rand_images(gen, 3, (3, 8, 8), torch.float32)
    model = IdealDenoiser(images, s, chunk_size=2)
    x_T = torch.randn(8, 3, 8, 8, generator=gen)
    for end in (
        final_step(ddim_loop(model, s, x_T, num_steps=20, generator=gen)).x_prev,
        final_step(ddpm_loop(model, s, x_T, generator=gen)).x_prev,
    ):
        dist = (end[:, None] - images[None]).flatten(2).abs().amax(-1)  # [8, 3]
        assert bool((dist.min(dim=1).values < 1e-3).all()), dist.min(dim=1).values


# -- loading an ideal model from a folder ---------------------------------------------------------------


def _write(folder, name, image):
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


@pytest.fixture
def odd_folder(tmp_path):
    folder = tmp_path / "pics"
    rng = np.random.default_rng(0)
    _write(folder, "a_good.png", Image.fromarray(rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)))
    _write(folder, "b_tiny.png", Image.new("RGB", (1, 1), (255, 0, 0)))
    _write(folder, "c_strip.png", Image.fromarray(rng.integers(0, 256, (8, 512, 3), dtype=np.uint8)))
    _write(folder, "d_16bit.png", Image.fromarray(np.full((12, 12), 65535 // 2, np.uint16)))
    _write(folder, "e_cmyk.jpg", Image.new("CMYK", (16, 16), (0, 255, 255, 0)))
    _write(folder, "sub/f_nested.png", Image.new("RGB", (10, 10), (0, 0, 255)))
    (folder / "x.png").write_text("this is not a png")
    (folder / "notes.txt").write_text("not an image suffix: ignored")
    return folder


def test_load_ideal_model_reads_every_odd_image_and_names_the_bad_one_once(odd_folder):
    model = load_ideal_model(odd_folder, size=8, device="cpu")
    assert model.name == "ideal:pics" and model.prediction == "eps" and model.image_size == 8
    assert model.schedule.name == "cosine" and model.schedule.T == 1000
    images = model.network.images
    assert images.shape == (6, 3, 8, 8)
    assert images.min() >= -1 - 1e-6 and images.max() <= 1 + 1e-6
    # Sorted order: a_good, b_tiny, c_strip, d_16bit, e_cmyk, sub/f_nested.
    red = torch.tensor([1.0, -1.0, -1.0]).reshape(3, 1, 1)
    torch.testing.assert_close(images[1], red.expand(3, 8, 8), rtol=0, atol=1e-5)
    assert abs(float(images[3].mean())) < 0.02  # 16-bit half grey → 127/128 of 255
    torch.testing.assert_close(images[4], red.expand(3, 8, 8), rtol=0, atol=0.05)  # CMYK (0, 255, 255, 0) is red
    blue = torch.tensor([-1.0, -1.0, 1.0]).reshape(3, 1, 1)
    torch.testing.assert_close(images[5], blue.expand(3, 8, 8), rtol=0, atol=1e-5)
    notes = " ".join(model.notes)
    assert len(model.notes) == 1 and notes.count("x.png") == 1
    assert notes.startswith("1 of 7 files could not be read")
    x_t = torch.randn(2, 3, 8, 8)
    assert model(x_t, torch.tensor([10, 900])).shape == x_t.shape


@pytest.mark.parametrize("content", ["empty", "unreadable", "missing"])
def test_a_folder_without_a_readable_image_is_one_error_line(tmp_path, content):
    folder = tmp_path / "nothing"
    if content != "missing":
        folder.mkdir()
    if content == "unreadable":
        (folder / "a.png").write_text("no")
        (folder / "b.jpg").write_bytes(b"\xff\xd8\xff")
    with pytest.raises(ModelLoadError) as info:
        load_ideal_model(folder, size=8, device="cpu")
    message = str(info.value)
    assert "nothing" in message and "\n" not in message


def test_load_model_routes_ideal_folders(odd_folder):
    model = load_model(f"ideal:{odd_folder}", device="cpu", ideal_size=4)
    assert model.name == "ideal:pics" and model.image_size == 4 and model.network.num_images == 6
    assert isinstance(model.network, IdealDenoiser)
    out = model(torch.randn(1, 3, 4, 4), torch.tensor([500]))
    assert out.shape == (1, 3, 4, 4) and bool(torch.isfinite(out).all())
    default = load_model(f"ideal:{odd_folder}", device="cpu")
    assert default.image_size == 64
    with pytest.raises(DiffusionVizError):
        load_model("ideal:", device="cpu")


def test_ideal_emoji_keeps_the_bundled_models_training_split(monkeypatch):
    fake = np.random.default_rng(1).integers(0, 256, (50, 32, 32, 3), dtype=np.uint8)
    monkeypatch.setattr(ideal, "load_emoji", lambda size: fake if size == 32 else None)
    model = load_model("ideal:emoji", device="cpu")
    provenance = read_config(BUNDLED_MODEL)["provenance"]
    train, held = split_holdout(50, provenance["holdout_fraction"], provenance["holdout_seed"])
    assert len(held) > 0 and model.network.num_images == len(train)
    torch.testing.assert_close(model.network.images, images_to_tensor(fake[train]), rtol=0, atol=1e-6)
    bundled = NoiseSchedule.from_config(read_config(BUNDLED_MODEL)["schedule"])
    assert model.name == "ideal:emoji" and model.image_size == 32
    assert torch.equal(model.schedule.alphas_cumprod, bundled.alphas_cumprod)


def test_ideal_emoji_without_the_font_is_the_fonts_data_error(monkeypatch):
    monkeypatch.setattr(data, "EMOJI_FONT_PATHS", ())
    with pytest.raises(DataError, match="Noto Color Emoji"):
        ideal_from_emoji()


def test_the_inversions_reconstruction_is_the_decoded_image():
    """The ideal denoiser of one image predicts it exactly: the round trip gives it back, and the PSNR says so."""
    from core.models.loaded import LoadedModel
    from core.runs.inversion import inversion_frames

    s = NoiseSchedule.linear(100)
    image = np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    net = IdealDenoiser(images_to_tensor(image), s)
    model = LoadedModel(net, s, "eps", 8, 3, torch.device("cpu"), "one image")
    last = list(inversion_frames(model, image, steps=10))[-1]
    torch.testing.assert_close(last.reconstruction, last.x0, atol=1e-4, rtol=0)
    assert last.psnr > 60
