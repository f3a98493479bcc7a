"""The batching and keying helpers of ``Model``: seeds to keys, padded batches, per-example
keys (``fold_in(key, index)``: results do not depend on the batch size or the device count),
and the checks of image and latent arguments that need JAX."""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from nif_zoo import rng
from nif_zoo.data import quantize
from nif_zoo.models.validation import check_images


def as_key(seed_or_key):
    """An int seed or a JAX key -> a JAX key."""
    if isinstance(seed_or_key, (int, np.integer)) and not isinstance(seed_or_key, bool):
        return jax.random.key(int(seed_or_key))
    if isinstance(seed_or_key, jax.Array):
        return seed_or_key
    raise ValueError(f"expected an int seed or a jax.random key; got {seed_or_key!r}")


def batches(num: int, batch_size: int):
    """(start, stop) chunks of ``range(num)``."""
    for start in range(0, num, batch_size):
        yield start, min(start + batch_size, num)


def pad_to(arr, size: int):
    """Pad axis 0 to ``size`` by repeating the last row (results of the pad are dropped)."""
    missing = size - arr.shape[0]
    if missing <= 0:
        return arr
    return np.concatenate([arr, np.repeat(arr[-1:], missing, axis=0)], axis=0)


def unit_images(images, image_shape, n_bits: int, key=None):
    """(validated array, the same images in the unit interval): integers are dequantised
    (bin centres, or uniform noise with ``key``), floats are taken as they are."""
    arr = check_images(images, image_shape, n_bits)
    if np.issubdtype(arr.dtype, np.integer):
        return arr, np.asarray(quantize.dequantize(arr, n_bits, key))
    return arr, arr


def round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def example_keys(key, start: int, count: int):
    """Keys of examples start .. start + count - 1: ``fold_in(key, index)``."""
    return jax.vmap(lambda i: jax.random.fold_in(key, i))(start + jnp.arange(count))


def check_index(value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"first_index must be an int >= 0; got {value!r}")
    return int(value)


@functools.partial(jax.jit, static_argnums=(2, 3))
def latent_draws(key, first_index, num: int, dim: int):
    """eps_j ~ N(0, I_dim) for j = first_index .. first_index + num - 1, from fold_in(key, j)."""
    keys = example_keys(key, first_index, num)
    return jax.vmap(lambda k: rng.normal(k, (dim,), jnp.float32))(keys)


def per_example(fn, batch, keys):
    """``fn(example[None], key)[0]`` for every example of ``batch`` (vmapped): each example's
    random draws come from its own key, whatever the batch it is in."""
    return jax.vmap(lambda x, key: fn(x[None], key)[0])(batch, keys)


def resolve_noise_form(noise_form, isotropic: bool) -> str:
    """``noise_form`` (default ``"paper"``), with ``isotropic=True`` the older spelling of
    ``noise_form="isotropic"``."""
    from nif_zoo.nif.gaussian import check_noise_form

    if isotropic:
        if noise_form not in (None, "isotropic"):
            raise ValueError(f"isotropic=True and noise_form={noise_form!r} disagree; give one")
        return "isotropic"
    return check_noise_form("paper" if noise_form is None else noise_form)


def slerp(za, zb, u):
    """Spherical interpolation of directions, linear in norm: rows for every u in (k, 1)."""
    na, nb = np.linalg.norm(za), np.linalg.norm(zb)
    if na == 0.0 or nb == 0.0:
        return (1.0 - u) * za + u * zb
    ea, eb = za / na, zb / nb
    omega = np.arccos(np.clip(np.dot(ea, eb), -1.0, 1.0))
    if omega < 1e-6:
        direction = (1.0 - u) * ea + u * eb
    else:
        direction = (np.sin((1.0 - u) * omega) * ea + np.sin(u * omega) * eb) / np.sin(omega)
    return direction * ((1.0 - u) * na + u * nb)
