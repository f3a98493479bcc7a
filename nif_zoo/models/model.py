"""The public ``Model``: a config (JSON-serialisable dict), a Flax module and its variables.

Every method takes and returns NumPy arrays, validates its input (``ValueError`` naming
what is wrong, nothing broadcast), works in batches of ``batch_size`` (the last batch
padded, so one compiled function serves all of them) and is deterministic: the same
seed gives the same output.

Image scales: integer images are n_bits-quantised values in [0, 2^n_bits); float images
are in the continuous data scale [0, 1] (see :mod:`nif_zoo.data.quantize`).
"""
from __future__ import annotations

import functools
import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np

from nif_zoo import rng
from nif_zoo.data import quantize
from nif_zoo.models.validation import (
    check_count, check_images, check_latent, check_non_negative,
)

DEFAULT_BATCH_SIZE = 256


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


class Model:
    """A trained or fresh NF / NIF image model. Build one with :func:`nif_zoo.create_model`."""

    def __init__(self, config, variables, module=None):
        from nif_zoo.models.config import ModelConfig
        from nif_zoo.models.factory import module_from_config  # the factory builds Models too

        # typed and frozen; a dict of any format version is migrated
        self.config = config if isinstance(config, ModelConfig) else ModelConfig.from_dict(config)
        self.module = module if module is not None else module_from_config(self.config)
        self.variables = variables

    # ------------------------------------------------------------------ description
    @property
    def kind(self) -> str:
        return self.config["kind"]

    @property
    def image_shape(self):
        return tuple(self.config["image_shape"])

    @property
    def n_bits(self) -> int:
        return int(self.config["n_bits"])

    @property
    def num_dims(self) -> int:
        return math.prod(self.image_shape)

    @property
    def latent_dim(self) -> int:
        return int(self.module.latent_dim)

    @property
    def architecture(self):
        """This kind's entry of the architecture table (:mod:`nif_zoo.models.architectures`)."""
        from nif_zoo.models.architectures import architecture

        return architecture(self.kind)

    @property
    def has_noise_model(self) -> bool:
        """Whether decode/sample use s (a NIF layer's noise); an NF has none."""
        return bool(self.module.has_noise_model)

    @property
    def exact(self) -> bool:
        """Whether :meth:`log_prob` is exact (else it is the importance-weighted bound)."""
        return bool(self.module.exact)

    @property
    def likelihood(self) -> str:
        """What :meth:`log_prob` reports: ``"exact"`` or ``"IW bound K=..."``."""
        return "exact" if self.exact else f"IW bound K={self.module.iw_samples}"

    @property
    def num_params(self) -> int:
        return sum(int(np.size(p)) for p in jax.tree.leaves(self.variables["params"]))

    def __repr__(self):
        return (f"Model(kind={self.kind!r}, image_shape={self.image_shape}, "
                f"latent_dim={self.latent_dim}, params={self.num_params:,})")

    COMPILED = ("_log_density", "_bound_fn", "_embed", "_decode", "_decode_on_manifold")

    def with_variables(self, variables) -> "Model":
        """The same model with other variables, sharing this one's compiled functions (they
        take the variables as an argument), so nothing is traced or compiled again."""
        other = Model(self.config, variables, self.module)
        for name in self.COMPILED:
            if name in self.__dict__:  # built (functools.cached_property stores it here)
                other.__dict__[name] = self.__dict__[name]
        return other

    def _save_pretrained(self, folder: str) -> None:
        """Write the model's own files into ``folder``: ``config.json`` and ``weights/``
        (what :meth:`_from_pretrained` reads; the folder format around them, card and
        checksums, is :mod:`nif_zoo.models.pretrained`)."""
        from nif_zoo.models.pretrained import write_model_files

        write_model_files(self, folder)

    @classmethod
    def _from_pretrained(cls, folder: str, *, devices=None) -> "Model":
        """The model whose ``config.json`` (any format version, migrated) and ``weights/``
        are in ``folder``, restored onto ``devices``."""
        from nif_zoo.models.pretrained import read_model_files

        config, module, variables = read_model_files(folder, devices)
        return cls(config, variables, module)

    def save_pretrained(self, folder: str, *, card=None, metrics=None, training=None) -> str:
        """Write this model as a pretrained folder (config.json, orbax weights, README.md
        model card, SHA256SUMS); ``nif_zoo.load(folder)`` reads it back. See
        :func:`nif_zoo.models.pretrained.save_pretrained`; ``nif_zoo.push_to_hub(model,
        repo_id)`` uploads it."""
        from nif_zoo.models.pretrained import save_pretrained

        return save_pretrained(self, folder, card=card, metrics=metrics, training=training)

    # ------------------------------------------------------------------ compiled functions
    @functools.cached_property
    def _log_density(self):
        def log_density(variables, y, keys):
            if self.module.exact:  # no draws
                return self.module.apply(variables, y, method="log_density")
            return per_example(lambda yi, key: self.module.apply(
                variables, yi, method="log_density", rngs={"posterior": key}), y, keys)
        return jax.jit(log_density)

    @functools.cached_property
    def _bound_fn(self):
        def bound(variables, y, keys, method, num_samples):
            args = () if method == "elbo" else (num_samples,)
            return per_example(lambda yi, key: self.module.apply(
                variables, yi, *args, method=method, rngs={"posterior": key}), y, keys)
        return jax.jit(bound, static_argnums=(3, 4))

    @functools.cached_property
    def _embed(self):
        return jax.jit(functools.partial(self.module.apply, method="embed"),
                       static_argnums=(2,))

    @functools.cached_property
    def _decode(self):
        def decode(variables, latent, s, keys, isotropic):
            return per_example(lambda zi, key: self.module.apply(
                variables, zi, s, isotropic, method="decode", rngs={"noise": key}), latent, keys)
        return jax.jit(decode, static_argnums=(4,))

    @functools.cached_property
    def _decode_on_manifold(self):
        def decode(variables, latent):  # s = 0: no draws, the whole batch at once
            return self.module.apply(variables, latent, 0.0, method="decode")
        return jax.jit(decode)

    def _map_batches(self, fn, arr, batch_size: int, key=None, first_index: int = 0):
        """``fn(batch, keys)`` over padded batches of ``arr``; ``keys[j]`` is the key of
        example ``first_index + start + j``, ``fold_in(key, that index)``, so results do not
        depend on ``batch_size``."""
        batch_size = check_count("batch_size", batch_size)
        size = min(batch_size, arr.shape[0])
        base = jax.random.key(0) if key is None else key
        outs = []
        for start, stop in batches(arr.shape[0], size):
            out = fn(jnp.asarray(pad_to(arr[start:stop], size)),
                     example_keys(base, first_index + start, size))
            outs.append(np.asarray(out)[: stop - start])
        return np.concatenate(outs, axis=0)

    def _unit_images(self, images, key=None):
        return unit_images(images, self.image_shape, self.n_bits, key)[1]

    # ------------------------------------------------------------------ public API
    def log_prob(self, images, *, key=None, batch_size: int = DEFAULT_BATCH_SIZE) -> np.ndarray:
        """log P(image) in nats, shape (n,): log p(y) - N log 2^n_bits (SPEC section 6).

        Integer images are dequantised at the bin centre, or with uniform noise when
        ``key`` (a seed or JAX key) is given. Exact when :attr:`exact` (NF, NIF: closed form);
        otherwise (deep NIF, progressive) the importance-weighted lower bound with K =
        ``config["iw_samples"]`` and the posterior draws of seed 0 (see :meth:`iw_bound` for
        other K and seeds)."""
        y = self._unit_images(images, None if key is None else as_key(key))
        density = self._map_batches(
            lambda b, keys: self._log_density(self.variables, b, keys), y, batch_size,
            jax.random.key(0))
        return quantize.discrete_log_prob(density, self.num_dims, self.n_bits)

    def _bound(self, method, images, key, num_samples, batch_size, seed):
        if self.exact:
            raise ValueError(f"{method} is a bound for models without an exact likelihood; "
                             f"this {self.kind!r} model's log_prob is exact")
        num_samples = check_count("num_samples", num_samples)
        y = self._unit_images(images, None if key is None else as_key(key))
        density = self._map_batches(
            lambda b, keys: self._bound_fn(self.variables, b, keys, method, num_samples), y,
            batch_size, as_key(seed))
        return quantize.discrete_log_prob(density, self.num_dims, self.n_bits)

    def elbo(self, images, *, seed=0, key=None,
             batch_size: int = DEFAULT_BATCH_SIZE) -> np.ndarray:
        """A bounded model (deep NIF, progressive): the ELBO (training objective) in the units
        of :meth:`log_prob`, with ``config["elbo_samples"]`` reparameterised draws z ~ q(z | x)
        from ``seed``; ``key``: dequantisation noise as in :meth:`log_prob`."""
        return self._bound("elbo", images, key, 1, batch_size, seed)

    def iw_bound(self, images, *, num_samples: int = 64, seed=0, key=None,
                 batch_size: int = DEFAULT_BATCH_SIZE) -> np.ndarray:
        """A bounded model: log (1/K) sum_k p(x, z_k) / q(z_k | x), K = ``num_samples`` draws
        from ``seed`` (q: the stochastic inverses): a lower bound of log P(image) that
        tightens with K (units of :meth:`log_prob`)."""
        return self._bound("iw_bound", images, key, num_samples, batch_size, seed)

    def bits_per_dim(self, images, *, key=None, batch_size: int = DEFAULT_BATCH_SIZE) -> float:
        """Mean bits per dimension of ``images`` (lower is better; for a deep NIF an upper
        bound, from the IW bound of :meth:`log_prob`).

        Pass a ``key`` for the standard number (uniform dequantisation noise: the variational
        bound, what papers report). Without one the bin centres are used: deterministic, but
        a trained flow puts more density there, so it reads lower (e.g. 1.08 vs ~1.6 on
        MNIST after 3000 steps)."""
        lp = self.log_prob(images, key=key, batch_size=batch_size)
        return float(np.mean(quantize.bits_per_dim(lp, self.num_dims)))

    def embed(self, images, *, estimate: str = "mode",
              batch_size: int = DEFAULT_BATCH_SIZE) -> np.ndarray:
        """Latent codes (n, latent_dim), float32. NIF: the stochastic inverse's mode z+
        (``estimate="mode"``) or the posterior mean under N(0, I) (``"posterior_mean"``);
        deep NIF: that mode pushed through the low-dimensional flow (eps space);
        NF: the flattened Glow latent."""
        if estimate not in ("mode", "posterior_mean"):
            raise ValueError(f"estimate must be 'mode' or 'posterior_mean'; got {estimate!r}")
        return self._embed_unit(self._unit_images(images), estimate, batch_size)

    def _embed_unit(self, y, estimate, batch_size):
        return self._map_batches(lambda b, _: self._embed(self.variables, b, estimate), y,
                                 batch_size).astype(np.float32)

    def decode(self, z, *, s: float = 0.0, seed=0, isotropic: bool = False,
               batch_size: int = DEFAULT_BATCH_SIZE, first_index: int = 0) -> np.ndarray:
        """Latents (n, latent_dim) -> images (n, H, W, C), float32 in the data scale (0 black,
        1 white; not clipped, not quantised). NIF adds noise N(0, s Sigma) before the Glow
        (``isotropic=True``: N(0, s I), as the authors' code) at every noisy layer; s = 0 is
        on the manifold. NF has no noise model and ignores s. The noise of latent j is drawn from
        ``fold_in(key(seed), first_index + j)``."""
        s = check_non_negative("s", s)
        latent = check_latent(z, self.latent_dim)
        if s == 0 or not self.module.has_noise_model:  # no noise is drawn
            fn = lambda b, _: self._decode_on_manifold(self.variables, b)  # noqa: E731
        else:  # noise of example j from fold_in(key(seed), j)
            fn = lambda b, keys: self._decode(self.variables, b, jnp.float32(s), keys,  # noqa: E731
                                              bool(isotropic))
        return self._map_batches(fn, latent, batch_size, as_key(seed),
                                 check_index(first_index)).astype(np.float32)

    def sample(self, num: int, *, temperature: float = 1.0, s: float = 1.0, seed=0,
               isotropic: bool = False, batch_size: int = DEFAULT_BATCH_SIZE,
               first_index: int = 0) -> np.ndarray:
        """``num`` images, uint8 (num, H, W, C) in [0, 2^n_bits): z = t eps, eps ~ N(0, I_M),
        then :meth:`decode` with noise scale s. Sample j is drawn from keys folded with
        ``first_index + j``: ``sample(n, first_index=k)`` is rows k .. k + n - 1 of a longer
        run with the same seed (stream many samples in pieces)."""
        num = check_count("num", num)
        temperature = check_non_negative("temperature", temperature)
        s = check_non_negative("s", s)
        first_index = check_index(first_index)
        latent_key, noise_key = jax.random.split(as_key(seed))
        eps = latent_draws(latent_key, first_index, num, self.latent_dim)
        y = self.decode(np.asarray(temperature * eps), s=s, seed=noise_key, isotropic=isotropic,
                        batch_size=batch_size, first_index=first_index)
        bad = ~np.all(np.isfinite(y), axis=tuple(range(1, y.ndim)))
        if bad.any():
            warnings.warn(f"{int(bad.sum())} of {num} samples have non-finite pixels (the "
                          f"flow's inverse overflowed at temperature {temperature}); +inf "
                          "pixels are returned as the top level, -inf and NaN as 0",
                          RuntimeWarning, stacklevel=2)
        return quantize.quantize(y, self.n_bits)

    def reconstruct(self, images, *, batch_size: int = DEFAULT_BATCH_SIZE) -> np.ndarray:
        """decode(embed(images), s=0): the projection onto the learned manifold (NIF), or the
        identity up to float error (NF). Returned in the input's dtype: integer images are
        quantised, float images clipped to [0, 1]."""
        arr, unit = unit_images(images, self.image_shape, self.n_bits)
        z = self._embed_unit(unit, "mode", batch_size)
        y = self.decode(z, s=0.0, batch_size=batch_size)
        if np.issubdtype(arr.dtype, np.integer):
            return quantize.quantize(y, self.n_bits).astype(arr.dtype)
        return np.clip(y, 0.0, 1.0).astype(arr.dtype)
