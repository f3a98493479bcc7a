"""The one protocol every layer in ``nif_zoo.flows`` and ``nif_zoo.nif`` follows.

A layer is a :class:`flax.linen.Module` whose ``__call__(x, reverse=False)``
returns ``(y, log_det)``:

* ``reverse=False`` is the *normalizing* direction, data -> latent;
  ``log_det = log|det dy/dx|``.
* ``reverse=True`` is the *generative* direction, latent -> data;
  ``log_det = log|det dx/dz|`` of that map (the negative of the forward one).

``log_det`` has shape ``(n,)``: axis 0 of every input is the batch axis.
``forward(x)`` and ``inverse(y)`` are the two directions by name. Parameters are
declared once at the top of ``__call__`` (so data-dependent initialisation sees the
data), and both directions sit next to each other below them.
"""
from __future__ import annotations

from typing import Tuple

import flax.linen as nn
import jax
import jax.numpy as jnp

Array = jax.Array


class Bijection(nn.Module):
    """Base class: ``forward``/``inverse`` by name over ``__call__(x, reverse)``."""

    def forward(self, x: Array) -> Tuple[Array, Array]:
        """Data -> latent. Returns ``(y, log|det dy/dx|)``, log-det shape ``(n,)``."""
        return self(x, reverse=False)

    def inverse(self, y: Array) -> Tuple[Array, Array]:
        """Latent -> data. Returns ``(x, log|det dx/dy|)``, log-det shape ``(n,)``."""
        return self(y, reverse=True)


def zero_log_det(x: Array) -> Array:
    """The ``(n,)`` log-determinant of a volume-preserving layer."""
    return jnp.zeros(x.shape[:1], dtype=x.dtype)


def num_positions(x: Array) -> int:
    """Positions sharing one per-channel parameter: H*W for images, 1 for vectors."""
    size = 1
    for d in x.shape[1:-1]:
        size *= d
    return size
