"""Closed-form refit of a Gaussian NIF's (b, A, Sigma) with the flow held fixed: SPEC
section 2, "Closed-form refit ... (factor analysis EM)".

With the flow's latents y_n (n = 1..D) fixed and z ~ N(0, I_M), the NIF prior is factor
analysis, y = A z + b + e, e ~ N(0, Sigma) diagonal, whose likelihood is
N(y | b, A A^T + Sigma) (:func:`nif_zoo.nif.gaussian.log_marginal`). Its maximum-likelihood
b is mean(y) for every (A, Sigma); EM for A and Sigma never lowers the likelihood:

    E-step  G = (I + A^T Sigma^-1 A)^-1                   posterior covariance
            m_n = G A^T Sigma^-1 (y_n - b)                 posterior mean, (I + Lambda)^-1 u
            E[z z^T | y_n] = G + m_n m_n^T
    M-step  A = [sum_n (y_n - b) m_n^T] [D G + sum_n m_n m_n^T]^-1
            Sigma = diag((1/D) sum_n E[(y_n - b - A z)^2]), floored at ``floor``.

Everything here is written for *blocked* latents, so one code path serves both NIF forms:
y has shape (n, B, R), every block shares A (R, M), and b, log_var have shape (B, R):

* dense NIF: one block, B = 1, R = N (the textbook EM above);
* nearest-neighbour upsampling NIF (SPEC section 3): B = h w latent pixels, R = f^2 c_x,
  A = W shared by all blocks, Sigma per pixel. Row r of W then solves a Sigma-weighted
  least-squares problem over all blocks (the weights 1/sigma^2_{B r} differ per block):
      W_r = [sum_B w_Br (D G_B + S_mm,B)]^-1 [sum_B w_Br S_ym,B,r]      (an M x M solve per row)
  followed by Sigma given the new W: a conditional maximisation step (ECM), which still
  never lowers the likelihood. With B = 1 the weights cancel and this is exact EM.

Sums stream over batches (:func:`accumulate` adds one batch to :class:`Sums`, in float64
on the host), so D may be a whole training set; the N x N sample covariance is never formed.
"""
from __future__ import annotations

from typing import Callable, Iterable, List, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from nif_zoo.flows.reshape import space_to_depth
from nif_zoo.nif import gaussian

DEFAULT_FLOOR = 1e-6
"""Smallest variance Sigma may take (a latent dimension the data never varies in)."""


class Sums(NamedTuple):
    """Sufficient statistics of one E-step over D points, per block (float64 on the host).

    count D; log_lik sum_n log N(y_n | b, A A^T + Sigma) at the parameters of the E-step;
    sum_y (B, R) sum_n y_n (for the mean); sum_rr (B, R) sum_n (y_n - b)^2;
    sum_rm (B, R, M) sum_n (y_n - b) m_n^T; sum_mm (B, M, M) sum_n m_n m_n^T."""

    count: int
    log_lik: float
    sum_y: np.ndarray
    sum_rr: np.ndarray
    sum_rm: np.ndarray
    sum_mm: np.ndarray


def check_blocked(y, A, b, log_var):
    if y.ndim != 3 or A.ndim != 2 or b.shape != y.shape[1:] or log_var.shape != y.shape[1:]:
        raise ValueError(f"expected y (n, B, R), A (R, M), b and log_var (B, R); got y "
                         f"{y.shape}, A {A.shape}, b {b.shape}, log_var {log_var.shape}")
    if A.shape[0] != y.shape[-1] or A.shape[1] > A.shape[0]:
        raise ValueError(f"A must be (R, M) with R = {y.shape[-1]} >= M; got {A.shape}")


def posterior_factor(A, log_var):
    """Cholesky factor of I + Lambda = I + A^T Sigma^-1 A, per block: (B, M, M)."""
    return gaussian.cholesky(gaussian.with_identity(gaussian.precision(A, log_var)))


@jax.jit
def posterior_covariance(A, log_var):
    """G = (I + Lambda)^-1 per block, (B, M, M), by Cholesky solves of the identity."""
    chol = posterior_factor(A, log_var)
    m = A.shape[-1]
    eye = jnp.broadcast_to(jnp.eye(m, dtype=chol.dtype), chol.shape)
    columns = jnp.moveaxis(eye, -1, 0)  # (M, B, M): the identity's columns as a batch
    return jnp.moveaxis(gaussian.cholesky_solve(chol, columns), 0, -1)


@jax.jit
def batch_statistics(y, A, b, log_var):
    """One batch's E-step terms: (log_lik, sum_y, sum_rr, sum_rm, sum_mm), float32."""
    r = y - b
    chol = posterior_factor(A, log_var)
    u = gaussian.projected_residual(r, A, log_var)                     # (n, B, M)
    w = gaussian.solve_lower(chol, u)
    m = gaussian.solve_lower(chol, w, transpose=True)                   # (I + Lambda)^-1 u
    log_lik = (0.5 * (jnp.sum(w * w, axis=-1) - gaussian.log_det_from_cholesky(chol))
               - gaussian.log_z_x(r, log_var))                          # (n, B): eq. 13
    return (jnp.sum(log_lik), jnp.sum(y, axis=0), jnp.sum(r * r, axis=0),
            jnp.einsum("nbr,nbm->brm", r, m), jnp.einsum("nbm,nbk->bmk", m, m))


