"""Diagnostics of how well a model's prior fits its data (issue: the closed-form NIF's prior).

* **Embedding offset**: |mean z+| / sqrt(M) over held-out images, z+ = ``model.embed`` (a
  NIF: the stochastic inverse's mode; a deep NIF: that mode pushed through its flow, eps
  space; an NF: its trunk latent). A fitted prior has mean(z+) near 0: E[z+] = 0 when
  z ~ N(0, I).
* **Embedding covariance**: the smallest and largest eigenvalue of cov(z+). Under a fitted
  closed-form NIF cov(z+) = I + E[Lambda^-1] (q's mean adds the noise's share), so every
  eigenvalue should be >= 1 (about 1 for an NF or a deep NIF's eps).
* **Empty samples**: the fraction of samples at temperature t = 1 and s = 0 in which fewer
  than ``EMPTY_FRACTION`` (2%) of the pixel values reach half of the top level
  (>= 2^(n_bits - 1); for 32x32 MNIST: fewer than 21 pixels >= 128). Real MNIST test digits:
  none are empty.
* **Checkerboard** (not of the prior, but read beside it): the Nyquist share of
  :mod:`nif_zoo.evaluate.spectrum` of the samples at t = 0.7, s = 0 (the temperature where
  the 8-bit 32x32 models showed it) and of the held-out images (images with even H and W).
"""
from __future__ import annotations

import math
from typing import Any, Dict

import numpy as np

EMPTY_FRACTION = 0.02
CHECKERBOARD_TEMPERATURE = 0.7
DEFINITION = ("a sample is empty when fewer than 2% of its pixel values reach half of the top "
              "level (>= 2^(n_bits-1), i.e. >= 128 at 8 bits)")


def empty_mask(images, n_bits: int) -> np.ndarray:
    """(n,) bool: which uint8 images are empty (see the module docstring)."""
    arr = np.asarray(images)
    if arr.ndim < 2:
        raise ValueError(f"expected images (n, ...); got shape {arr.shape}")
    bright = arr.reshape(len(arr), -1) >= 2 ** (n_bits - 1)
    return bright.mean(axis=1) < EMPTY_FRACTION


def embedding_statistics(z) -> Dict[str, float]:
    """|mean z| / sqrt(M) and the extreme eigenvalues of cov(z) for embeddings (n, M)."""
    z = np.asarray(z, np.float64)
    if z.ndim != 2 or len(z) < 2:
        raise ValueError(f"need embeddings (n >= 2, M); got shape {z.shape}")
    eig = np.linalg.eigvalsh(np.cov(z, rowvar=False).reshape(z.shape[1], z.shape[1]))
    return {"mean_norm_over_sqrt_m": float(np.linalg.norm(z.mean(axis=0)) / math.sqrt(z.shape[1])),
            "cov_eig_min": float(eig[0]), "cov_eig_max": float(eig[-1]),
            "embedded_images": int(len(z))}


def prior_fit(model, heldout_images, *, num_samples: int = 1000, seed: int = 0,
              batch_size: int = 256) -> Dict[str, Any]:
    """The three diagnostics: embeddings of ``heldout_images`` (uint8) and ``num_samples``
    samples at t = 1, s = 0 from ``seed``."""
    stats = embedding_statistics(model.embed(heldout_images, batch_size=batch_size))
    samples = model.sample(num_samples, temperature=1.0, s=0.0, seed=seed,
                           batch_size=batch_size)
    stats.update(empty_fraction=float(np.mean(empty_mask(samples, model.n_bits))),
                 empty_samples=int(num_samples), empty_seed=int(seed))
    stats.update(checkerboard_statistics(model, heldout_images, num_samples=num_samples,
                                         seed=seed, batch_size=batch_size))
    return stats


def checkerboard_statistics(model, heldout_images, *, num_samples: int = 1000, seed: int = 0,
                            batch_size: int = 256) -> Dict[str, Any]:
    """The Nyquist share of ``num_samples`` samples at t = 0.7, s = 0 (from ``seed``) and of
    the held-out images; empty for images of odd height or width (no Nyquist bin)."""
    from nif_zoo.evaluate.spectrum import nyquist_share

    h, w = np.shape(heldout_images)[1:3]
    if h % 2 or w % 2:
        return {}
    cool = model.sample(num_samples, temperature=CHECKERBOARD_TEMPERATURE, s=0.0, seed=seed,
                        batch_size=batch_size)
    return {"nyquist_share": float(nyquist_share(cool).mean()),
            "nyquist_share_heldout": float(nyquist_share(heldout_images).mean()),
            "nyquist_temperature": CHECKERBOARD_TEMPERATURE}


def describe(stats: Dict[str, Any]) -> str:
    """One line for the CLI and the cards."""
    return (f"|mean z+| / sqrt(M) = {stats['mean_norm_over_sqrt_m']:.3f} "
            f"({stats['embedded_images']} held-out images); cov(z+) eigenvalues "
            f"{stats['cov_eig_min']:.3g} .. {stats['cov_eig_max']:.3g}; empty samples at "
            f"t = 1, s = 0: {100 * stats['empty_fraction']:.1f}% of {stats['empty_samples']}"
            + (f"; checkerboard (Nyquist share) of samples at t = {stats['nyquist_temperature']:g}, "
               f"s = 0: {stats['nyquist_share']:.3f} (held-out images: "
               f"{stats['nyquist_share_heldout']:.3f})" if "nyquist_share" in stats else ""))
