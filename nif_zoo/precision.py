"""Full float32 where invertibility lives, whatever JAX's global matmul precision.

On recent NVIDIA GPUs JAX's default float32 matrix product is TF32 (a 10-bit mantissa) and on
TPUs it is one bfloat16 pass (8 bits): a flow's inverse then undoes its forward pass only to
about 3 digits, and a log-determinant or a Gaussian NIF's Cholesky solve loses as much. The
functions that must be exact are decorated with :func:`exact`, which traces them under
``jax.default_matmul_precision("highest")``: every matrix product inside them is lowered
with ``precision = HIGHEST`` (full float32; tested on the lowered program), and their
gradients inherit it. They are:

* the invertible 1x1 convolution (:mod:`nif_zoo.flows.conv1x1`): W = P L U, its inverse
  U^-1 L^-1 P^T, and both applied to every pixel;
* the Gaussian NIF (:mod:`nif_zoo.nif.gaussian`, :mod:`nif_zoo.nif.upsample`): Lambda,
  the projected residuals, the Cholesky solves, A z + b.

The coupling's affine map (x_b + shift) * scale is elementwise (no matrix product); its
conditioner network may run at the global precision: forward and inverse evaluate it on the
same x_a, so its rounding cancels in the round trip. The global setting (``jax.config.update
("jax_default_matmul_precision", ...)``) still governs everything else, e.g. the
conditioners' convolutions, where TF32 is the speed users expect.
"""
from __future__ import annotations

import functools

import jax

EXACT = "float32"
"""Full float32 products, lowered as ``precision = HIGHEST``: JAX's name for it in every
version (``"highest"`` is an alias that JAX before 0.4.31 does not know)."""


def exact(fn):
    """``fn`` traced under ``jax.default_matmul_precision("float32")`` (= ``"highest"``)."""
    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        with jax.default_matmul_precision(EXACT):
            return fn(*args, **kwargs)
    return wrapped
