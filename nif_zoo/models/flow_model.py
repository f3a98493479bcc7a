"""An image flow: Glow (bijection) followed by a latent prior (NF or NIF).

Generative direction: z ~ N(0, I_M) scaled by t -> prior.decode (identity for NF; the
Gaussian NIF's A z + b + sqrt(s) noise for NIF) -> Glow inverse -> y + 1/2, in [0, 1].
Density: log p(y) = log p_prior(glow(y - 1/2)) + log|det d glow / dy|.
"""
from __future__ import annotations

import flax.linen as nn

from nif_zoo.flows.glow import Glow


class ImageFlow(nn.Module):
    glow: Glow
    prior: nn.Module

    def __call__(self, y):
        return self.log_density(y)

    def log_density(self, y):
        """log p(y) of images y in [0, 1]^(H, W, C), shape (n,) (nats, continuous)."""
        z, log_det = self.glow(y - 0.5)
        return self.prior.log_prob(z) + log_det

    def training_log_density(self, y):
        """The training objective per image (here exact: the log density)."""
        return self.log_density(y)

    def embed(self, y, estimate: str = "mode"):
        z, _ = self.glow(y - 0.5)
        return self.prior.embed(z, estimate)

    def decode(self, latent, s=0.0, isotropic: bool = False):
        z = self.prior.decode(latent, s, isotropic)
        x, _ = self.glow(z, reverse=True)
        return x + 0.5
