"""Random draws and initialisers that compile fast, and the random bits they are made of.

Which numbers a key gives depends on JAX's ``jax_threefry_partitionable`` setting, whose
default turned from False to True in JAX 0.5: on an older JAX the same seed samples
different images, and the cards' numbers (measured with the newer default) do not
reproduce exactly. :func:`newer_jax_random_bits` turns the setting on where JAX has the old
default; the ``nif-zoo`` command calls it, and a library user on JAX < 0.5 who wants the
zoo's numbers calls it once at start-up.

XLA on CPU compiles JAX's threefry sampler for multi-axis shapes slowly (seconds per
distinct shape, seen with shape (3, 3, 4, 8)); drawing a flat vector and reshaping
compiles in a fraction of that and is the same distribution. Everything in nif-zoo
draws through these functions.
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp


def newer_jax_random_bits() -> bool:
    """Make keys give the random bits of JAX >= 0.5 (``jax_threefry_partitionable=True``, the
    default there) on any JAX. Returns whether it changed the setting (False where it was
    already on). Call it before drawing: compiled programs keep the bits they were traced
    with."""
    if jax.config.jax_threefry_partitionable:
        return False
    jax.config.update("jax_threefry_partitionable", True)
    return True


def normal(key, shape, dtype=jnp.float32):
    """Standard normal draws of ``shape`` (drawn flat, then reshaped)."""
    shape = tuple(shape)
    return jax.random.normal(key, (math.prod(shape),), dtype).reshape(shape)


def uniform(key, shape, dtype=jnp.float32, minval=0.0, maxval=1.0):
    """Uniform [minval, maxval) draws of ``shape`` (drawn flat, then reshaped)."""
    shape = tuple(shape)
    return jax.random.uniform(key, (math.prod(shape),), dtype, minval, maxval).reshape(shape)


def fan_in_normal(key, shape, dtype=jnp.float32):
    """N(0, 1 / fan_in) kernel initialiser (LeCun normal, untruncated); fan_in is the
    product of all axes but the last (a Dense kernel (in, out), a conv kernel (kh, kw, in, out))."""
    fan_in = math.prod(shape[:-1])
    return normal(key, shape, dtype) / math.sqrt(max(fan_in, 1))


def orthogonal(key, shape, dtype=jnp.float32):
    """A (rows, cols) matrix with orthonormal columns (rows >= cols) or rows, from the QR
    of a Gaussian matrix with signs fixed so the distribution is uniform (Haar)."""
    rows, cols = shape
    tall = rows >= cols
    q, r = jnp.linalg.qr(normal(key, (rows, cols) if tall else (cols, rows), dtype))
    q = q * jnp.sign(jnp.diag(r))[None, :]
    return q if tall else q.T
