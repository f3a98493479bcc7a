"""Gaussian NIF closed forms against independent dense references (numpy / scipy)."""
import math

import jax
import numpy as np
import pytest
from scipy import integrate, stats

from nif_zoo.nif import gaussian as g

pytestmark = pytest.mark.lowest  # also run at the lowest versions (.ci/lowest)


def problem(n, m, batch=5, seed=0):
    r = np.random.default_rng(seed)
    A = r.normal(size=(n, m)).astype(np.float32)
    b = r.normal(size=n).astype(np.float32)
    log_var = (0.5 * r.normal(size=n)).astype(np.float32)
    x = (A @ r.normal(size=(m, batch))).T + b + r.normal(size=(batch, n)) * np.exp(0.5 * log_var)
    return x.astype(np.float32), A, b, log_var


def dense_covariance(A, log_var):
    return A.astype(np.float64) @ A.T + np.diag(np.exp(log_var.astype(np.float64)))


@pytest.mark.parametrize("n,m", [(6, 3), (8, 1), (5, 5), (20, 4)])
def test_log_marginal_is_log_normal_b_AAT_plus_sigma(n, m):
    x, A, b, log_var = problem(n, m)
    ref = stats.multivariate_normal(b, dense_covariance(A, log_var)).logpdf(x)
    np.testing.assert_allclose(g.log_marginal(x, A, b, log_var), ref, rtol=1e-5, atol=1e-4)


def test_paper_eq13_constant_error_is_not_present():
    """The paper's eq. 13 adds (M/2) log 2 pi; ours must not (SPEC section 2)."""
    n, m = 7, 4
    x, A, b, log_var = problem(n, m)
    ref = stats.multivariate_normal(b, dense_covariance(A, log_var)).logpdf(x)
    ours = np.asarray(g.log_marginal(x, A, b, log_var))
    paper = ours + 0.5 * m * math.log(2 * math.pi)
    assert np.max(np.abs(ours - ref)) < 1e-4
    assert np.min(np.abs(paper - ref)) > 3.0  # (4/2) log 2 pi = 3.68


def test_log_marginal_broadcasts_over_leading_axes():
    x, A, b, log_var = problem(6, 2, batch=12)
    flat = g.log_marginal(x, A, b, log_var)
    np.testing.assert_allclose(g.log_marginal(x.reshape(3, 4, 6), A, b, log_var),
                               np.asarray(flat).reshape(3, 4), rtol=1e-6)
    # one A per example gives the same as the shared A
    A_each = np.broadcast_to(A, (12,) + A.shape)
    np.testing.assert_allclose(g.log_marginal(x, A_each, b, log_var), flat, rtol=1e-5)


def test_manifold_term_equals_numeric_integral_m1():
    x, A, b, log_var = problem(3, 1, batch=3)
    cov = np.diag(np.exp(log_var.astype(np.float64)))
    for xi, ours in zip(x, np.asarray(g.manifold_term(x, A, b, log_var))):
        density = lambda z: stats.multivariate_normal(A[:, 0] * z + b, cov).pdf(xi)
        val, _ = integrate.quad(density, -30, 30, points=[0.0], limit=200)
        np.testing.assert_allclose(ours, math.log(val), rtol=1e-4, atol=1e-4)


def test_manifold_term_equals_numeric_integral_m2():
    x, A, b, log_var = problem(3, 2, batch=2, seed=1)
    cov = np.diag(np.exp(log_var.astype(np.float64)))
    for xi, ours in zip(x, np.asarray(g.manifold_term(x, A, b, log_var))):
        # integrate around the mode, where the mass is
        mode = np.linalg.lstsq(A / np.exp(0.5 * log_var)[:, None],
                               (xi - b) / np.exp(0.5 * log_var), rcond=None)[0]
        # a fine grid (trapezoid rule) over +-12 around the mode, vectorised
        z1, z2 = (np.linspace(c - 12, c + 12, 801) for c in mode)
        grid = np.stack(np.meshgrid(z1, z2, indexing="ij"), axis=-1)
        dens = stats.multivariate_normal(np.zeros(3), cov).pdf(xi - (grid @ A.T + b))
        val = integrate.trapezoid(integrate.trapezoid(dens, z2, axis=1), z1)
        np.testing.assert_allclose(ours, math.log(val), rtol=1e-4, atol=1e-3)


