"""The public ``Model``: a config (JSON-serialisable dict), a Flax module and its variables.

Every method takes and returns NumPy arrays, validates its input (``ValueError`` naming
what is wrong, nothing broadcast), works in batches of ``batch_size`` (the last batch
padded, so one compiled function serves all of them) and is deterministic: the same
seed gives the same output.

Image scales: integer images are n_bits-quantised values in [0, 2^n_bits); float images
are in the continuous data scale [0, 1] (see :mod:`nif_zoo.data.quantize`), slightly beyond
it accepted (``decode``'s output is valid input everywhere; ``validation.FLOAT_MARGIN``).
"""
from __future__ import annotations

import dataclasses
import functools
import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np

from nif_zoo.data import quantize
from nif_zoo.devices import batch_sharding, replicated_sharding
from nif_zoo.models.hub_mixin import PretrainedMixin
from nif_zoo.models.batching import (  # noqa: F401  (as_key, unit_images: used by callers too)
    as_key, batches, check_index, example_keys, latent_draws, pad_to, per_example,
    resolve_noise_form, round_up, slerp, unit_images,
)
from nif_zoo.models.architectures import EXECUTION_OPTIONS, architecture
from nif_zoo.models.build import module_from_config
from nif_zoo.models.config import ModelConfig
from nif_zoo.models.validation import check_count, check_latent, check_non_negative

DEFAULT_BATCH_SIZE = 256


