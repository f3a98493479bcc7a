"""An image flow: Glow (bijection) followed by a latent prior (NF or NIF).

Generative direction: z ~ N(0, I_M) scaled by t -> prior.decode (identity for NF; the
Gaussian NIF's A z + b + sqrt(s) noise for NIF) -> Glow inverse -> data space.
Density: log p(y) = log p_prior(glow(pre(y))) + log|det d glow / d pre| + log|det d pre / dy|.

``pre`` maps images y in [0, 1] to the Glow's input: y - 1/2 (volume preserving), or with
``logit`` = lambda the authors' logit transform logit(lambda + (1 - 2 lambda) y)
(:mod:`nif_zoo.flows.logit`), whose log-det keeps the density in the data's units.
"""
from __future__ import annotations

from typing import Optional

import flax.linen as nn
import jax.numpy as jnp

from nif_zoo.flows.glow import Glow
from nif_zoo.flows.logit import logit_forward, logit_inverse


def to_flow_input(y, logit: Optional[float]):
    """(Glow input, log|det|) of images y in [0, 1]: y - 1/2, or the logit transform."""
    if logit is None:
        return y - 0.5, jnp.zeros(y.shape[:1], y.dtype)
    return logit_forward(y, logit)


def from_flow_input(x, logit: Optional[float]):
    """Images from the Glow's input space (the inverse of :func:`to_flow_input`)."""
    return x + 0.5 if logit is None else logit_inverse(x, logit)[0]


class ImageFlow(nn.Module):
    glow: Glow
    prior: nn.Module
    logit: Optional[float] = None

    def __call__(self, y):
        return self.log_density(y)

    def glow_latent(self, y):
        """(Glow latent, log|det| of data -> latent) of images y in [0, 1]."""
        x, pre_log_det = to_flow_input(y, self.logit)
        z, log_det = self.glow(x)
        return z, log_det + pre_log_det

    def log_density(self, y):
        """log p(y) of images y in [0, 1]^(H, W, C), shape (n,) (nats, continuous)."""
        z, log_det = self.glow_latent(y)
        return self.prior.log_prob(z) + log_det

    def training_log_density(self, y):
        """The training objective per image (here exact: the log density)."""
        return self.log_density(y)

    def embed(self, y, estimate: str = "mode"):
        z, _ = self.glow_latent(y)
        return self.prior.embed(z, estimate)

    def decode(self, latent, s=0.0, isotropic: bool = False):
        z = self.prior.decode(latent, s, isotropic)
        x, _ = self.glow(z, reverse=True)
        return from_flow_input(x, self.logit)