def test_stochastic_inverse_mode_is_weighted_least_squares():
    x, A, b, log_var = problem(9, 3)
    w = np.exp(-0.5 * log_var.astype(np.float64))
    ref = np.stack([np.linalg.lstsq(A * w[:, None], (xi - b) * w, rcond=None)[0] for xi in x])
    np.testing.assert_allclose(g.stochastic_inverse_mode(x, A, b, log_var), ref, rtol=1e-4,
                               atol=1e-4)


def test_posterior_mean_is_gaussian_conditional_mean():
    """E[z | x] under z ~ N(0, I), x = A z + b + noise: A^T (A A^T + Sigma)^-1 (x - b)."""
    x, A, b, log_var = problem(7, 3)
    cov = dense_covariance(A, log_var)
    ref = (A.T @ np.linalg.solve(cov, (x - b).T)).T
    np.testing.assert_allclose(g.posterior_mean(x, A, b, log_var), ref, rtol=1e-4, atol=1e-4)


def test_log_stochastic_inverse_is_normal_mode_inverse_precision():
    x, A, b, log_var = problem(6, 3, batch=4)
    lam = A.T.astype(np.float64) @ np.diag(np.exp(-log_var)) @ A
    mode = np.asarray(g.stochastic_inverse_mode(x, A, b, log_var), np.float64)
    z = mode + np.random.default_rng(3).normal(size=mode.shape) * 0.3
    ref = [stats.multivariate_normal(mi, np.linalg.inv(lam)).logpdf(zi) for mi, zi in zip(mode, z)]
    np.testing.assert_allclose(g.log_stochastic_inverse(z.astype(np.float32), x, A, b, log_var),
                               ref, rtol=1e-4, atol=1e-3)


def test_stochastic_inverse_samples_have_mode_mean_and_inverse_precision_covariance():
    x, A, b, log_var = problem(5, 2, batch=1)
    xs = np.repeat(x, 40000, axis=0)
    z = np.asarray(g.sample_stochastic_inverse(jax.random.key(0), xs, A, b, log_var), np.float64)
    lam = A.T.astype(np.float64) @ np.diag(np.exp(-log_var)) @ A
    cov = np.linalg.inv(lam)
    np.testing.assert_allclose(z.mean(0), g.stochastic_inverse_mode(x, A, b, log_var)[0],
                               atol=4 * np.sqrt(np.max(np.diag(cov)) / 40000))
    np.testing.assert_allclose(np.cov(z.T), cov, rtol=0.05, atol=0.05 * np.max(np.abs(cov)))


def test_elbo_is_below_log_marginal_and_matches_monte_carlo():
    x, A, b, log_var = problem(6, 2)
    elbo = np.asarray(g.elbo_standard_normal(x, A, b, log_var))
    exact = np.asarray(g.log_marginal(x, A, b, log_var))
    assert np.all(elbo <= exact + 1e-5)
    # ELBO = E_q[log N(z; 0, I)] + manifold term, by Monte Carlo with q's own samples
    k = 20000
    xs = np.repeat(x, k, axis=0)
    z = np.asarray(g.sample_stochastic_inverse(jax.random.key(1), xs, A, b, log_var))
    log_prior = stats.multivariate_normal(np.zeros(2), np.eye(2)).logpdf(z).reshape(len(x), k)
    mc = log_prior.mean(1) + np.asarray(g.manifold_term(x, A, b, log_var))
    np.testing.assert_allclose(elbo, mc, atol=0.05)


@pytest.mark.parametrize("noise_form", g.NOISE_FORMS)
def test_generate_has_covariance_t2_AAT_plus_the_noise(noise_form):
    _, A, b, log_var = problem(4, 2)
    t, s, k = 0.7, 0.5, 60000
    z = t * np.random.default_rng(0).normal(size=(k, 2)).astype(np.float32)
    x = np.asarray(g.generate(jax.random.key(2), z, A, b, log_var, s, noise_form), np.float64)
    noise = {"paper": s * np.diag(np.exp(log_var.astype(np.float64))),  # N(0, s Sigma)
             "isotropic": s * np.eye(4),                                # N(0, s I)
             "authors": s * s * np.eye(4)}[noise_form]                  # s eps: std s
    cov = t * t * A.astype(np.float64) @ A.T + noise
    np.testing.assert_allclose(x.mean(0), b, atol=0.05)
    np.testing.assert_allclose(np.cov(x.T), cov, atol=0.04 * np.max(np.abs(cov)))


