"""Gaussian noisy injective flow layer: SPEC section 2 (paper sec. 4, eq. 11-13).

Generative model p(x | z) = N(x | A z + b, Sigma), Sigma = diag(exp(log_var)):

    mu      = x - b                                              (..., N)
    Lambda  = A^T Sigma^-1 A                                     (..., M, M)
    u       = A^T Sigma^-1 mu                                    (..., M)
    log Z_x = 1/2 (mu^T Sigma^-1 mu + log|Sigma| + N log 2 pi)
    log Z_z = 1/2 (u^T Lambda^-1 u - log|Lambda| + M log 2 pi)

* stochastic inverse  q(z | x) = N(z | Lambda^-1 u, Lambda^-1); its mode z+ = Lambda^-1 u
  is the Sigma^-1-weighted least-squares solution of A z = x - b (Proposition 1);
* manifold term       log int p(x | z) dz = log Z_z - log Z_x;
* closed form with z ~ N(0, I_M) (eq. 13 *corrected*, no + M/2 log 2 pi):
      log p(x) = 1/2 (u^T (I + Lambda)^-1 u - log|I + Lambda|) - log Z_x
               = log N(x | b, A A^T + Sigma).

Shapes: x (..., N), A (..., N, M), b (..., N), log_var (..., N); leading axes broadcast
(A may be shared by the batch, or be one matrix per example or per block). Every
inverse is a Cholesky factorisation and triangular solves (unrolled for blocks up to
SMALL_BLOCK x SMALL_BLOCK); log-determinants are
2 sum(log diag(chol)). Cost O(N M^2 + M^3) per distinct A, O(N M) per example.
"""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from nif_zoo import rng
from nif_zoo.flows.base import LOG_2PI
from nif_zoo.precision import exact


# ----------------------------------------------------------------------------- linear algebra
SMALL_BLOCK = 4
"""Factorisations of matrices up to this size are unrolled into elementwise arithmetic.

The upsampling NIF has one c_z x c_z block per latent pixel (thousands of 1x1 ... 4x4
blocks): a generic batched Cholesky / triangular solve pays a per-block overhead far above
the arithmetic, while the unrolled formulas fuse into a few vectorised loops and broadcast
one factor over the whole batch without copying it."""


def cholesky(matrix):
    """The lower Cholesky factor of symmetric positive definite ``matrix`` (..., M, M)
    (NaN where it is not positive definite, like ``jnp.linalg.cholesky``)."""
    m = matrix.shape[-1]
    if m > SMALL_BLOCK:
        return jnp.linalg.cholesky(matrix)
    factor = [[None] * m for _ in range(m)]
    for j in range(m):  # Cholesky-Banachiewicz, column by column
        diag = matrix[..., j, j]
        for k in range(j):
            diag = diag - factor[j][k] ** 2
        factor[j][j] = jnp.sqrt(diag)
        for i in range(j + 1, m):
            entry = matrix[..., i, j]
            for k in range(j):
                entry = entry - factor[i][k] * factor[j][k]
            factor[i][j] = entry / factor[j][j]
    zero = jnp.zeros_like(matrix[..., 0, 0])
    return jnp.stack([jnp.stack([factor[i][j] if j <= i else zero for j in range(m)], axis=-1)
                      for i in range(m)], axis=-2)


def substitute(chol, v, transpose: bool = False):
    """chol^-1 v by forward substitution (chol^-T v by back substitution), unrolled;
    chol (..., M, M) and v (..., M) broadcast against each other."""
    m = chol.shape[-1]
    out = [None] * m
    for i in (reversed(range(m)) if transpose else range(m)):
        acc = v[..., i]
        for j in (range(i + 1, m) if transpose else range(i)):
            acc = acc - (chol[..., j, i] if transpose else chol[..., i, j]) * out[j]
        out[i] = acc / chol[..., i, i]
    return jnp.stack(out, axis=-1)


def solve_lower(chol, v, transpose: bool = False):
    """chol^-1 v (or chol^-T v): chol (..., M, M) lower triangular, v (..., M); broadcasts.

    A factor shared by v's leading axes (chol (B..., M, M), v (n..., B..., M), B possibly
    empty: one factor for the whole batch) is solved once with those axes as right-hand-side
    columns, not copied per example."""
    m = chol.shape[-1]
    if m <= SMALL_BLOCK:
        return substitute(chol, v, transpose)
    blocks = chol.shape[:-2]
    extra = v.ndim - 1 - len(blocks)
    if extra > 0 and v.shape[extra:-1] == blocks:
        cols = jnp.moveaxis(v.reshape((-1,) + v.shape[extra:]), 0, -1)  # (B..., M, columns)
        out = jax.lax.linalg.triangular_solve(chol, cols, left_side=True, lower=True,
                                              transpose_a=transpose)
        return jnp.moveaxis(out, -1, 0).reshape(v.shape)
    batch = jnp.broadcast_shapes(chol.shape[:-2], v.shape[:-1])
    chol_b = jnp.broadcast_to(chol, batch + (m, m))
    v_b = jnp.broadcast_to(v, batch + (m,))[..., None]
    out = jax.lax.linalg.triangular_solve(
        chol_b, v_b, left_side=True, lower=True, transpose_a=transpose
    )
    return out[..., 0]


