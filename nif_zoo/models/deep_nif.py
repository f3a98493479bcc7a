"""Deep NIF (SPEC section 5, paper appendix B.4): a learned prior on a low-dimensional z.

Generative direction:

    eps ~ N(0, I_M) scaled by t -> z = g^-1(eps)  (g: the low-dimensional MLP flow)
        -> u ~ N(A z + b, s Sigma)               (Gaussian NIF, dense or upsampling)
        -> x = Glow^-1(u) + 1/2

p_z(z) = N(g(z); 0, I) |det dg/dz| has no closed-form marginal through the NIF, so the
model is trained by the ELBO (eq. 9) with q(z | u) the stochastic inverse, which makes
log p(u | z) - log q(z | u) = log int p(u | z') dz' (the manifold term) for every z:

    ELBO(y)     = E_q[log p_z(z)] + manifold(u) + log|det dGlow/dy|       (reparameterised)
    IW_K(y)     = log (1/K) sum_k p_z(z_k) + manifold(u) + log|det dGlow/dy|,  z_k ~ q(z | u)

ELBO <= E[IW_K] <= E[IW_2K] <= log p(y); ``log_density`` is IW_K with K = ``iw_samples``
(a lower bound, reported as such). Posterior draws use the ``"posterior"`` RNG stream.
The embedding is the stochastic inverse's mode pushed through g (into eps space), so
decode(embed(x), s=0) is the projection onto the learned manifold.
"""
from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from typing import Optional

from nif_zoo.flows.glow import Glow
from nif_zoo.flows.mlp_flow import MLPFlow
from nif_zoo.models.flow_model import from_flow_input, to_flow_input
from nif_zoo.nif.gaussian import LOG_2PI


class DeepImageFlow(nn.Module):
    glow: Glow
    nif: nn.Module
    prior_flow: MLPFlow
    elbo_samples: int = 1
    iw_samples: int = 64
    logit: Optional[float] = None

    @property
    def prior(self):  # the Model API reads latent_dim from ``module.prior``
        return self.nif

    def __call__(self, y):
        return self.log_density(y)

    def glow_latent(self, y):
        """(Glow latent u, log|det| of data -> u) of images y in [0, 1]."""
        x, pre_log_det = to_flow_input(y, self.logit)
        u, log_det = self.glow(x)
        return u, log_det + pre_log_det

    def latent_log_prob(self, z):
        """log p_z(z) = log N(g(z); 0, I) + log|det dg/dz| for z of shape (..., M)."""
        flat = z.reshape(-1, z.shape[-1])
        eps, log_det = self.prior_flow(flat)
        log_p = -0.5 * (jnp.sum(eps * eps, axis=-1) + eps.shape[-1] * LOG_2PI) + log_det
        return log_p.reshape(z.shape[:-1])

    def posterior_draws(self, u, num: int):
        """``num`` reparameterised draws z ~ q(z | u): shape (num, n, M)."""
        return self.nif.sample_posterior(jnp.broadcast_to(u, (num,) + u.shape))

    def elbo(self, y):
        return self.elbo_from_latent(*self.glow_latent(y))

    def elbo_from_latent(self, u, log_det):
        """The ELBO given the Glow latent u and the log|det| of data -> u."""
        z = self.posterior_draws(u, self.elbo_samples)
        expected_log_prior = jnp.mean(self.latent_log_prob(z), axis=0)
        return expected_log_prior + self.nif.manifold_term(u) + log_det

    def iw_bound(self, y, num_samples: int):
        u, glow_log_det = self.glow_latent(y)
        log_prior = self.latent_log_prob(self.posterior_draws(u, num_samples))
        log_mean = jax.scipy.special.logsumexp(log_prior, axis=0) - math.log(num_samples)
        return log_mean + self.nif.manifold_term(u) + glow_log_det

    def log_density(self, y):
        """The importance-weighted lower bound IW_K of log p(y), K = ``iw_samples``."""
        return self.iw_bound(y, self.iw_samples)

    def training_log_density(self, y):
        return self.elbo(y)

    def embed(self, y, estimate: str = "mode"):
        u, _ = self.glow_latent(y)
        eps, _ = self.prior_flow(self.nif.embed(u, estimate))
        return eps

    def decode(self, latent, s=0.0, isotropic: bool = False):
        z, _ = self.prior_flow(latent, reverse=True)
        x, _ = self.glow(self.nif.decode(z, s, isotropic), reverse=True)
        return from_flow_input(x, self.logit)
