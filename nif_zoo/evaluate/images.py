"""Image grids for looking at samples: uint8 images -> one PNG."""
from __future__ import annotations

import math
import os

import numpy as np


def to_uint8(images, n_bits: int = 8) -> np.ndarray:
    """n_bits integer images -> full-range uint8 (k * 255 / (2^n_bits - 1))."""
    arr = np.asarray(images)
    if n_bits == 8:
        return arr.astype(np.uint8)
    return np.round(arr.astype(np.float64) * 255.0 / (2 ** n_bits - 1)).astype(np.uint8)


def image_grid(images, *, n_bits: int = 8, cols=None, scale: int = 1, pad: int = 1) -> np.ndarray:
    """Tile (n, H, W, C) images into one (rows (H+pad), cols (W+pad), C) uint8 array,
    each image upscaled ``scale`` times by pixel repetition (no blurring)."""
    arr = to_uint8(images, n_bits)
    if arr.ndim != 4 or arr.shape[0] == 0:
        raise ValueError(f"expected images (n, H, W, C) with n >= 1; got shape {arr.shape}")
    if scale < 1 or pad < 0:
        raise ValueError(f"scale must be >= 1 and pad >= 0; got {scale}, {pad}")
    arr = arr.repeat(scale, axis=1).repeat(scale, axis=2)
    n, h, w, c = arr.shape
    cols = cols or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    grid = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, c), 255, np.uint8)
    for i in range(n):
        r, q = divmod(i, cols)
        top, left = pad + r * (h + pad), pad + q * (w + pad)
        grid[top: top + h, left: left + w] = arr[i]
    return grid


def save_png(path, grid) -> str:
    """Write a (H, W, 1 or 3) uint8 array as PNG; creates the folder. Returns the path."""
    from PIL import Image

    arr = np.asarray(grid)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    Image.fromarray(arr).save(path, format="PNG")
    return path
