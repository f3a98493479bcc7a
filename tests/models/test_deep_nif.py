"""Deep NIF bounds against the exact marginal, integrated on a grid (M = 2)."""
import math

import jax
import numpy as np
import pytest
from scipy.special import logsumexp

import nif_zoo
from nif_zoo import rng

SHAPE = (4, 4, 1)


@pytest.fixture(scope="module")
def tiny():
    return make_tiny()


def make_tiny():
    init = np.random.default_rng(0).integers(60, 200, (32,) + SHAPE).astype(np.uint8)
    model = nif_zoo.create_model("deep_nif", image_shape=SHAPE, levels=1, steps=1, width=8,
                                 latent_dim=2, prior_layers=2, prior_hidden=16,
                                 init_images=init, seed=1)
    # a non-trivial prior flow and noise model (couplings start as the identity)
    params = model.variables["params"]
    leaves, tree = jax.tree.flatten(params["prior_flow"])
    keys = jax.random.split(jax.random.key(5), len(leaves))
    params = {**params, "prior_flow": jax.tree.unflatten(
        tree, [p + 0.3 * rng.normal(k, p.shape) for p, k in zip(leaves, keys)])}
    params["nif"] = {**params["nif"], "log_var": params["nif"]["log_var"] - 1.0}
    model = model.with_variables({**model.variables, "params": params})
    return model, init[:3]


def latent_log_prob(model, z):
    """log p_z(z) = log N(g(z); 0, I) + log|det dg/dz|, g the low-dimensional flow."""
    i = model.module.index("prior_flow")
    eps, log_det = model.module.apply(model.variables, z, i, i + 1, method="forward_range")
    return -0.5 * (np.sum(np.square(eps), 1) + z.shape[1] * math.log(2 * math.pi)) + log_det


def exact_log_prob(model, images):
    """log P(image) by integrating p(u | z) p_z(z) over a 2-D grid of z."""
    y = (images.astype(np.float32) + 0.5) / 256
    variables = model.variables
    u, glow_log_det = model.module.apply(variables, y, "nif", method="inputs_of")
    u = np.asarray(u, np.float64).reshape(len(images), -1)
    p = variables["params"]["nif"]
    A, b, lv = (np.asarray(p[k], np.float64) for k in ("A", "b", "log_var"))
    var = np.exp(lv)
    lam = A.T @ (A / var[:, None])
    out = []
    for ui, ld in zip(u, np.asarray(glow_log_det)):
        mode = np.linalg.solve(lam, A.T @ ((ui - b) / var))
        std = np.sqrt(np.diag(np.linalg.inv(lam)))
        axes = [np.linspace(m - 10 * s, m + 10 * s, 601) for m, s in zip(mode, std)]
        grid = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 2)
        resid = ui - grid @ A.T - b
        log_lik = -0.5 * (np.sum(resid ** 2 / var, 1) + np.sum(lv) + len(ui) * math.log(2 * math.pi))
        log_prior = np.asarray(latent_log_prob(model, grid.astype(np.float32)), np.float64)
        cell = (axes[0][1] - axes[0][0]) * (axes[1][1] - axes[1][0])
        out.append(logsumexp(log_lik + log_prior) + math.log(cell) + ld)
    return np.asarray(out) - model.num_dims * 8 * math.log(2)


def test_elbo_below_iw_bound_below_exact_marginal(tiny):
    model, images = tiny
    exact = exact_log_prob(model, images)
    # averages over 30 seeds, compared with 3 standard errors of Monte Carlo slack
    elbos = np.array([model.elbo(images, seed=k) for k in range(30)])
    iws = np.array([model.iw_bound(images, num_samples=64, seed=k) for k in range(30)])
    elbo, iw64 = elbos.mean(0), iws.mean(0)
    slack = 3 * np.sqrt((elbos.var(0) + iws.var(0)) / 30)
    iw_large = model.iw_bound(images, num_samples=4096)
    assert np.all(elbo <= iw64 + slack), (elbo, iw64)
    assert np.all(iw64 <= exact + 3 * iws.std(0) / np.sqrt(30) + 1e-3), (iw64, exact)
    np.testing.assert_allclose(iw_large, exact, atol=0.05)
    np.testing.assert_allclose(model.log_prob(images), model.iw_bound(images, num_samples=64),
                               rtol=1e-6)


def test_iw_bound_increases_with_k_on_average(tiny):
    model, images = tiny
    draws = [np.array([model.iw_bound(images, num_samples=k, seed=s).mean() for s in range(40)])
             for k in (1, 4, 16, 64)]
    means = [d.mean() for d in draws]
    slack = [3 * np.sqrt((a.var() + b.var()) / 40) for a, b in zip(draws, draws[1:])]
    assert all(a <= b + e for a, b, e in zip(means, means[1:], slack)), (means, slack)
    assert means[0] < means[-1]


def test_bounds_are_only_for_models_without_an_exact_likelihood():
    model = nif_zoo.create_model("nif", image_shape=SHAPE, levels=1, steps=1, width=8,
                                 latent_dim=2)
    with pytest.raises(ValueError, match="log_prob is exact"):
        model.elbo(np.zeros((1,) + SHAPE, np.uint8))
    with pytest.raises(ValueError, match="latent_dim >= 2"):
        nif_zoo.create_model("deep_nif", image_shape=SHAPE, levels=1, steps=1, width=8,
                             latent_dim=1)
    with pytest.raises(ValueError, match=r"do not apply to kind='nif'"):
        nif_zoo.create_model("nif", image_shape=SHAPE, levels=1, steps=1, width=8,
                             latent_dim=2, prior_layers=3)