def cholesky_solve(chol, v):
    """(chol chol^T)^-1 v by two triangular solves."""
    return solve_lower(chol, solve_lower(chol, v), transpose=True)


def log_det_from_cholesky(chol):
    return 2.0 * jnp.sum(jnp.log(jnp.diagonal(chol, axis1=-2, axis2=-1)), axis=-1)


def with_identity(matrix):
    return matrix + jnp.eye(matrix.shape[-1], dtype=matrix.dtype)


# ----------------------------------------------------------------------------- eq. 12 quantities
def check_shapes(x, A, b, log_var):
    if A.ndim < 2:
        raise ValueError(f"A must have shape (..., N, M); got {A.shape}")
    n, m = A.shape[-2:]
    if m > n:
        raise ValueError(f"A maps R^M to R^N with M <= N; got N={n}, M={m}")
    for name, arr in (("x", x), ("b", b), ("log_var", log_var)):
        if arr.shape[-1] != n:
            raise ValueError(f"{name} must have last axis N={n} (rows of A); got shape {arr.shape}")


@jax.custom_jvp
def gram(B):
    """B^T B, shape (..., M, M). Its JVP is written as sym(B^T dB) (sym(X) = X + X^T), one
    product, so reverse mode also takes one product, B (G + G^T), where autodiff of the
    plain einsum takes two (one per appearance of B)."""
    return jnp.einsum("...nm,...nk->...mk", B, B)


@gram.defjvp
def _gram_jvp(primals, tangents):
    (B,), (dB,) = primals, tangents
    half = jnp.einsum("...nm,...nk->...mk", B, dB)
    return gram(B), half + jnp.swapaxes(half, -1, -2)


def precision(A, log_var):
    """Lambda = A^T Sigma^-1 A = B^T B with B = Sigma^-1/2 A, shape (..., M, M) (symmetric
    by construction; one product forward and one backward)."""
    return gram(A * jnp.exp(-0.5 * log_var)[..., None])


def projected_residual(mu, A, log_var):
    """u = A^T Sigma^-1 mu, shape (..., M)."""
    return jnp.einsum("...n,...nm->...m", mu * jnp.exp(-log_var), A)


def log_z_x(mu, log_var):
    """log Z_x = 1/2 (mu^T Sigma^-1 mu + log|Sigma| + N log 2 pi), shape (...)."""
    n = mu.shape[-1]
    quad = jnp.sum(mu * mu * jnp.exp(-log_var), axis=-1)
    return 0.5 * (quad + jnp.sum(log_var, axis=-1) + n * LOG_2PI)


def log_z_z(u, chol_lambda):
    """log Z_z = 1/2 (u^T Lambda^-1 u - log|Lambda| + M log 2 pi), Lambda = chol chol^T."""
    m = u.shape[-1]
    w = solve_lower(chol_lambda, u)
    return 0.5 * (jnp.sum(w * w, axis=-1) - log_det_from_cholesky(chol_lambda) + m * LOG_2PI)


class Statistics(NamedTuple):
    """The eq. 12 quantities of one call, shared by every function below."""

    mu: jax.Array
    u: jax.Array
    lam: jax.Array
    log_z_x: jax.Array


@exact
def statistics(x, A, b, log_var) -> Statistics:
    check_shapes(x, A, b, log_var)
    mu = x - b
    return Statistics(mu, projected_residual(mu, A, log_var), precision(A, log_var),
                      log_z_x(mu, log_var))


# ----------------------------------------------------------------------------- public functions
@exact
def manifold_term(x, A, b, log_var):
    """log int p(x | z) dz = log Z_z - log Z_x; replaces a bijection's log-det. Shape (...)."""
    st = statistics(x, A, b, log_var)
    return log_z_z(st.u, cholesky(st.lam)) - st.log_z_x


@exact
def log_marginal(x, A, b, log_var):
    """log p(x) with z ~ N(0, I_M): log N(x | b, A A^T + Sigma) (eq. 13 corrected). Shape (...)."""
    st = statistics(x, A, b, log_var)
    chol = cholesky(with_identity(st.lam))
    w = solve_lower(chol, st.u)
    return 0.5 * (jnp.sum(w * w, axis=-1) - log_det_from_cholesky(chol)) - st.log_z_x


@exact
def stochastic_inverse_mode(x, A, b, log_var):
    """z+ = Lambda^-1 u: the stochastic inverse's mode, the weighted least-squares solution
    of A z = x - b (Proposition 1). The default embedding. Shape (..., M)."""
    st = statistics(x, A, b, log_var)
    return cholesky_solve(cholesky(st.lam), st.u)


