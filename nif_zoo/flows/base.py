"""The one layer protocol of ``nif_zoo``, across dimensions, and the ``Chain`` composing it.

Directions: *normalizing* (forward) is data -> latent; *generative* (inverse) is latent ->
data. Axis 0 of every input is the batch axis (log-dets and manifold terms have shape
``(n,)``); a layer maps events of an input shape (the data side) to events of
``output_shape(input_shape)`` (the latent side), and ``input_shape`` is its converse.

Two families (SPEC sections 1-4):

* :class:`Bijection`: ``__call__(x, reverse=False) -> (y, log_det)``;
  ``log_det = log|det dy/dx|`` forward and the log-det of the inverse map with
  ``reverse=True``. ``forward(x)`` and ``inverse(y)`` are the directions by name. Same
  dimension in and out.
* :class:`NoisyInjection`: a learnable noise model p(x | z) = N(x; A z + b, s Sigma) from a
  smaller latent z, x of dimension N >= M = dim z. ``decode(z, s, noise_form)`` draws x
  (s = 0: the mean, exactly on the manifold; s > 0 uses the ``"noise"`` RNG);
  ``stochastic_inverse(x, estimate)`` returns z: the mode z+ of q(z | x) (``"mode"``), the
  posterior mean under N(0, I) (``"posterior_mean"``) or a reparameterised draw
  (``"sample"``, ``"posterior"`` RNG); ``log_stochastic_inverse(z, x)`` is log q(z | x);
  ``manifold_term(x) = log int p(x | z) dz`` stands where a bijection has its log-det
  (paper eq. 9-10: with q the stochastic inverse, log p(x | z) - log q(z | x) equals it for
  every z). Layers with ``closed_form = True`` also give ``log_marginal(x)``: the exact
  log p(x) when z ~ N(0, I) (SPEC eq. 13, corrected).

:class:`Chain` composes any sequence of both, data side first, under a standard normal on
its last event (flattened). Its likelihood is exact when it has no noisy layer, or one
closed-form noisy layer at the very end (directly on N(0, I)); otherwise it is bounded: the
ELBO (stochastic inverses as q) for training and the importance-weighted bound for
evaluation. Parameters are declared once at the top of ``__call__`` (so data-dependent
initialisation sees the data), and both directions sit next to each other below them.
"""
from __future__ import annotations

import math
from typing import Sequence, Tuple

import flax.linen as nn
import jax
import jax.numpy as jnp

Array = jax.Array
LOG_2PI = math.log(2.0 * math.pi)
ESTIMATES = ("mode", "posterior_mean", "sample")


class Bijection(nn.Module):
    """Base class: ``forward``/``inverse`` by name over ``__call__(x, reverse)``."""

    noisy = False

    def forward(self, x: Array) -> Tuple[Array, Array]:
        """Data -> latent. Returns ``(y, log|det dy/dx|)``, log-det shape ``(n,)``."""
        return self(x, reverse=False)

    def inverse(self, y: Array) -> Tuple[Array, Array]:
        """Latent -> data. Returns ``(x, log|det dx/dy|)``, log-det shape ``(n,)``."""
        return self(y, reverse=True)

    @nn.nowrap
    def output_shape(self, input_shape: Tuple[int, ...]) -> Tuple[int, ...]:
        """The latent event shape of a data event shape (a bijection keeps it)."""
        return tuple(input_shape)

    @nn.nowrap
    def input_shape(self, output_shape: Tuple[int, ...]) -> Tuple[int, ...]:
        return tuple(output_shape)


