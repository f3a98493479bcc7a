"""Stride-1 "SAME" convolutions of NHWC images: matrix products on CPU, XLA's convolution
on accelerators, one parameter layout.

``conv`` (a model option, :data:`CONV_FORMS`) chooses the form:

* ``"matmul"``: :func:`conv_same` below (what XLA:CPU runs fastest);
* ``"lax"``: ``lax.conv_general_dilated`` (cuDNN on NVIDIA GPUs, XLA's own tiling on TPU:
  what JAX users and XLA expect there; no im2col intermediate);
* ``"auto"`` (default): matmul on CPU and lax elsewhere, chosen *inside* the compiled
  program by ``lax.platform_dependent``, so a program lowered or exported for a platform
  (``jit(...).lower``, ``jax.export`` with several platforms) carries that platform's form.

Both forms compute the same convolution (equal to float rounding, tested on every bundled
checkpoint). 1x1 kernels are one matrix product in every form.

The matrix-product forms:

For a k x k kernel K (k, k, C_in, C_out) and p = k // 2,

    y[n, i, j] = sum_{a, b < k} x_pad[n, i + a, j + b] K[a, b]       (x_pad: x padded by p)

evaluated without a convolution op, in one of two ways:

* ``conv_by_patches``: gather the k^2 shifted copies of x into (n, H, W, k^2 C_in) and
  multiply by K as a (k^2 C_in, C_out) matrix (im2col). Cheap when C_in is small.
* ``conv_by_shifted_products``: multiply x by K as a (C_in, k^2 C_out) matrix once, giving
  every pixel's contribution to each of its k^2 neighbours, then sum the k^2 shifted slices.
  Cheap when C_out is small.

:func:`conv_same` picks the one whose k^2-times-larger intermediate sits on the narrower
side. Why: on XLA:CPU the kernel gradient of a convolution op goes through large layout
transposes (and, inside a ``lax.scan`` body, through a naive loop emitter), while these
forms differentiate into plain matrix products (measured in ``BENCHMARKS.md``).
Parameters (every form) are those of
``flax.linen.Conv`` (``kernel`` (k, k, C_in, C_out), ``bias`` (C_out,)), so checkpoints
written with ``nn.Conv`` load unchanged.
"""
from __future__ import annotations

import warnings
from typing import Callable

import flax.linen as nn
import jax.numpy as jnp
from jax import lax

CONV_FORMS = ("auto", "matmul", "lax")


def pad_spatial(x, p: int):
    return jnp.pad(x, [(0, 0)] * (x.ndim - 3) + [(p, p), (p, p), (0, 0)])


