"""Projection onto the learned manifold as a denoiser, measured.

Test images x in the data scale (integer images at their bin centres) get Gaussian noise,
x~ = clip(x + sigma e, 0, 1), e ~ N(0, I) from ``seed`` (clipped to the data's range, as a
stored image would be: a model with the logit transform would otherwise see values at the
edge of its domain, far outside anything it was trained on); every method maps x~ back to
[0, 1] and is scored by

    PSNR = 10 log10(1 / mean((x - x_hat)^2))       (dB, peak 1; higher is better)

* a model: ``x_hat = model.reconstruct(x~)``, decode(embed(x~), s = 0): a NIF projects onto
  its M-dimensional manifold, an NF reproduces the noise (its inverse is exact);
* PCA with the same M, fitted on clean training images: x_hat = mean + U U^T (x~ - mean);
* the noisy image itself (the floor a denoiser should beat).
"""
from __future__ import annotations

from typing import Dict, List, Sequence

import numpy as np

from nif_zoo.data import quantize


def unit(images, n_bits: int) -> np.ndarray:
    """Integer images at their bin centres, floats as they are (float64)."""
    arr = np.asarray(images)
    if np.issubdtype(arr.dtype, np.integer):
        return (arr.astype(np.float64) + 0.5) / quantize.num_levels(n_bits)
    return arr.astype(np.float64)


def psnr(clean, estimate) -> np.ndarray:
    """(n,) PSNR in dB of ``estimate`` against ``clean`` (both in [0, 1], peak 1)."""
    clean, estimate = np.asarray(clean, np.float64), np.asarray(estimate, np.float64)
    mse = np.mean((clean - estimate).reshape(len(clean), -1) ** 2, axis=1)
    return 10.0 * np.log10(1.0 / np.maximum(mse, 1e-12))


class PCA:
    """The top ``dim`` principal directions of flattened training images."""

    def __init__(self, train, dim: int):
        flat = np.asarray(train, np.float64).reshape(len(train), -1)
        if not 0 < dim <= min(flat.shape):
            raise ValueError(f"PCA dim must be in [1, {min(flat.shape)}]; got {dim}")
        self.mean = flat.mean(axis=0)
        _, _, vt = np.linalg.svd(flat - self.mean, full_matrices=False)
        self.basis = vt[:dim]  # (dim, N)

    def project(self, images) -> np.ndarray:
        flat = np.asarray(images, np.float64).reshape(len(images), -1) - self.mean
        out = self.mean + (flat @ self.basis.T) @ self.basis
        return np.clip(out, 0.0, 1.0).reshape(np.shape(images))


def noisy_versions(clean, sigma: float, seed: int = 0) -> np.ndarray:
    """clip(clean + sigma e, 0, 1), e drawn from (seed, sigma)."""
    r = np.random.default_rng([seed, int(round(sigma * 1e6))])
    return np.clip(clean + sigma * r.standard_normal(clean.shape), 0.0, 1.0).astype(np.float32)


def denoising_rows(models: Dict[str, object], test_images, train_images, n_bits: int, *,
                   sigmas: Sequence[float] = (0.1, 0.2, 0.4), seed: int = 0) -> List[Dict]:
    """Rows {"method", "latent_dim", sigma: mean PSNR, ...}: every model, PCA with each
    model's M (once per M), and the noisy input."""
    clean = unit(test_images, n_bits)
    noisy = {s: noisy_versions(clean, s, seed) for s in sigmas}
    rows = [{"method": "noisy input", "latent_dim": None,
             **{s: float(psnr(clean, noisy[s]).mean()) for s in sigmas}}]
    dims = []
    for name, model in models.items():
        rows.append({"method": name, "latent_dim": model.latent_dim,
                     **{s: float(psnr(clean, model.reconstruct(noisy[s])).mean())
                        for s in sigmas}})
        if model.has_noise_model and model.latent_dim not in dims:
            dims.append(model.latent_dim)
    train = unit(train_images, n_bits)
    for dim in dims:
        pca = PCA(train, dim)
        rows.append({"method": f"PCA-{dim}", "latent_dim": dim,
                     **{s: float(psnr(clean, pca.project(noisy[s])).mean()) for s in sigmas}})
    return rows


def denoising_markdown(rows: List[Dict], sigmas: Sequence[float], images: int) -> str:
    lines = [f"PSNR (dB, higher is better) of {images} test images with added Gaussian noise "
             "sigma, mapped back by each method", "",
             "| method | M | " + " | ".join(f"sigma {s:g}" for s in sigmas) + " |",
             "|---|---|" + "---|" * len(sigmas)]
    for row in rows:
        m = "-" if row["latent_dim"] is None else str(row["latent_dim"])
        lines.append(f"| {row['method']} | {m} | "
                     + " | ".join(f"{row[s]:.2f}" for s in sigmas) + " |")
    return "\n".join(lines)