class Model(PretrainedMixin):
    """A trained or fresh NF / NIF image model: its config, Flax module and variables. Build
    one with :func:`nif_zoo.create_model`; ``from_pretrained`` / ``save_pretrained`` /
    ``push_to_hub`` are huggingface_hub's ``ModelHubMixin`` on a folder of ``config.json``,
    orbax ``weights/``, a card and ``SHA256SUMS`` (:mod:`nif_zoo.models.pretrained`)."""

    def __init__(self, config, variables, module=None):
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

    COMPILED = ("_log_density", "_bound_fn", "_embed", "_decode", "_decode_on_manifold",
                "_manifold_term", "_score", "_inverse_cache")

    def with_variables(self, variables) -> "Model":
        """The same model with other variables, sharing this one's compiled functions (they
        take the variables as an argument), so nothing is traced or compiled again."""
        other = Model(self.config, variables, self.module)
        for name in self.COMPILED:
            if name in self.__dict__:  # built (functools.cached_property stores it here)
                other.__dict__[name] = self.__dict__[name]
        return other

    def with_options(self, **changes) -> "Model":
        """The same model (the same variables) run another way: ``conv`` (``"auto"``,
        ``"matmul"``, ``"lax"``) or ``remat`` (True / False), the execution options of the
        architecture table; they change no parameter."""
        unknown = sorted(set(changes) - set(EXECUTION_OPTIONS))
        if unknown:
            raise ValueError(f"with_options changes only {EXECUTION_OPTIONS}; got {unknown}")
        return Model(dataclasses.replace(self.config, **changes), self.variables)

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
    def _score(self):
        """(variables, y, keys) -> grad_y log p(y) per example (the log density :meth:`log_prob`
        uses: exact, or the IW bound with the draws of ``keys``)."""
        log_density = self._log_density

        def score(variables, y, keys):
            return jax.grad(lambda v: jnp.sum(log_density(variables, v, keys)))(y)
        return jax.jit(score)

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
        def decode(variables, latent, s, keys, noise_form):
            return per_example(lambda zi, key: self.module.apply(
                variables, zi, s, noise_form, method="decode", rngs={"noise": key}), latent, keys)
        return jax.jit(decode, static_argnums=(4,))

    @functools.cached_property
    def _manifold_term(self):
        return jax.jit(functools.partial(self.module.apply, method="manifold_term"))

    @functools.cached_property
    def _decode_on_manifold(self):
        def decode(variables, latent):  # s = 0: no draws, the whole batch at once
            return self.module.apply(variables, latent, 0.0, method="decode")
        return jax.jit(decode)

    @functools.cached_property
    def _inverse_cache(self):
        """variables -> the generative direction's ``cache`` (every 1x1 convolution's W^-1,
        :mod:`nif_zoo.flows.conv1x1`): one decode traced, only the cache kept (XLA compiles
        just the solves)."""
        return jax.jit(lambda variables: dict(self.module.apply(
            variables, jnp.zeros((1, self.latent_dim)), 0.0, method="decode",
            mutable=["cache"])[1]).get("cache", {}))

    @functools.cached_property
    def _decode_variables(self):
        """The compute variables and the cache, built once per model: decode multiplies by
        the stored W^-1 instead of solving for it every call."""
        cache = self._inverse_cache(self._compute_variables)
        return {**self._compute_variables, "cache": cache} if cache else self._compute_variables

    # ------------------------------------------------------------------ placement
    @functools.cached_property
    def _placement(self):
        """(the variables on this model's devices, a batch's sharding over them or None):
        variables replicated over several devices are used as they are; variables on one
        device are replicated once over :func:`nif_zoo.devices.default_devices` when that
        device is one of them (data parallel)."""
        from nif_zoo.devices import default_devices

        leaves = jax.tree.leaves(self.variables)
        placed = [leaf for leaf in leaves if isinstance(leaf, jax.Array)]
        device_sets = {frozenset(leaf.sharding.device_set) for leaf in placed}
        variables = self.variables
        if len(device_sets) == 1 and len(placed) == len(leaves):
            devices = sorted(next(iter(device_sets)), key=lambda d: d.id)
            if not all(leaf.sharding.is_fully_replicated for leaf in placed):
                return variables, None  # sharded by the user: jit follows their layout
        else:  # host arrays, or leaves on different devices
            devices = []
        if len(devices) <= 1:
            candidates = default_devices()
            if (len(candidates) > 1 and (not devices or devices[0] in candidates)
                    and jax.process_count() == 1):
                devices = candidates
                variables = jax.device_put(variables, replicated_sharding(devices))
        if len(devices) <= 1:
            return variables, None
        return variables, batch_sharding(devices)

    @property
    def _compute_variables(self):
        return self._placement[0]

    @property
    def _batch_multiple(self) -> int:
        """Batches are split over this many devices (they are padded to a multiple of it)."""
        sharding = self._placement[1]
        return 1 if sharding is None else sharding.mesh.size

    def _place_batch(self, arr):
        """A batch (its length a multiple of :attr:`_batch_multiple`) on the model's devices,
        split along its first axis."""
        sharding = self._placement[1]
        return jnp.asarray(arr) if sharding is None else jax.device_put(arr, sharding)

    def _map_batches(self, fn, arr, batch_size: int, key=None, first_index: int = 0):
        """``fn(batch, keys)`` over padded batches of ``arr``; ``keys[j]`` is the key of
        example ``first_index + start + j``, ``fold_in(key, that index)``, so results do not
        depend on ``batch_size`` (nor on how many devices share a batch)."""
        batch_size = check_count("batch_size", batch_size)
        size = round_up(min(batch_size, arr.shape[0]), self._batch_multiple)
        base = jax.random.key(0) if key is None else key
        outs = []
        for start, stop in batches(arr.shape[0], size):
            out = fn(self._place_batch(pad_to(arr[start:stop], size)),
                     self._place_batch(example_keys(base, first_index + start, size)))
            outs.append(np.asarray(out)[: stop - start])
        return np.concatenate(outs, axis=0)

    def _unit_images(self, images, key=None):
        """Images in the data scale (:meth:`_data_scale`: with ``key``, the training noise
        too), moved inside the model's domain."""
        return self._inside_domain(self._data_scale(images, key)[1])[0]

    def _inside_domain(self, y):
        """(y moved inside the model's domain, (n,) bool: which images had pixels beyond it).
        A model with the logit transform is defined on (lo, hi) ⊃ [0, 1]
        (:func:`nif_zoo.flows.logit.domain`): pixels past it are clipped just inside it (its
        density there is 0: :meth:`log_prob` says -inf for those images). Other models take
        any value."""
        lam = self.config.get("logit")
        if lam is None:
            return y, np.zeros(len(y), bool)
        from nif_zoo.flows.logit import domain

        lo, hi = domain(lam)
        outside = np.any((y < lo) | (y > hi), axis=tuple(range(1, y.ndim)))
        eps = 1e-6 * (hi - lo)
        return np.clip(y, lo + eps, hi - eps).astype(y.dtype), outside

    # ------------------------------------------------------------------ public API
    @property
    def data_noise(self) -> float:
        """sigma of the Gaussian noise added to the dequantised data in training (0: none)."""
        return float(self.config.data_noise)

    def _data_scale(self, images, key=None):
        """(validated array, images in the data scale): integers dequantised (bin centres, or
        with ``key`` uniform noise plus, for a model trained with ``data_noise``, that
        Gaussian noise from ``fold_in(key, 2)``, as in training); floats as they are."""
        arr, y = unit_images(images, self.image_shape, self.n_bits, key)
        if key is not None and self.data_noise and np.issubdtype(arr.dtype, np.integer):
            y = np.asarray(quantize.add_data_noise(jnp.asarray(y), self.data_noise,
                                                   jax.random.fold_in(key, 2)))
        return arr, y

    def log_prob(self, images, *, key=None, batch_size: int = DEFAULT_BATCH_SIZE) -> np.ndarray:
        """log P(image) in nats, shape (n,): log p(y) - N log 2^n_bits (SPEC section 6).

        Integer images are dequantised at the bin centre, or with uniform noise when
        ``key`` (a seed or JAX key) is given (and, for a model trained with ``data_noise``
        sigma, Gaussian noise of that sigma: then it is the noisy data's density, see
        :mod:`nif_zoo.data.quantize`). Exact when :attr:`exact` (NF, NIF: closed form);
        otherwise (deep NIF, progressive) the importance-weighted lower bound with K =
        ``config["iw_samples"]`` and the posterior draws of seed 0 (see :meth:`iw_bound` for
        other K and seeds)."""
        y, outside = self._inside_domain(self._data_scale(
            images, None if key is None else as_key(key))[1])
        density = self._map_batches(
            lambda b, keys: self._log_density(self._compute_variables, b, keys), y, batch_size,
            jax.random.key(0))
        density = np.where(outside, -np.inf, density)
        return quantize.discrete_log_prob(density, self.num_dims, self.n_bits)

    def _bound(self, method, images, key, num_samples, batch_size, seed):
        if self.exact:
            raise ValueError(f"{method} is a bound for models without an exact likelihood; "
                             f"this {self.kind!r} model's log_prob is exact")
        num_samples = check_count("num_samples", num_samples)
        y = self._unit_images(images, None if key is None else as_key(key))
        density = self._map_batches(
            lambda b, keys: self._bound_fn(self._compute_variables, b, keys, method, num_samples), y,
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
        NF: the flattened trunk latent."""
        if estimate not in ("mode", "posterior_mean"):
            raise ValueError(f"estimate must be 'mode' or 'posterior_mean'; got {estimate!r}")
        return self._embed_unit(self._unit_images(images), estimate, batch_size)

    def _embed_unit(self, y, estimate, batch_size):
        return self._map_batches(lambda b, _: self._embed(self._compute_variables, b, estimate), y,
                                 batch_size).astype(np.float32)

    def decode(self, z, *, s: float = 0.0, seed=0, isotropic: bool = False,
               noise_form=None, batch_size: int = DEFAULT_BATCH_SIZE,
               first_index: int = 0) -> np.ndarray:
        """Latents (n, latent_dim) -> images (n, H, W, C), float32 in the data scale (0 black,
        1 white; not clipped, not quantised). NIF adds noise of scale s before the Glow at
        every noisy layer, by ``noise_form`` (:data:`nif_zoo.nif.gaussian.NOISE_FORMS`):
        ``"paper"`` N(0, s Sigma) (default), ``"isotropic"`` N(0, s I) (also
        ``isotropic=True``), ``"authors"`` s eps, standard deviation s (the authors' code's
        sampling, exactly); s = 0 is on the manifold. NF has no noise model and ignores s.
        The noise of latent j is drawn from ``fold_in(key(seed), first_index + j)``."""
        s = check_non_negative("s", s)
        noise_form = resolve_noise_form(noise_form, isotropic)
        latent = check_latent(z, self.latent_dim)
        if s == 0 or not self.module.has_noise_model:  # no noise is drawn
            fn = lambda b, _: self._decode_on_manifold(self._decode_variables, b)  # noqa: E731
        else:  # noise of example j from fold_in(key(seed), j)
            fn = lambda b, keys: self._decode(self._decode_variables, b, jnp.float32(s), keys,  # noqa: E731
                                              noise_form)
        return self._map_batches(fn, latent, batch_size, as_key(seed),
                                 check_index(first_index)).astype(np.float32)

    def sample(self, num: int, *, temperature: float = 1.0, s: float = 1.0, seed=0,
               isotropic: bool = False, noise_form=None, denoise=None,
               batch_size: int = DEFAULT_BATCH_SIZE,
               first_index: int = 0) -> np.ndarray:
        """``num`` images, uint8 (num, H, W, C) in [0, 2^n_bits): z = t eps, eps ~ N(0, I_M),
        then :meth:`decode` with noise scale s, then (``denoise`` = sigma > 0) one score step
        :meth:`denoise` before quantisation. Sample j is drawn from keys folded with
        ``first_index + j``: ``sample(n, first_index=k)`` is rows k .. k + n - 1 of a longer
        run with the same seed (stream many samples in pieces)."""
        num = check_count("num", num)
        temperature = check_non_negative("temperature", temperature)
        s = check_non_negative("s", s)
        sigma = 0.0 if denoise is None else check_non_negative("denoise", denoise)
        first_index = check_index(first_index)
        latent_key, noise_key = jax.random.split(as_key(seed))
        eps = latent_draws(latent_key, first_index, num, self.latent_dim)
        y = self.decode(np.asarray(temperature * eps), s=s, seed=noise_key, isotropic=isotropic,
                        noise_form=noise_form,
                        batch_size=batch_size, first_index=first_index)
        if sigma:
            y = self._denoise_unit(self._inside_domain(y)[0], sigma, batch_size)
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
        z = self._embed_unit(self._inside_domain(unit)[0], "mode", batch_size)
        y = self.decode(z, s=0.0, batch_size=batch_size)
        if np.issubdtype(arr.dtype, np.integer):
            return quantize.quantize(y, self.n_bits).astype(arr.dtype)
        # as quantize does for integers: +inf (an overflowing inverse) -> 1, -inf and NaN -> 0
        y = np.nan_to_num(y, nan=0.0, posinf=1.0, neginf=0.0)
        return np.clip(y, 0.0, 1.0).astype(arr.dtype)

    def denoise(self, images, sigma=None, *, batch_size: int = DEFAULT_BATCH_SIZE) -> np.ndarray:
        """One score step with the model's own density (Tweedie's formula):

            x_hat = y + sigma^2 grad_y log p(y)

        which is E[x | y] for y = x + sigma eps when p is the density of y (a model trained
        with ``data_noise`` = sigma: TarFlow's denoising step). ``images``: floats in the data
        scale (a sample before quantisation, :meth:`decode`'s output) or integers (bin
        centres); ``sigma`` defaults to the model's ``data_noise``. The score is exact for
        models with an exact likelihood, else that of the IW bound (seed-0 draws). Returns
        float32 images in the data scale, not clipped."""
        if sigma is None:
            if not self.data_noise:
                raise ValueError("this model was trained without data noise (data_noise = 0): "
                                 "pass sigma explicitly")
            sigma = self.data_noise
        sigma = check_non_negative("sigma", sigma)
        y = self._unit_images(images)
        return self._denoise_unit(y, sigma, batch_size)

    def _denoise_unit(self, y, sigma: float, batch_size: int) -> np.ndarray:
        if sigma == 0:
            return np.asarray(y, np.float32)
        score = self._map_batches(lambda b, keys: self._score(self._compute_variables, b, keys),
                                  y, batch_size, jax.random.key(0))
        return (y + sigma * sigma * score).astype(np.float32)

    # ------------------------------------------------------------ the latent space, used
    def _latent_of(self, endpoint, name: str) -> np.ndarray:
        """An interpolation endpoint: an image (H, W, C) -> its embedding; a latent (M,)."""
        arr = np.asarray(endpoint)
        if arr.shape == self.image_shape:
            return self.embed(arr[None])[0]
        if arr.shape == (self.latent_dim,):
            return check_latent(arr[None], self.latent_dim)[0]
        raise ValueError(f"{name} must be an image of shape {self.image_shape} or a latent of "
                         f"shape ({self.latent_dim},); got shape {arr.shape}")

    def interpolate(self, a, b, steps: int = 8, *, path: str = "linear", s: float = 0.0,
                    seed=0, isotropic: bool = False, noise_form=None) -> np.ndarray:
        """``steps`` images (steps, H, W, C) in the data scale, decoded along a path between
        ``a`` and ``b``: images (their embeddings are the ends, so the first and last are
        their reconstructions) or latents (M,). ``path="linear"``: (1 - u) z_a + u z_b;
        ``"slerp"``: the great circle between the directions of z_a and z_b with the norm
        interpolated linearly (latents of N(0, I) concentrate near a sphere). Decoded on the
        manifold (s = 0) unless ``s`` > 0; an NF decodes its full latent."""
        steps = check_count("steps", steps)
        if steps < 2:
            raise ValueError(f"steps must be >= 2 (the two ends); got {steps}")
        if path not in ("linear", "slerp"):
            raise ValueError(f"path must be 'linear' or 'slerp'; got {path!r}")
        za, zb = self._latent_of(a, "a").astype(np.float64), self._latent_of(b, "b").astype(np.float64)
        u = np.linspace(0.0, 1.0, steps)[:, None]
        if path == "linear":
            z = (1.0 - u) * za + u * zb
        else:
            z = slerp(za, zb, u)
        return self.decode(z.astype(np.float32), s=s, seed=seed, isotropic=isotropic,
                           noise_form=noise_form)

    SCORES = ("bits_per_dim", "projection_distance", "off_manifold", "latent_norm")

    def outlier_scores(self, images, *, key=0,
                       batch_size: int = DEFAULT_BATCH_SIZE) -> "dict[str, np.ndarray]":
        """Per-image scores (n,), each higher for images less like the training data:

        * ``bits_per_dim``: -log P(x) / (N ln 2) (:meth:`log_prob`; integer images with
          uniform dequantisation noise from ``key``, None: bin centres);
        * ``latent_norm``: |z+| / sqrt(M) of the embedding (about 1 under N(0, I_M));
        * a model with a noise model (NIF) also: ``projection_distance``, the RMS over
          pixels of x - reconstruct(x) in the data scale (the distance to the learned
          manifold; an NF reconstructs exactly), and ``off_manifold``, minus the noisy layers'
          log int p(u | z) dz per dimension (nats; SPEC's manifold term).
        """
        arr, unit = unit_images(images, self.image_shape, self.n_bits)
        y = self._inside_domain(unit)[0]
        log_p = self.log_prob(images, key=key, batch_size=batch_size)
        z = self._embed_unit(y, "mode", batch_size)
        scores = {"bits_per_dim": quantize.bits_per_dim(log_p, self.num_dims).astype(np.float64),
                  "latent_norm": np.linalg.norm(z, axis=1) / math.sqrt(self.latent_dim)}
        if self.has_noise_model:
            recon = self.decode(z, s=0.0, batch_size=batch_size)
            diff = (recon - unit).reshape(len(unit), -1)
            scores["projection_distance"] = np.sqrt(np.mean(diff * diff, axis=1))
            term = self._map_batches(
                lambda b, _: self._manifold_term(self._compute_variables, b), y, batch_size)
            scores["off_manifold"] = -term.astype(np.float64) / self.num_dims
        return {k: scores[k] for k in self.SCORES if k in scores}