def accumulate(batches: Iterable, A, b, log_var) -> Sums:
    """The E-step over all ``batches`` (arrays (n, B, R)) at parameters (A, b, log_var)."""
    totals: Optional[List[np.ndarray]] = None
    count = 0
    for y in batches:
        y = jnp.asarray(y, jnp.float32)
        check_blocked(y, A, b, log_var)
        parts = [np.asarray(v, np.float64) for v in batch_statistics(y, A, b, log_var)]
        totals = parts if totals is None else [t + p for t, p in zip(totals, parts)]
        count += y.shape[0]
    if totals is None:
        raise ValueError("no data: the batches were empty")
    return Sums(count, float(totals[0]), *totals[1:])


def mean_of(sums: Sums) -> np.ndarray:
    """The maximum-likelihood b: the mean of the y_n, (B, R)."""
    return sums.sum_y / sums.count


def m_step(sums: Sums, A, log_var, floor: float = DEFAULT_FLOOR):
    """New (A, log_var) from the E-step sums taken at (A, b, log_var); b is unchanged
    (it must already be the mean for the E-step's likelihood to be the maximum over b)."""
    d = sums.count
    g = np.asarray(posterior_covariance(jnp.asarray(A), jnp.asarray(log_var)), np.float64)
    second = d * g + sums.sum_mm                       # sum_n E[z z^T | y_n], (B, M, M)
    if sums.sum_rm.shape[0] == 1:                      # one block: exact EM, weights cancel
        new_a = np.linalg.solve(second[0], sums.sum_rm[0].T).T
    else:                                              # shared W, per-block Sigma: ECM
        weight = np.exp(-np.asarray(log_var, np.float64))             # (B, R)
        lhs = np.einsum("br,bmk->rmk", weight, second)                  # (R, M, M)
        rhs = np.einsum("br,brm->rm", weight, sums.sum_rm)              # (R, M)
        new_a = np.linalg.solve(lhs, rhs[..., None])[..., 0]
    # (1/D) sum_n E[(y_n - b - A z)^2] per block and row, with the new A
    residual = (sums.sum_rr - 2.0 * np.einsum("rm,brm->br", new_a, sums.sum_rm)
                + np.einsum("rm,bmk,rk->br", new_a, second, new_a)) / d
    new_log_var = np.log(np.maximum(residual, floor))
    return new_a.astype(np.float32), new_log_var.astype(np.float32)


class FitStep(NamedTuple):
    iteration: int       # EM steps taken; -1: the starting parameters (b, A, Sigma as given)
    mean_log_lik: float  # (1/D) sum_n log N(y_n | b, A A^T + Sigma), nats per point
    heldout_mean_log_lik: Optional[float] = None  # the same on the held-out points, if any


class FitResult(NamedTuple):
    A: jnp.ndarray
    b: jnp.ndarray
    log_var: jnp.ndarray
    history: List[FitStep]  # history[0] at the mean b and the initial A, Sigma; then per step
    kept: int               # the iteration whose parameters these are (-1: the start)
    start: Optional[FitStep] = None  # the starting parameters' fit (with held-out points)