@exact
def posterior_mean(x, A, b, log_var):
    """(I + Lambda)^-1 u: the true posterior mean E[z | x] under z ~ N(0, I_M) (the authors'
    code's embedding; shrunk towards 0 compared with :func:`stochastic_inverse_mode`)."""
    st = statistics(x, A, b, log_var)
    return cholesky_solve(cholesky(with_identity(st.lam)), st.u)


@exact
def sample_stochastic_inverse(key, x, A, b, log_var):
    """z ~ q(z | x) = N(Lambda^-1 u, Lambda^-1), reparameterised: z = z+ + L^-T eps with
    Lambda = L L^T. Shape (..., M); gradients flow through it."""
    st = statistics(x, A, b, log_var)
    chol = cholesky(st.lam)
    mode = cholesky_solve(chol, st.u)
    eps = rng.normal(key, mode.shape, mode.dtype)
    return mode + solve_lower(chol, eps, transpose=True)


@exact
def log_stochastic_inverse(z, x, A, b, log_var):
    """log q(z | x) = log N(z | Lambda^-1 u, Lambda^-1). Shape (...)."""
    st = statistics(x, A, b, log_var)
    chol = cholesky(st.lam)
    diff = z - cholesky_solve(chol, st.u)
    # (z - z+)^T Lambda (z - z+) = |L^T (z - z+)|^2
    w = jnp.einsum("...nm,...n->...m", chol, diff)
    m = z.shape[-1]
    return 0.5 * (log_det_from_cholesky(chol) - jnp.sum(w * w, axis=-1) - m * LOG_2PI)


@exact
def elbo_standard_normal(x, A, b, log_var):
    """ELBO (eq. 9) with z ~ N(0, I_M) in closed form:
    E_q[log N(z | 0, I)] = -1/2 (|z+|^2 + tr(Lambda^-1) + M log 2 pi), plus the manifold term.
    A lower bound of :func:`log_marginal`. Shape (...)."""
    st = statistics(x, A, b, log_var)
    chol = cholesky(st.lam)
    mode = cholesky_solve(chol, st.u)
    m = mode.shape[-1]
    # tr(Lambda^-1) = |L^-1|_F^2; column j of L^-1 is L^-1 e_j: the identity's columns as
    # a leading axis, so one solve serves them all
    columns = jnp.moveaxis(jnp.broadcast_to(jnp.eye(m, dtype=chol.dtype), chol.shape), -1, 0)
    chol_inv_cols = solve_lower(chol, columns)
    trace_cov = jnp.sum(chol_inv_cols * chol_inv_cols, axis=(0, -1))
    expected_log_prior = -0.5 * (jnp.sum(mode * mode, axis=-1) + trace_cov + m * LOG_2PI)
    return expected_log_prior + log_z_z(st.u, chol) - st.log_z_x


@exact
def decode_mean(z, A, b):
    """The point on the manifold: A z + b. z (..., M) -> (..., N)."""
    return jnp.einsum("...nm,...m->...n", A, z) + b


NOISE_FORMS = ("paper", "isotropic", "authors")
"""How decode's off-manifold noise of scale s is drawn (eps ~ N(0, I)):

* ``"paper"``: N(0, s Sigma), i.e. sqrt(s) Sigma^(1/2) eps (paper sec. 5.2; the default);
* ``"isotropic"``: N(0, s I), i.e. sqrt(s) eps;
* ``"authors"``: s eps, standard deviation s, isotropic: the authors' code
  (``AffineGaussianPriorDiagCov.inverse`` in their ``non_dim_preserving.py``), so their FID
  grid of s, linspace(0, 1.2, 15), is in units of standard deviation.
"""


def check_noise_form(noise_form: str) -> str:
    if noise_form not in NOISE_FORMS:
        raise ValueError(f"noise_form must be one of {NOISE_FORMS}; got {noise_form!r}")
    return noise_form


def noise_std(log_var, s, noise_form="paper"):
    """The noise's standard deviation per dimension (see :data:`NOISE_FORMS`)."""
    check_noise_form(noise_form)
    if noise_form == "paper":
        return jnp.sqrt(s) * jnp.exp(0.5 * log_var)
    scale = jnp.sqrt(s) if noise_form == "isotropic" else jnp.asarray(s, log_var.dtype)
    return scale * jnp.ones_like(log_var)


def noise(key, shape, log_var, s=1.0, noise_form="paper"):
    """noise_std(log_var, s, noise_form) * eps, eps ~ N(0, I) of ``shape``."""
    return noise_std(log_var, s, noise_form) * rng.normal(key, shape, log_var.dtype)


@exact
def generate(key, z, A, b, log_var, s=1.0, noise_form="paper"):
    """x ~ N(A z + b, s Sigma) (paper sec. 5.2), or another of the :data:`NOISE_FORMS`
    (``"authors"``: A z + b + s eps, the authors' code). s = 0 returns the manifold point
    A z + b exactly. With z = t * eps_z this is x = A (t eps_z) + b + sqrt(s) Sigma^(1/2) eps_x."""
    mean = decode_mean(z, A, b)
    return mean + noise(key, mean.shape, log_var, s, noise_form)
