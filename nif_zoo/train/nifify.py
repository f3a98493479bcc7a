"""A NIF from any pretrained NF, in closed form (no gradient step).

The NF's layers (its ``pre`` transform and trunk) are kept exactly; its N(0, I) prior on the
trunk latent y is replaced by a Gaussian NIF of latent size M, fitted to the latents of the
training images:

    b = mean(y),  A, Sigma from probabilistic PCA (the top M principal directions),
    then factor-analysis EM                          (nif_zoo.nif.factor_analysis)

N(0, I) is the member A = 0, b = 0, Sigma = I of that family, the PCA start is the family's
maximum for Sigma = sigma^2 I, and EM never lowers the likelihood: the NIF's training
log-likelihood is never below the NF's (:attr:`NififyResult.nf_log_lik` is the NF's on the
same dequantised images; both are reported). Held-out numbers can still go either way.

    result = nifify(nf_model, train_images, 64)            # nif_form="dense" or "upsample"
    result.model                                            # a kind "nif" Model
"""
from __future__ import annotations

import dataclasses
from typing import Any, Dict, List, Optional

import jax
import numpy as np

from nif_zoo.flows.base import LOG_2PI
from nif_zoo.models import Model
from nif_zoo.models.architectures import COMMON_OPTIONS
from nif_zoo.nif import factor_analysis
from nif_zoo.train.refit import DEFAULT_ITERATIONS, DEFAULT_TOL, refit_prior, trunk_latents


@dataclasses.dataclass
class NififyResult:
    model: Model                              # the NIF (kind "nif")
    history: List[factor_analysis.FitStep]    # [0]: at the PCA start; then every EM step
    nf_log_lik: float                         # the NF's mean log N(y | 0, I), same latents
    images: int

    @property
    def log_lik(self) -> float:
        """The NIF's mean training log-likelihood of the trunk latents (nats per image)."""
        return self.history[-1].mean_log_lik


def nif_config_from_nf(model: Model, latent_dim: int, nif_form: str = "dense",
                       upsample_factor: Optional[int] = None):
    """The ModelConfig of a NIF with ``model``'s (an NF's) layers and a Gaussian NIF of M."""
    from nif_zoo.models.factory import model_config

    if model.kind != "nf":
        raise ValueError(f"nifify turns an NF into a NIF; this model is a {model.kind!r} "
                         "(a NIF's prior is refit with nif_zoo.train.refit_prior)")
    c = model.config
    options = {o.name: c.get(o.name) for o in COMMON_OPTIONS if c.get(o.name) is not None}
    if upsample_factor is not None:
        options["upsample_factor"] = upsample_factor
    return model_config("nif", image_shape=c["image_shape"], levels=c["levels"],
                        steps=c["steps"], width=c["width"], latent_dim=latent_dim,
                        n_bits=c["n_bits"], seed=c["seed"], nif_form=nif_form, **options)


def nif_from_nf(model: Model, latent_dim: int, nif_form: str = "dense",
                upsample_factor: Optional[int] = None) -> Model:
    """A NIF Model whose ``pre`` and ``glow`` variables are ``model``'s (an NF's) and whose
    Gaussian layer ``prior`` is a placeholder (A = 0, b = 0, Sigma = I: the NF's N(0, I))."""
    from nif_zoo.models.factory import abstract_variables, module_from_config

    config = nif_config_from_nf(model, latent_dim, nif_form, upsample_factor)
    module = module_from_config(config)
    shapes = abstract_variables(config, module)
    nf = jax.device_get(model.variables)
    variables = {}
    for collection, tree in shapes.items():
        variables[collection] = {}
        for layer, leaves in tree.items():
            if layer in nf.get(collection, {}):
                variables[collection][layer] = nf[collection][layer]
            else:  # the new Gaussian layer: N(0, I) until fitted
                variables[collection][layer] = jax.tree.map(
                    lambda s: np.zeros(s.shape, s.dtype), leaves)
    return Model(config, variables, module)


def standard_normal_log_lik(model: Model, images, seed: int, batch_size: int) -> float:
    """Mean log N(y | 0, I) of the trunk latents y of ``images`` (the NF's latent term)."""
    total, count = 0.0, 0
    for y in trunk_latents(model, images, seed=seed, batch_size=batch_size,
                           max_cache_bytes=0, progress=False)():
        flat = np.asarray(y, np.float64).reshape(len(y), -1)
        total += float(np.sum(-0.5 * (np.sum(flat * flat, axis=1) + flat.shape[1] * LOG_2PI)))
        count += len(y)
    return total / count


def nifify(model: Model, images, latent_dim: int, *, nif_form: str = "dense",
           upsample_factor: Optional[int] = None, iterations: int = DEFAULT_ITERATIONS,
           tol: float = DEFAULT_TOL, seed: int = 0, batch_size: int = 500,
           progress: bool = False) -> NififyResult:
    """The NIF of latent size ``latent_dim`` fitted in closed form onto the NF ``model``
    with its training ``images`` (uint8; see the module docstring). ``nif_form`` "dense"
    (A is N x M) or "upsample" (the O(M) form; ``upsample_factor`` as in create_model)."""
    nif = nif_from_nf(model, latent_dim, nif_form, upsample_factor)
    result = refit_prior(nif, images, iterations=iterations, tol=tol, seed=seed,
                         batch_size=batch_size, progress=progress, init="principal")
    nf_log_lik = standard_normal_log_lik(nif, images, seed, batch_size)
    return NififyResult(result.model, result.history, nf_log_lik, result.images)


def nifify_and_measure(model: Model, train_images, test_images, latent_dim: int, *,
                       nif_form: str = "dense", iterations: int = DEFAULT_ITERATIONS,
                       tol: float = DEFAULT_TOL, seed: int = 0,
                       progress: bool = False) -> Dict[str, Any]:
    """:func:`nifify` with the held-out bits/dim and prior-fit diagnostics of the NF
    (before) and of the NIF (after) on ``test_images``: {"model", "record", ...}."""
    from nif_zoo.evaluate.likelihood import heldout_bits_per_dim
    from nif_zoo.evaluate.prior_fit import describe, prior_fit

    say = print if progress else (lambda *a, **k: None)
    before = heldout_bits_per_dim(model, test_images, seed=0)
    fit_before = prior_fit(model, test_images)
    say(f"NF: held-out bits/dim {before['bpd']:.4f}; {describe(fit_before)}", flush=True)
    result = nifify(model, train_images, latent_dim, nif_form=nif_form, iterations=iterations,
                    tol=tol, seed=seed, progress=progress)
    after = heldout_bits_per_dim(result.model, test_images, seed=0)
    fit_after = prior_fit(result.model, test_images)
    record = {"images": result.images, "em_steps": result.history[-1].iteration,
              "latent_dim": latent_dim, "nif_form": nif_form,
              "train_log_lik_nf": result.nf_log_lik,
              "train_log_lik_start": result.history[0].mean_log_lik,
              "train_log_lik_after": result.log_lik,
              "test_bpd_nf": before["bpd"], "test_bpd_after": after["bpd"],
              "prior_fit_nf": fit_before}
    say(f"NIF-{latent_dim} fitted in closed form ({record['em_steps']} EM steps on "
        f"{result.images} training images; training log-lik {result.nf_log_lik:.2f} (NF) -> "
        f"{result.log_lik:.2f} nats/image): held-out bits/dim {after['bpd']:.4f} (NF "
        f"{before['bpd']:.4f}); {describe(fit_after)}", flush=True)
    return {"model": result.model, "record": record, "heldout_after": after,
            "prior_fit_after": fit_after}