def test_generate_with_s_zero_is_exactly_on_the_manifold():
    _, A, b, log_var = problem(4, 2)
    z = np.random.default_rng(0).normal(size=(3, 2)).astype(np.float32)
    x = g.generate(jax.random.key(0), z, A, b, log_var, s=0.0)
    np.testing.assert_array_equal(x, g.decode_mean(z, A, b))
    np.testing.assert_allclose(g.stochastic_inverse_mode(x, A, b, log_var), z, atol=1e-4)


def test_shape_errors_are_clear():
    x, A, b, log_var = problem(4, 2)
    with pytest.raises(ValueError, match="M <= N"):
        g.log_marginal(x[:, :1], A[:1], b[:1], log_var[:1])
    with pytest.raises(ValueError, match="x must have last axis N=4"):
        g.log_marginal(x[:, :3], A, b, log_var)
    with pytest.raises(ValueError, match="log_var"):
        g.manifold_term(x, A, b, log_var[:3])


# ----------------------------------------------------------------------------- linear algebra
def spd(batch_shape, m, seed=0):
    r = np.random.default_rng(seed)
    a = r.normal(size=batch_shape + (m, m + 2))
    return (a @ np.swapaxes(a, -1, -2) / (m + 2) + 0.1 * np.eye(m)).astype(np.float32)


@pytest.mark.parametrize("m", [1, 2, 3, 4, 5, 7])  # <= SMALL_BLOCK unrolled, above generic
def test_cholesky_matches_numpy(m):
    mats = spd((3, 2), m)
    np.testing.assert_allclose(g.cholesky(mats), np.linalg.cholesky(mats.astype(np.float64)),
                               rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("m", [1, 3, 4, 6])
@pytest.mark.parametrize("transpose", [False, True])
@pytest.mark.parametrize("chol_batch,v_batch", [
    ((), (5,)),            # one factor for the batch
    ((2, 3), (2, 3)),      # one per example
    ((2, 3), (4, 2, 3)),   # per block, shared by a leading batch axis (upsampling NIF)
    ((2, 1), (4, 2, 3)),   # general broadcasting
])
def test_solve_lower_matches_scipy(m, transpose, chol_batch, v_batch):
    from scipy.linalg import solve_triangular
    chol = np.linalg.cholesky(spd(chol_batch, m).astype(np.float64))
    v = np.random.default_rng(1).normal(size=v_batch + (m,))
    got = np.asarray(g.solve_lower(chol.astype(np.float32), v.astype(np.float32), transpose))
    batch = np.broadcast_shapes(chol_batch, v_batch)
    chol_b = np.broadcast_to(chol, batch + (m, m))
    v_b = np.broadcast_to(v, batch + (m,))
    for idx in np.ndindex(*batch):
        want = solve_triangular(chol_b[idx], v_b[idx], lower=True, trans=1 if transpose else 0)
        np.testing.assert_allclose(got[idx], want, rtol=1e-4, atol=1e-4)


def test_small_block_closed_forms_have_the_generic_gradients():
    """The unrolled factorisation differentiates like the LAPACK-style one."""
    x, A, b, log_var = problem(6, 3)

    def loss(A, log_var):
        return jax.numpy.sum(g.log_marginal(x, A, b, log_var))

    small = jax.grad(loss, argnums=(0, 1))(A, log_var)
    old = g.SMALL_BLOCK
    try:
        g.SMALL_BLOCK = 0
        generic = jax.grad(loss, argnums=(0, 1))(A, log_var)
    finally:
        g.SMALL_BLOCK = old
    for s, r in zip(small, generic):
        np.testing.assert_allclose(s, r, rtol=1e-4, atol=1e-4)


def test_gram_derivatives_match_finite_differences_both_modes():
    """gram(B) = B^T B carries a hand-written JVP (one product in reverse mode)."""
    from jax.test_util import check_grads
    B = np.random.default_rng(3).normal(size=(2, 6, 3))
    # jax.enable_x64 is new (a config State, not a bool); jax.experimental's before it
    enable_x64 = jax.enable_x64 if hasattr(jax, "enable_x64") else jax.experimental.enable_x64
    with enable_x64(True):
        B = jax.numpy.asarray(B, dtype=jax.numpy.float64)
        np.testing.assert_allclose(g.gram(B), np.swapaxes(B, -1, -2) @ B, rtol=1e-12)
        check_grads(g.gram, (B,), order=2, modes=["fwd", "rev"])
