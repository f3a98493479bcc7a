"""``Chain``: exact likelihoods where they are, ELBO <= IW bound <= log p(x) elsewhere, each
against brute force; event shapes through the chain; embed/decode across dimensions."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import logsumexp

from nif_zoo import rng
from nif_zoo.flows.base import Chain, Reshape
from nif_zoo.flows.center import Center
from nif_zoo.flows.glow import Glow
from nif_zoo.flows.mlp_flow import MLPFlow
from nif_zoo.nif.layers import DenseNIF, UpsampleNIF
from nif_zoo.nif.stochastic_coupling import StochasticCoupling


def perturb(variables, seed, scale):
    leaves, tree = jax.tree.flatten(variables["params"])
    keys = jax.random.split(jax.random.key(seed), len(leaves))
    return {**variables, "params": jax.tree.unflatten(
        tree, [p + scale * rng.normal(k, p.shape) for p, k in zip(leaves, keys)])}


def initialised(chain, x, seed=0, scale=0.3):
    variables = chain.init({"params": jax.random.key(seed), "posterior": jax.random.key(1)}, x)
    return perturb(variables, seed + 10, scale)


def test_exactness_and_event_shapes_of_compositions():
    glow = Glow(levels=1, steps=1, width=4)
    cases = [
        ((Center(), glow), (4, 4, 1), True, (4, 4, 1)),
        ((Center(), glow, DenseNIF((4, 4, 1), 3)), (4, 4, 1), True, (3,)),
        ((glow, UpsampleNIF((4, 4, 1), 2, 2)), (4, 4, 1), True, (2, 2, 2)),
        ((DenseNIF((4,), 2), MLPFlow(1, 4, 1)), (4,), False, (2,)),
        ((UpsampleNIF((4, 4, 1), 2, 1), Glow(levels=1, steps=1, width=4)), (4, 4, 1), False,
         (2, 2, 1)),
        ((StochasticCoupling(2, 2, 1), MLPFlow(1, 4, 1)), (4,), False, (3,)),
        ((StochasticCoupling(2, 2, 1),), (4,), False, (3,)),  # not closed form
        ((Reshape((2, 2, 1), (4,)), DenseNIF((4,), 2)), (2, 2, 1), True, (2,)),
    ]
    for layers, event, exact, latent in cases:
        chain = Chain(layers, event_shape=event)
        assert chain.exact == exact, layers
        assert chain.latent_shape == latent and chain.latent_dim == math.prod(latent)
    with pytest.raises(ValueError, match="this layer's events have shape"):
        Chain((DenseNIF((5,), 2),), event_shape=(4,)).latent_shape
    with pytest.raises(ValueError, match="distinct layer names"):
        Chain((Center(), Center()), event_shape=(2,), names=("a", "a")).layer_names


def test_exact_nif_chain_is_the_closed_form_and_the_limit_of_its_bounds():
    chain = Chain((Center(), DenseNIF((3,), 1)), event_shape=(3,), names=("pre", "prior"))
    x = rng.normal(jax.random.key(0), (4, 3))
    v = initialised(chain, x)
    exact = chain.apply(v, x, method="log_prob")
    prior = chain.layer("prior")
    np.testing.assert_allclose(exact, prior.apply({"params": v["params"]["prior"]}, x - 0.5,
                                                  method="log_marginal"), rtol=1e-6)
    iw = chain.apply(v, x, 4096, method="iw_bound", rngs={"posterior": jax.random.key(2)})
    np.testing.assert_allclose(iw, exact, atol=0.02)
    elbos = chain.apply(v, x, 2000, method="elbo", rngs={"posterior": jax.random.key(3)})
    assert np.all(np.asarray(elbos) <= np.asarray(exact) + 1e-4)
    # the log density is the exact one; the training objective too
    np.testing.assert_allclose(chain.apply(v, x), exact)
    np.testing.assert_allclose(chain.apply(v, x, method="training_log_density"), exact)


def test_stochastic_coupling_chain_bounds_match_quadrature():
    """x (4) -> stochastic coupling (x1 kept, x2 (2) -> z2 (1)) -> flow on 3 dims -> N(0, I).
    log p(x) = log int N(x2; A(x1) z2 + b(x1), Sigma(x1)) p_flow(x1, z2) dz2 (1-D grid)."""
    chain = Chain((StochasticCoupling(2, 2, 1, hidden=8), MLPFlow(2, 8, 1)), event_shape=(4,),
                  names=("coupling", "flow"))
    x = rng.normal(jax.random.key(4), (3, 4))
    v = initialised(chain, x, scale=0.2)
    A, b, lv = chain.layer("coupling").apply({"params": v["params"]["coupling"]}, x[:, :2],
                                             method="noise_model")
    exact = []
    for i in range(len(x)):
        grid = np.arange(-12, 12, 0.01)
        latent = np.concatenate([np.repeat(np.asarray(x[i:i + 1, :2]), len(grid), 0),
                                 grid[:, None]], 1).astype(np.float32)
        eps, log_det = chain.apply(v, jnp.asarray(latent), 1, 2, method="forward_range")
        log_flow = -0.5 * np.sum(np.square(eps), 1) - 1.5 * math.log(2 * math.pi) + log_det
        mean = np.asarray(A[i], np.float64) @ grid[None] + np.asarray(b[i])[:, None]
        var = np.exp(np.asarray(lv[i], np.float64))[:, None]
        log_lik = -0.5 * np.sum((np.asarray(x[i, 2:])[:, None] - mean) ** 2 / var
                                + np.log(2 * math.pi * var), 0)
        exact.append(logsumexp(log_lik + np.asarray(log_flow, np.float64)) + math.log(0.01))
    exact = np.asarray(exact)
    iw = chain.apply(v, x, 8192, method="iw_bound", rngs={"posterior": jax.random.key(5)})
    np.testing.assert_allclose(iw, exact, atol=0.03)
    elbo = chain.apply(v, x, 4000, method="elbo", rngs={"posterior": jax.random.key(6)})
    assert np.all(np.asarray(elbo) <= exact + 1e-3)
    with pytest.raises(ValueError, match="not exact"):
        chain.apply(v, x, method="log_prob")


def test_two_noisy_layers_embed_decode_and_bounds():
    """latent (2, 2, 1) -> Glow -> x2 upsampling NIF -> Glow -> (4, 4, 1): a progressive chain."""
    layers = (Center(), Glow(levels=1, steps=1, width=4), UpsampleNIF((4, 4, 1), 2, 1),
              Glow(levels=1, steps=1, width=4, scan=False))
    chain = Chain(layers, event_shape=(4, 4, 1), names=("pre", "glow_0", "nif_0", "glow_1"))
    assert not chain.exact and chain.latent_shape == (2, 2, 1)
    y = jax.nn.sigmoid(rng.normal(jax.random.key(0), (5, 4, 4, 1)))
    v = initialised(chain, y, scale=0.1)
    z = chain.apply(v, y, method="embed")
    assert z.shape == (5, 4)
    x_on = chain.apply(v, z, 0.0, method="decode")
    np.testing.assert_allclose(chain.apply(v, x_on, method="embed"), z, atol=1e-3)
    noisy = chain.apply(v, z, 0.5, method="decode", rngs={"noise": jax.random.key(1)})
    assert not np.allclose(noisy, x_on)
    keys = {"posterior": jax.random.key(2)}
    elbo = np.asarray(chain.apply(v, y, 400, method="elbo", rngs=keys))
    iw = np.asarray(chain.apply(v, y, 400, method="iw_bound", rngs=keys))
    assert np.all(elbo <= iw + 1e-4)  # the same 400 draws: mean <= log-mean-exp
    # log-weights: bijections before the first noisy layer run once, terms add up
    log_w = chain.apply(v, y, 3, method="log_weights", rngs=keys)
    assert log_w.shape == (3, 5) and np.all(np.isfinite(log_w))
