"""Stochastic coupling: manifold term in place of the log-det, on-manifold round trip."""
import jax
import numpy as np
import pytest

from nif_zoo import rng
from nif_zoo.nif import gaussian
from nif_zoo.nif.stochastic_coupling import StochasticCoupling

N1, N2, M2 = 3, 5, 2


@pytest.fixture(scope="module")
def layer_and_vars():
    layer = StochasticCoupling(split=N1, data_dim=N2, latent_dim=M2, hidden=16)
    x = rng.normal(jax.random.key(0), (4, N1 + N2))
    variables = layer.init(jax.random.key(1), x)
    # make the conditioner non-trivial (its output layer starts at zero)
    params = jax.tree.map(lambda p: p + 0.2 * rng.normal(jax.random.key(2), p.shape),
                          variables["params"])
    return layer, {"params": params}, x


def test_forward_log_det_is_the_manifold_term(layer_and_vars):
    layer, v, x = layer_and_vars
    z, log_det = layer.apply(v, x)
    assert z.shape == (4, N1 + M2) and log_det.shape == (4,)
    A, b, lv = layer.apply(v, x[:, :N1], method=StochasticCoupling.noise_model)
    assert A.shape == (4, N2, M2)
    np.testing.assert_allclose(log_det, gaussian.manifold_term(x[:, N1:], A, b, lv), rtol=1e-6)
    np.testing.assert_array_equal(z[:, :N1], x[:, :N1])
    np.testing.assert_allclose(z[:, N1:], gaussian.stochastic_inverse_mode(x[:, N1:], A, b, lv),
                               rtol=1e-6)


def test_on_manifold_round_trip_and_inverse_log_det(layer_and_vars):
    layer, v, x = layer_and_vars
    z = np.concatenate([x[:, :N1], np.random.default_rng(0).normal(size=(4, M2))], axis=1)
    x_on, log_det_inv = layer.apply(v, z, reverse=True, s=0.0)
    z_back, log_det = layer.apply(v, x_on)
    np.testing.assert_allclose(z_back, z, atol=1e-4)
    np.testing.assert_allclose(log_det_inv, -log_det, rtol=1e-5)


def test_sampling_is_deterministic_by_key_and_needs_a_noise_key_for_s(layer_and_vars):
    layer, v, x = layer_and_vars
    z1, _ = layer.apply(v, x, estimate="sample", rngs={"posterior": jax.random.key(5)})
    z2, _ = layer.apply(v, x, estimate="sample", rngs={"posterior": jax.random.key(5)})
    z3, _ = layer.apply(v, x, estimate="sample", rngs={"posterior": jax.random.key(6)})
    np.testing.assert_array_equal(z1, z2)
    assert not np.allclose(z1, z3)
    # the mode is the default, whether or not an RNG is passed; a draw needs one
    mode, _ = layer.apply(v, x)
    np.testing.assert_array_equal(layer.apply(v, x, rngs={"posterior": jax.random.key(5)})[0], mode)
    with pytest.raises(Exception, match="posterior"):
        layer.apply(v, x, estimate="sample")
    with pytest.raises(ValueError, match="estimate must be"):
        layer.apply(v, x, estimate="mean")
    xa, _ = layer.apply(v, z1, reverse=True, s=0.5, rngs={"noise": jax.random.key(0)})
    xb, _ = layer.apply(v, z1, reverse=True, s=0.5, rngs={"noise": jax.random.key(0)})
    np.testing.assert_array_equal(xa, xb)
    with pytest.raises(Exception, match="noise"):
        layer.apply(v, z1, reverse=True, s=0.5)


def test_wrong_widths_are_clear(layer_and_vars):
    layer, v, x = layer_and_vars
    with pytest.raises(ValueError, match="expected 3 \\+ 5"):
        layer.apply(v, x[:, :-1])
    with pytest.raises(ValueError, match="expected 2 latent"):
        layer.apply(v, x[:, : N1 + 1], reverse=True, s=0.0)