def patches(x, k: int):
    """(..., H, W, k, k, C): entry (a, b) is x_pad[i + a, j + b], x_pad = x zero-padded by
    p = k // 2."""
    h, w = x.shape[-3:-1]
    xp = pad_spatial(x, k // 2)
    return jnp.stack([jnp.stack([xp[..., a:a + h, b:b + w, :] for b in range(k)], axis=-2)
                      for a in range(k)], axis=-3)


def conv_by_patches(x, kernel):
    """im2col: (..., H, W, k^2 C_in) patches times the (k^2 C_in, C_out) kernel matrix."""
    return jnp.einsum("...abc,abcd->...d", patches(x, kernel.shape[0]), kernel)


def shifted_sum(per_offset):
    """sum_{a, b} per_offset_pad[i + a, j + b, a, b]: (..., H, W, k, k, C) -> (..., H, W, C)."""
    k = per_offset.shape[-3]
    h, w = per_offset.shape[-5:-3]
    # one split (its gradient is one concatenation), then a zero-filled shift per offset
    offsets = jnp.split(per_offset.reshape(per_offset.shape[:-3] + (-1,)), k * k, axis=-1)
    out = 0.0
    for index, contribution in enumerate(offsets):
        a, b = divmod(index, k)
        out = out + pad_spatial(contribution, k // 2)[..., a:a + h, b:b + w, :]
    return out


def conv_by_shifted_products(x, kernel):
    """Every pixel times the (C_in, k^2 C_out) kernel matrix, then the k^2 shifted sums."""
    return shifted_sum(jnp.einsum("...c,abcd->...abd", x, kernel))


def check_kernel(x, kernel):
    k, k2, c_in, _ = kernel.shape
    if k != k2 or k % 2 == 0:
        raise ValueError(f"a SAME convolution here needs an odd square kernel; got {kernel.shape}")
    if x.shape[-1] != c_in:
        raise ValueError(f"input has {x.shape[-1]} channels, kernel expects {c_in}")


def conv_same(x, kernel):
    """y = x * kernel, stride 1, SAME zero padding, k odd, as matrix products (the
    narrow side's k^2 intermediate; see the module docstring)."""
    check_kernel(x, kernel)
    k, _, c_in, c_out = kernel.shape
    if k == 1:
        return jnp.einsum("...c,cd->...d", x, kernel[0, 0])
    if c_in <= c_out:
        return conv_by_patches(x, kernel)
    return conv_by_shifted_products(x, kernel)


def conv_lax(x, kernel):
    """The same convolution by ``lax.conv_general_dilated`` (NHWC, HWIO); leading axes
    beyond one batch axis are flattened into it."""
    check_kernel(x, kernel)
    if kernel.shape[0] == 1:
        return jnp.einsum("...c,cd->...d", x, kernel[0, 0])
    lead = x.shape[:-3]
    flat = x.reshape((-1,) + x.shape[-3:])
    y = lax.conv_general_dilated(flat, kernel, (1, 1), "SAME",
                                 dimension_numbers=("NHWC", "HWIO", "NHWC"))
    return y.reshape(lead + y.shape[1:])


def conv_auto(x, kernel):
    """matmul form on CPU, lax elsewhere, picked when the program is lowered for a platform."""
    return lax.platform_dependent(x, kernel, cpu=conv_same, default=conv_lax)


def check_conv_form(form: str) -> str:
    if form not in CONV_FORMS:
        raise ValueError(f"conv must be one of {CONV_FORMS}; got {form!r}")
    return form


CONVOLUTIONS = {"auto": conv_auto, "matmul": conv_same, "lax": conv_lax}
_warned_lax_on_cpu = []


def warn_lax_on_cpu():
    """Once per process: ``conv="lax"`` traced for a CPU backend trains ~18x slower there."""
    import jax

    if not _warned_lax_on_cpu and jax.default_backend() == "cpu":
        _warned_lax_on_cpu.append(True)
        warnings.warn('conv="lax" on a CPU: XLA:CPU runs the convolution op\'s backward pass '
                      'slowly (training ~15x slower than the matrix-product form, sampling '
                      '~0.9x; BENCHMARKS.md); conv="auto" picks the fast form per platform',
                      RuntimeWarning, stacklevel=3)


def convolve(x, kernel, form: str = "auto"):
    """y = x * kernel (stride 1, SAME) in the form ``form`` (:data:`CONV_FORMS`)."""
    if check_conv_form(form) == "lax":
        warn_lax_on_cpu()
    return CONVOLUTIONS[form](x, kernel)


class Conv(nn.Module):
    """``nn.Conv(features, (k, k), padding="SAME")`` evaluated by :func:`convolve` in the
    form ``conv`` (``"auto"``, ``"matmul"`` or ``"lax"``)."""

    features: int
    kernel_size: int = 3
    kernel_init: Callable = nn.initializers.lecun_normal()
    bias_init: Callable = nn.initializers.zeros
    conv: str = "auto"

    @nn.compact
    def __call__(self, x):
        k = self.kernel_size
        kernel = self.param("kernel", self.kernel_init, (k, k, x.shape[-1], self.features))
        bias = self.param("bias", self.bias_init, (self.features,))
        return convolve(x, kernel, self.conv) + bias
