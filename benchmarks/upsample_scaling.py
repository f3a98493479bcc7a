"""The O(dim z) nearest-neighbour upsampling NIF vs the dense Gaussian NIF: log_marginal of a
batch of 64 images for dim z = 64 ... 4096 (f = 2, one latent channel, so N = 4 dim z).

    python -m benchmarks.upsample_scaling [--max-dense 4096] [--repeats 5]

Prints, per dim z, the median time of each form (jit-compiled, compile excluded), their
ratio, and the upsampling form's time per latent dimension (flat = linear cost).
"""
from __future__ import annotations

import nif_zoo
import argparse

import jax
import jax.numpy as jnp

from benchmarks.timing import median_seconds
from nif_zoo import rng
from nif_zoo.nif import gaussian, upsample

FACTOR = 2
BATCH = 64


def dense_matrix(W, h, w):
    """The explicit N x M matrix A of the upsampling form (for the dense peer)."""
    n_rows = (FACTOR * h) * (FACTOR * w)
    eye = jnp.eye(h * w).reshape(h * w, h, w, 1)
    # column m of A: decode the one-hot latent m (z pixel m, channel 0)
    cols = jax.vmap(lambda z: upsample.decode_mean(z, W, jnp.zeros((FACTOR * h, FACTOR * w, 1)),
                                                   FACTOR))(eye)
    return cols.reshape(h * w, n_rows).T


def case(dim_z, key, include_dense, repeats):
    side = int(round(dim_z ** 0.5))
    h = w = side
    k1, k2, k3, k4 = jax.random.split(key, 4)
    W = rng.normal(k1, (FACTOR * FACTOR, 1))
    b = 0.1 * rng.normal(k2, (FACTOR * h, FACTOR * w, 1))
    log_var = -1.0 + 0.1 * rng.normal(k3, (FACTOR * h, FACTOR * w, 1))
    x = rng.normal(k4, (BATCH, FACTOR * h, FACTOR * w, 1))
    # parameters are arguments, as in training (no constant folding of Lambda)
    up = jax.jit(lambda x, W, b, lv: upsample.log_marginal(x, W, b, lv, FACTOR))
    t_up = median_seconds(lambda: up(x, W, b, log_var).block_until_ready(), repeats=repeats)
    t_dense = None
    if include_dense:
        A = dense_matrix(W, h, w)
        # the dense form sees pixels in row-major order; A's rows are in that order too
        flat = x.reshape(BATCH, -1)
        bf, lvf = b.reshape(-1), log_var.reshape(-1)
        dense = jax.jit(gaussian.log_marginal)
        ref, got = dense(flat, A, bf, lvf), up(x, W, b, log_var)
        err = float(jnp.max(jnp.abs(ref - got)) / jnp.max(jnp.abs(ref)))
        assert err < 1e-3, f"dense and upsampling forms disagree (rel {err:.2e}) at dim z {dim_z}"
        t_dense = median_seconds(lambda: dense(flat, A, bf, lvf).block_until_ready(), repeats=3)
    return t_up, t_dense


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-dense", type=int, default=4096,
                        help="largest dim z for the dense peer (4096)")
    parser.add_argument("--repeats", type=int, default=51,
                        help="calls of the upsampling form per dim z (median; the dense: 3)")
    args = parser.parse_args(argv)
    print(f"log_marginal, batch {BATCH}, f = {FACTOR}, N = 4 dim z; {jax.devices()[0].device_kind}, "
          f"{jax.device_count()} device(s)")
    print("| dim z | N | upsample (ms) | upsample ns per dim z per image | dense (ms) | dense / upsample |")
    print("|---|---|---|---|---|---|")
    key = jax.random.key(0)
    for dim_z in (64, 256, 1024, 4096):
        t_up, t_dense = case(dim_z, jax.random.fold_in(key, dim_z), dim_z <= args.max_dense,
                              args.repeats)
        per = t_up / dim_z / BATCH * 1e9
        dense = f"{t_dense * 1e3:.1f}" if t_dense is not None else "skipped"
        ratio = f"{t_dense / t_up:.0f}x" if t_dense is not None else "-"
        print(f"| {dim_z} | {4 * dim_z} | {t_up * 1e3:.2f} | {per:.1f} | {dense} | {ratio} |",
              flush=True)


if __name__ == "__main__":
    nif_zoo.use_all_cores()  # one CPU device per core (nif_zoo.devices), before JAX runs
    main()