class NoisyInjection(nn.Module):
    """Base class of the noisy injective layers; subclasses implement the methods below."""

    noisy = True
    closed_form = False  # True: log_marginal(x) is the exact log p(x) under z ~ N(0, I)

    def decode(self, z, s=0.0, noise_form: str = "paper"):
        """Latent -> data: x ~ N(A z + b, s Sigma) (``noise_form``: :data:`nif_zoo.nif.gaussian.NOISE_FORMS`)."""
        raise NotImplementedError

    def stochastic_inverse(self, x, estimate: str = "mode"):
        """Data -> latent: the mode, the posterior mean, or a draw of q(z | x)."""
        raise NotImplementedError

    def log_stochastic_inverse(self, z, x):
        """log q(z | x), shape of the batch axes."""
        raise NotImplementedError

    def manifold_term(self, x):
        """log int p(x | z) dz, shape of the batch axes."""
        raise NotImplementedError

    def __call__(self, x, reverse: bool = False, s=0.0, noise_form: str = "paper",
                 estimate: str = "mode"):
        """Normalizing direction: ``(stochastic_inverse(x, estimate), manifold_term(x))``;
        generative: ``(decode(x, s, noise_form), -manifold_term(decoded))``."""
        if not reverse:
            return self.stochastic_inverse(x, estimate), self.manifold_term(x)
        y = self.decode(x, s, noise_form)
        return y, -self.manifold_term(y)

    @nn.nowrap
    def output_shape(self, input_shape: Tuple[int, ...]) -> Tuple[int, ...]:
        raise NotImplementedError

    @nn.nowrap
    def input_shape(self, output_shape: Tuple[int, ...]) -> Tuple[int, ...]:
        raise NotImplementedError


def check_estimate(estimate: str, allowed: Sequence[str] = ESTIMATES):
    if estimate not in allowed:
        raise ValueError(f"estimate must be one of {tuple(allowed)}; got {estimate!r}")


def zero_log_det(x: Array) -> Array:
    """The ``(n,)`` log-determinant of a volume-preserving layer."""
    return jnp.zeros(x.shape[:1], dtype=x.dtype)


def num_positions(x: Array) -> int:
    """Positions sharing one per-channel parameter: H*W for images, 1 for vectors."""
    size = 1
    for d in x.shape[1:-1]:
        size *= d
    return size


def chain(layers: Sequence[Bijection], x, reverse: bool):
    """Compose bijections: apply in order (forward) or in reverse order (inverse)."""
    total = 0.0
    for layer in (reversed(layers) if reverse else layers):
        x, log_det = layer(x, reverse)  # positional: a remat step takes it as static
        total = total + log_det
    return x, total


def standard_normal_log_prob(z, event_ndim: int):
    """log N(z; 0, I) over the last ``event_ndim`` axes."""
    v = z.reshape(z.shape[: z.ndim - event_ndim] + (-1,))
    return -0.5 * (jnp.sum(v * v, axis=-1) + v.shape[-1] * LOG_2PI)


class Reshape(Bijection):
    """Events of ``input_event`` <-> events of ``output_event`` (same size); log-det 0."""

    input_event: Tuple[int, ...]
    output_event: Tuple[int, ...]

    def __call__(self, x, reverse: bool = False):
        src, dst = ((self.output_event, self.input_event) if reverse
                    else (self.input_event, self.output_event))
        if tuple(x.shape[x.ndim - len(src):]) != tuple(src):
            raise ValueError(f"expected events of shape {tuple(src)}; got {x.shape}")
        y = x.reshape(x.shape[: x.ndim - len(src)] + tuple(dst))
        return y, jnp.zeros(x.shape[: x.ndim - len(src)], x.dtype)

    @nn.nowrap
    def output_shape(self, input_shape):
        if math.prod(input_shape) != math.prod(self.output_event):
            raise ValueError(f"cannot reshape {tuple(input_shape)} to {tuple(self.output_event)}")
        return tuple(self.output_event)

    @nn.nowrap
    def input_shape(self, output_shape):
        return tuple(self.input_event)


