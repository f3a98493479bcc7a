"""Noise-trained models (``data_noise``) and the score step ``Model.denoise`` (Tweedie)."""
import numpy as np
import pytest
import scipy.linalg

import nif_zoo
from nif_zoo.data import quantize
from nif_zoo.recipe import make_config
from nif_zoo.train.loop import train

SHAPE = (4, 4, 1)
SIZES = dict(image_shape=SHAPE, levels=1, steps=2, width=8, seed=1)


def init_images(n=32, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(n,) + SHAPE).astype(np.uint8)


@pytest.fixture(scope="module")
def linear_nf():
    """A fresh NF: its couplings start as the identity, so its Glow is linear (ActNorm,
    1x1 convolutions, squeezes) and its density of y is exactly Gaussian."""
    return nif_zoo.create_model("nf", init_images=init_images(), **SIZES)


def test_the_score_step_is_the_posterior_mean_of_a_gaussian(linear_nf):
    model = linear_nf
    n = int(np.prod(SHAPE))
    # the model's Gaussian, read off its inverse (decode): y = mu + B z, z ~ N(0, I)
    mu = model.decode(np.zeros((1, n), np.float32))[0].reshape(-1).astype(np.float64)
    basis = model.decode(np.eye(n, dtype=np.float32)).reshape(n, n).astype(np.float64)
    b = (basis - mu[None]).T
    cov_y = b @ b.T
    sigma = 0.3 * np.sqrt(np.linalg.eigvalsh(cov_y).min())
    # clean data x ~ N(mu, cov_y - sigma^2 I), y = x + sigma eps ~ N(mu, cov_y): the posterior
    # mean E[x | y] = mu + (cov_y - sigma^2 I) cov_y^{-1} (y - mu)
    rng = np.random.default_rng(0)
    y = mu[None] + rng.normal(size=(5, n)) @ b.T
    chol = scipy.linalg.cho_factor(cov_y)
    expected = mu[None] + (y - mu[None]) - sigma ** 2 * scipy.linalg.cho_solve(chol, (y - mu[None]).T).T
    got = model.denoise(y.reshape((5,) + SHAPE).astype(np.float32), sigma)
    np.testing.assert_allclose(got.reshape(5, n), expected, atol=2e-4 * np.abs(expected).max())


def test_denoise_needs_a_sigma_for_a_model_trained_without_noise(linear_nf):
    with pytest.raises(ValueError, match="without data noise"):
        linear_nf.denoise(init_images(2))
    x = init_images(2).astype(np.float32) / 256
    np.testing.assert_array_equal(linear_nf.denoise(x, 0.0), x)  # sigma 0: no step
    with pytest.raises(ValueError, match="sigma"):
        linear_nf.denoise(x, -0.1)


def test_sample_with_denoise_is_the_score_step_of_the_sample(linear_nf):
    a = linear_nf.sample(8, temperature=0.7, seed=3, denoise=0.02)
    b = linear_nf.sample(8, temperature=0.7, seed=3, denoise=0.02)
    np.testing.assert_array_equal(a, b)
    # the same draws, denoised by hand
    import jax

    latent_key, _ = jax.random.split(jax.random.key(3))
    from nif_zoo.models.model import latent_draws

    eps = np.asarray(latent_draws(latent_key, 0, 8, linear_nf.latent_dim))
    by_hand = quantize.quantize(linear_nf.denoise(linear_nf.decode(0.7 * eps), 0.02), 8)
    np.testing.assert_array_equal(a, by_hand)


def test_data_noise_is_part_of_the_config_and_checked():
    model = nif_zoo.create_model("nf", data_noise=0.05, init_images=init_images(), **SIZES)
    assert model.data_noise == 0.05 and model.config.to_dict()["data_noise"] == 0.05
    plain = nif_zoo.create_model("nf", init_images=init_images(), **SIZES)
    assert "data_noise" not in plain.config.to_dict() and plain.data_noise == 0.0
    with pytest.raises(ValueError, match="logit transform is defined on"):
        nif_zoo.create_model("nf", data_noise=0.05, logit=0.05, **SIZES)
    nif_zoo.create_model("nf", data_noise=0.05, logit=0.2, **SIZES)  # 6 sigma inside
    with pytest.raises(ValueError, match="data_noise"):
        nif_zoo.create_model("nf", data_noise=-1.0, **SIZES)


def test_log_prob_with_a_key_adds_the_training_noise():
    x = init_images(6, seed=2)
    noisy = nif_zoo.create_model("nf", data_noise=0.05, init_images=init_images(), **SIZES)
    plain = nif_zoo.models.Model(dict(noisy.config.to_dict(), data_noise=0.0),
                                 noisy.variables)
    # bin centres (no key): no noise either way; with a key the noisy model adds its noise
    np.testing.assert_array_equal(noisy.log_prob(x), plain.log_prob(x))
    assert not np.allclose(noisy.log_prob(x, key=0), plain.log_prob(x, key=0))
    np.testing.assert_array_equal(noisy.log_prob(x, key=0), noisy.log_prob(x, key=0))
    # the uniform draws are the same (the Gaussian noise has a key of its own)
    y_plain = plain._data_scale(x, key=nif_zoo.models.model.as_key(0))[1]
    y_noisy = noisy._data_scale(x, key=nif_zoo.models.model.as_key(0))[1]
    assert 0.03 < np.std(y_noisy - y_plain) < 0.07


def test_a_run_with_data_noise_trains_on_noisy_data(tmp_path):
    raw = {"model": {"kind": "nf", "levels": 2, "steps": 1, "width": 8, "data_noise": 0.05},
           "data": {"dataset": "mnist", "image_shape": [8, 8, 1], "fit": "resize", "limit": 64,
                    "eval_limit": 16},
           "train": {"batch_size": 16, "steps": 3, "checkpoint_every": 0, "log_every": 1,
                     "seed": 7}}
    result = train(raw, str(tmp_path / "run"), progress=False)
    assert result.model.data_noise == 0.05
    assert make_config(raw)["model"]["data_noise"] == 0.05
    assert all(np.isfinite(r["loss_bpd"]) for r in result.history if "loss_bpd" in r)