def fit(batches: Callable[[], Iterable], A, b, log_var, *, iterations: int = 100,
        tol: float = 1e-4, floor: float = DEFAULT_FLOOR,
        heldout: Optional[Callable[[], Iterable]] = None, patience: int = 3,
        callback: Optional[Callable[[FitStep], None]] = None) -> FitResult:
    """Refit (b, A, log_var) to the data streamed by ``batches()`` (called once per pass;
    arrays (n, B, R)), starting from the given A and log_var (warm start): b = mean, then
    up to ``iterations`` EM steps, stopping early when the mean log-likelihood per point
    rises by less than ``tol`` nats. ``history[k]`` is the mean log-likelihood after k steps
    (``history[0]`` at the mean b and the initial A, Sigma); it never decreases (up to float
    rounding).

    Without ``heldout`` the last step's parameters are returned (``kept`` = its iteration).
    With held-out points (``heldout()`` streams them like ``batches()``) the fit is early
    stopped on them: their mean log-likelihood is measured at the start (iteration -1: the
    parameters as given), at the mean b and after every EM step, EM stops once it has not
    improved for ``patience`` steps, and the parameters of the best of these are returned,
    the start included: a refit that does not generalise leaves the parameters unchanged."""
    if iterations < 0:
        raise ValueError(f"iterations must be >= 0; got {iterations}")
    if patience < 1:
        raise ValueError(f"patience must be >= 1; got {patience}")
    A = jnp.asarray(A, jnp.float32)
    log_var = jnp.asarray(log_var, jnp.float32)
    b0 = jnp.asarray(b, jnp.float32)

    def heldout_log_lik(A, b, log_var):
        if heldout is None:
            return None
        sums = accumulate(heldout(), A, b, log_var)
        return sums.log_lik / sums.count

    sums = accumulate(batches(), A, b0, log_var)
    start = FitStep(-1, sums.log_lik / sums.count, heldout_log_lik(A, b0, log_var))
    best = (start.heldout_mean_log_lik, -1, (A, b0, log_var))
    b = jnp.asarray(mean_of(sums), jnp.float32)
    sums = accumulate(batches(), A, b, log_var)
    history: List[FitStep] = [FitStep(0, sums.log_lik / sums.count,
                                      heldout_log_lik(A, b, log_var))]
    if callback:
        callback(history[-1])
    for k in range(0, iterations + 1):
        if k:
            new_a, new_log_var = m_step(sums, A, log_var, floor)
            new_sums = accumulate(batches(), new_a, b, new_log_var)
            A, log_var, sums = jnp.asarray(new_a), jnp.asarray(new_log_var), new_sums
            history.append(FitStep(k, sums.log_lik / sums.count, heldout_log_lik(A, b, log_var)))
            if callback:
                callback(history[-1])
        step = history[-1]
        if heldout is None or step.heldout_mean_log_lik > best[0]:
            best = (step.heldout_mean_log_lik, k, (A, b, log_var))
        if heldout is not None and k - max(best[1], 0) >= patience:
            break  # no better on the held-out points for ``patience`` steps
        if k and history[-1].mean_log_lik - history[-2].mean_log_lik < tol:
            break
    _, kept, (A, b, log_var) = best
    return FitResult(A, b, log_var, history, kept, start)


# ----------------------------------------------------------------------------- a start in closed form
def principal_init(batches: Iterable, latent_dim: int, floor: float = DEFAULT_FLOOR):
    """(A, b, log_var) of probabilistic PCA (Tipping & Bishop 1999) of blocked data streamed
    as arrays (n, B, R): b the per-block mean, and from the eigen-decomposition
    S = U diag(lambda) U^T of the centred blocks' pooled covariance (R x R, float64),

        sigma^2 = mean(lambda_{M+1} .. lambda_R),   A = U_M diag(sqrt(max(lambda_i - sigma^2, 0)))

    (Sigma = sigma^2 I in every block). With one block this is the maximum-likelihood
    N(b, A A^T + sigma^2 I); with B blocks sharing A and sigma^2 it is the maximum over that
    family too (the blocks' likelihood depends on the data through the pooled S only). The
    family holds A = 0, b = 0, Sigma = I, i.e. N(0, I): the start is never below it, and EM
    (:func:`fit`) only climbs from there. Memory O(R^2)."""
    count, sum_y, sum_outer = 0, None, None
    for y in batches:
        y = np.asarray(y, np.float64)
        if y.ndim != 3:
            raise ValueError(f"expected blocked data (n, B, R); got shape {y.shape}")
        part_y, part_outer = y.sum(axis=0), np.einsum("nbr,nbs->rs", y, y)
        sum_y = part_y if sum_y is None else sum_y + part_y
        sum_outer = part_outer if sum_outer is None else sum_outer + part_outer
        count += y.shape[0]
    if sum_y is None:
        raise ValueError("no data: the batches were empty")
    blocks, r = sum_y.shape
    if not 0 < latent_dim <= r:
        raise ValueError(f"latent_dim must be in [1, R = {r}]; got {latent_dim}")
    mean = sum_y / count
    pooled = (sum_outer - count * np.einsum("br,bs->rs", mean, mean)) / (count * blocks)
    eigenvalues, vectors = np.linalg.eigh((pooled + pooled.T) / 2)
    eigenvalues, vectors = eigenvalues[::-1], vectors[:, ::-1]          # descending
    rest = eigenvalues[latent_dim:]
    sigma2 = max(float(rest.mean()) if rest.size else floor, floor)
    scale = np.sqrt(np.maximum(eigenvalues[:latent_dim] - sigma2, 0.0))
    A = vectors[:, :latent_dim] * scale
    log_var = np.full((blocks, r), np.log(sigma2))
    return A.astype(np.float32), mean.astype(np.float32), log_var.astype(np.float32)


# ----------------------------------------------------------------------------- block layouts
def dense_blocks(y):
    """A dense NIF's latents (n, ...) as one block: (n, 1, N)."""
    return y.reshape(y.shape[0], 1, -1)


def upsample_blocks(y, factor: int):
    """An upsampling NIF's latent images (n, f h, f w, c) as (n, h w, f^2 c) blocks."""
    blocks = space_to_depth(y, factor)
    return blocks.reshape(blocks.shape[0], -1, blocks.shape[-1])