class Chain(nn.Module):
    """Layers of both families, data side first, under N(0, I) on the last event.

    ``names`` name the layers' parameters (default ``layer_0``, ...); ``event_shape`` is the
    data's event shape; ``elbo_samples`` / ``iw_samples`` are the draws of the training
    bound and of the evaluation bound when the likelihood is not exact."""

    layers: Tuple[nn.Module, ...]
    event_shape: Tuple[int, ...]
    names: Tuple[str, ...] = ()
    elbo_samples: int = 1
    iw_samples: int = 64

    def setup(self):
        names = self.layer_names
        self.named = tuple(layer.clone(name=name, parent=self)
                           for name, layer in zip(names, self.layers))

    # ------------------------------------------------------------ description (no variables)
    @property
    def layer_names(self) -> Tuple[str, ...]:
        names = tuple(self.names) or tuple(f"layer_{i}" for i in range(len(self.layers)))
        if len(names) != len(self.layers) or len(set(names)) != len(names):
            raise ValueError(f"need {len(self.layers)} distinct layer names; got {names}")
        return names

    @property
    def event_shapes(self) -> Tuple[Tuple[int, ...], ...]:
        """The event shape before every layer and after the last one (the latent's)."""
        shapes = [tuple(self.event_shape)]
        for layer in self.layers:
            shapes.append(tuple(layer.output_shape(shapes[-1])))
        return tuple(shapes)

    @property
    def latent_shape(self) -> Tuple[int, ...]:
        return self.event_shapes[-1]

    @property
    def latent_dim(self) -> int:
        return math.prod(self.latent_shape)

    @property
    def noisy_layers(self) -> Tuple[int, ...]:
        return tuple(i for i, layer in enumerate(self.layers) if layer.noisy)

    @property
    def exact(self) -> bool:
        """Whether ``log_prob`` is exact: no noisy layer, or one closed-form noisy layer last."""
        noisy = self.noisy_layers
        return not noisy or (noisy == (len(self.layers) - 1,)
                             and self.layers[-1].closed_form)

    @property
    def has_noise_model(self) -> bool:
        return bool(self.noisy_layers)

    def layer(self, name: str) -> nn.Module:
        """The (unbound) layer called ``name``."""
        return self.layers[self.index(name)]

    def index(self, name: str) -> int:
        if name not in self.layer_names:
            raise KeyError(f"no layer {name!r}; layers: {self.layer_names}")
        return self.layer_names.index(name)

    # ------------------------------------------------------------ normalizing direction
    def __call__(self, x):
        return self.log_density(x)

    def forward_range(self, x, start: int, stop: int, estimate: str = "mode"):
        """Layers ``start .. stop - 1`` forward: (output, summed log-dets / manifold terms)."""
        batch = x.ndim - len(self.event_shapes[start])
        total = jnp.zeros(x.shape[:batch], x.dtype)
        for layer in self.named[start:stop]:
            if layer.noisy:
                x, term = layer.stochastic_inverse(x, estimate), layer.manifold_term(x)
            else:
                x, term = layer(x)
            total = total + term
        return x, total

    def forward(self, x, estimate: str = "mode"):
        """Data -> latent: ``(latent event, log-dets + manifold terms)``; noisy layers give
        their ``estimate`` of z (``"sample"`` draws from the ``"posterior"`` RNG)."""
        check_estimate(estimate)
        return self.forward_range(x, 0, len(self.layers), estimate)

    def inputs_of(self, x, name: str):
        """(the input of layer ``name``, the log-dets before it): layers before it must be
        bijections (e.g. a NIF's trunk latent, what its closed-form refit fits)."""
        i = self.index(name)
        if any(j < i for j in self.noisy_layers):
            raise ValueError(f"layer {name!r} has noisy layers before it")
        return self.forward_range(x, 0, i)

    def latent_log_prob(self, u, name: str):
        """log p_z(z) of a draw z ~ q(z | u) of noisy layer ``name`` (input ``u``): the layers
        after it and N(0, I) on the last event; the ELBO's terms that depend on them."""
        i = self.index(name)
        if not self.layers[i].noisy:
            raise ValueError(f"layer {name!r} is a bijection")
        z = self.named[i].stochastic_inverse(u, "sample")
        latent, terms = self.forward_range(z, i + 1, len(self.layers), "sample")
        return standard_normal_log_prob(latent, len(self.latent_shape)) + terms

    def log_prob(self, x):
        """Exact log p(x), shape (n,); only when :attr:`exact`."""
        if not self.exact:
            raise ValueError("this chain's likelihood is not exact; use elbo or iw_bound")
        last = len(self.layers) - 1
        if self.noisy_layers:
            u, log_det = self.forward_range(x, 0, last)
            return self.named[last].log_marginal(u) + log_det
        z, log_det = self.forward_range(x, 0, len(self.layers))
        return standard_normal_log_prob(z, len(self.latent_shape)) + log_det

    def log_weights(self, x, num: int):
        """``(num, n)`` importance log-weights log p(x, z_k) - log q(z_k | x), each path z_k
        drawn by the noisy layers' stochastic inverses. The bijections before the first
        noisy layer run once; its manifold term does not depend on the draw."""
        if not self.noisy_layers:
            return jnp.broadcast_to(self.log_prob(x), (num,) + x.shape[:1])
        first = self.noisy_layers[0]
        u, total = self.forward_range(x, 0, first)
        layer = self.named[first]
        z = layer.stochastic_inverse(jnp.broadcast_to(u, (num,) + u.shape), "sample")
        total = total + layer.manifold_term(u)
        n = x.shape[0]
        z = z.reshape((num * n,) + z.shape[2:])
        latent, rest = self.forward_range(z, first + 1, len(self.layers), "sample")
        log_w = standard_normal_log_prob(latent, len(self.latent_shape)) + rest
        return log_w.reshape(num, n) + total

    def elbo(self, x, num_samples=None):
        """The ELBO (paper eq. 9): the mean log-weight over ``elbo_samples`` draws."""
        return jnp.mean(self.log_weights(x, num_samples or self.elbo_samples), axis=0)

    def iw_bound(self, x, num_samples: int):
        """log (1/K) sum_k w_k, K = ``num_samples``: between the ELBO and log p(x)."""
        log_w = self.log_weights(x, num_samples)
        return jax.scipy.special.logsumexp(log_w, axis=0) - math.log(num_samples)

    def log_density(self, x):
        """log p(x) when exact, else the IW bound with ``iw_samples`` draws."""
        return self.log_prob(x) if self.exact else self.iw_bound(x, self.iw_samples)

    def training_log_density(self, x):
        """The training objective: log p(x) when exact, else the ELBO."""
        return self.log_prob(x) if self.exact else self.elbo(x)

    def manifold_term(self, x):
        """sum over the noisy layers of log int p(u | z) dz at their inputs u along the mode
        path (each noisy layer's input is the previous one's mode); shape (n,); 0 without
        noisy layers. Low where x is far from the learned manifold."""
        batch = x.ndim - len(self.event_shape)
        total = jnp.zeros(x.shape[:batch], x.dtype)
        for layer in self.named:
            if layer.noisy:
                total = total + layer.manifold_term(x)
                x = layer.stochastic_inverse(x, "mode")
            else:
                x, _ = layer(x)
        return total

    def embed(self, x, estimate: str = "mode"):
        """Flat latents (n, latent_dim): every noisy layer's ``estimate`` (no draws)."""
        check_estimate(estimate, ("mode", "posterior_mean"))
        z, _ = self.forward(x, estimate)
        return z.reshape(z.shape[:1] + (-1,))

    # ------------------------------------------------------------ generative direction
    def decode(self, latent, s=0.0, noise_form: str = "paper"):
        """Flat latents (n, latent_dim) -> data events: bijections' inverses and the noisy
        layers' ``decode`` with noise scale ``s`` (each draws from the ``"noise"`` RNG)."""
        h = latent.reshape(latent.shape[:1] + self.latent_shape)
        for layer in reversed(self.named):
            h = layer.decode(h, s, noise_form) if layer.noisy else layer(h, reverse=True)[0]
        return h
