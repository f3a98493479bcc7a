"""Checkerboard artifacts as a number: the Nyquist share of an image's spectral energy.

For an image x (H x W, channels averaged) with 2-D DFT X[k, l],

    nyquist_share(x) = H W |X[H/2, W/2]|^2 / sum_{(k, l) != (0, 0)} |X[k, l]|^2

the energy of the period-2 checkerboard (-1)^(i + j) among all non-constant energy, times the
number of frequencies, so white noise scores about 1 and a smooth image about 0 (real MNIST
test digits: 0.017); a pure checkerboard scores H W. A Glow's 2x2 squeeze puts the four
pixels of every 2x2 block into channels of one position, so an error in those channels
decodes as exactly this pattern. H and W must be even. A constant image scores 0.
"""
from __future__ import annotations

from typing import Dict

import numpy as np

DEFINITION = ("Nyquist share: H W |X[H/2, W/2]|^2 / (non-constant spectral energy) of the 2-D "
              "DFT X of each image (channels averaged); white noise ~1, real digits ~0.02")


def nyquist_share(images) -> np.ndarray:
    """(n,) Nyquist share of images (n, H, W) or (n, H, W, C), any numeric dtype."""
    arr = np.asarray(images, np.float64)
    if arr.ndim == 4:
        arr = arr.mean(axis=-1)
    if arr.ndim != 3:
        raise ValueError(f"expected images (n, H, W[, C]); got shape {np.shape(images)}")
    n, h, w = arr.shape
    if h % 2 or w % 2:
        raise ValueError(f"the Nyquist bin needs even H and W; got {h}x{w}")
    power = np.abs(np.fft.fft2(arr)) ** 2
    total = power.reshape(n, -1).sum(axis=1) - power[:, 0, 0]
    share = np.zeros(n)
    nonzero = total > 1e-12 * (power[:, 0, 0] + 1.0)
    share[nonzero] = h * w * power[nonzero, h // 2, w // 2] / total[nonzero]
    return share


def checkerboard(images) -> Dict[str, float]:
    """Mean and standard error of the Nyquist share over ``images``."""
    share = nyquist_share(images)
    return {"nyquist_share": float(share.mean()),
            "nyquist_share_sem": float(share.std(ddof=1) / np.sqrt(len(share)))
            if len(share) > 1 else 0.0, "images": int(len(share))}
