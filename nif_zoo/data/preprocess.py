"""Fitting images to a model's shape and bit depth.

* ``reduce_bits``: 8-bit k -> k >> (8 - n_bits), values in [0, 2^n_bits).
* ``convert_channels``: RGB -> gray (ITU-R 601 luma) or gray -> RGB (replicated).
* ``fit_to_shape``: ``"pad"`` (zero-pad, centred: Fashion-MNIST 28 -> 32), ``"crop"``
  (centre crop), ``"resize"`` (Pillow bilinear, aspect ratio not kept) or
  ``"stride_crop"`` (subsample by the largest integer stride that keeps both sides >= the
  target, then centre crop: CelebA 178x218 -> stride 2 -> 89x109 -> 64x64) and
  ``"celeba_crop"`` (the authors' CelebA crop: rows 26:-19, columns 12:-13 of the aligned
  image at half resolution, 109x89; a full-resolution 218x178 image is strided by 2 first).
"""
from __future__ import annotations

import numpy as np

FIT_MODES = ("pad", "crop", "resize", "stride_crop", "celeba_crop")
CELEBA_FULL = (218, 178)   # img_align_celeba (rows, columns)
CELEBA_HALF = (109, 89)    # the same strided by 2: the authors' input
CELEBA_CROP = (slice(26, -19), slice(12, -13))
"""The authors' CelebA preprocessing: stride 2 (218x178 -> 109x89), rows 26:-19, columns
12:-13 -> 64x64."""


def celeba_crop(images: np.ndarray) -> np.ndarray:
    """uint8 (n, 218, 178, c) or (n, 109, 89, c) aligned CelebA faces -> (n, 64, 64, c):
    stride 2 (full resolution only), then the authors' rows 26:-19, columns 12:-13."""
    ih, iw = images.shape[1:3]
    if (ih, iw) == CELEBA_FULL:
        images = images[:, ::2, ::2]
    elif (ih, iw) != CELEBA_HALF:
        raise ValueError(f"celeba_crop turns aligned CelebA images (218x178, or 109x89 at half "
                         f"resolution) into 64x64 faces; got {ih}x{iw}")
    rows, cols = CELEBA_CROP
    return images[:, rows, cols]


def reduce_bits(images: np.ndarray, n_bits: int) -> np.ndarray:
    if not 1 <= n_bits <= 8:
        raise ValueError(f"n_bits must be in [1, 8]; got {n_bits}")
    return (np.asarray(images, np.uint8) >> (8 - n_bits)).astype(np.uint8)


def convert_channels(images: np.ndarray, channels: int) -> np.ndarray:
    c = images.shape[-1]
    if c == channels:
        return images
    if c == 3 and channels == 1:
        luma = images.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
        return np.clip(np.round(luma), 0, 255).astype(np.uint8)[..., None]
    if c == 1 and channels == 3:
        return np.repeat(images, 3, axis=-1)
    raise ValueError(f"cannot convert {c}-channel images to {channels} channels")


def centre_crop(images, h: int, w: int):
    top = (images.shape[1] - h) // 2
    left = (images.shape[2] - w) // 2
    return images[:, top: top + h, left: left + w]


def centre_pad(images, h: int, w: int):
    dh, dw = h - images.shape[1], w - images.shape[2]
    return np.pad(images, ((0, 0), (dh // 2, dh - dh // 2), (dw // 2, dw - dw // 2), (0, 0)))


def resize(images, h: int, w: int):
    from PIL import Image

    out = np.empty((len(images), h, w, images.shape[-1]), np.uint8)
    for i, img in enumerate(images):
        pil = Image.fromarray(img[..., 0] if img.shape[-1] == 1 else img)
        arr = np.asarray(pil.resize((w, h), Image.BILINEAR))
        out[i] = arr.reshape(h, w, -1)
    return out


def fit_to_shape(images: np.ndarray, image_shape, mode: str = "resize") -> np.ndarray:
    """uint8 (n, h, w, c) -> uint8 (n, H, W, C) = ``image_shape`` by ``mode`` (see module)."""
    if mode not in FIT_MODES:
        raise ValueError(f"fit mode must be one of {FIT_MODES}; got {mode!r}")
    h, w, c = image_shape
    images = convert_channels(images, c)
    ih, iw = images.shape[1:3]
    if (ih, iw) == (h, w):
        return images
    if mode == "resize":
        return resize(images, h, w)
    if mode == "celeba_crop":
        if (h, w) != (64, 64):
            raise ValueError(f"celeba_crop makes 64x64 faces, not {h}x{w}; use stride_crop "
                             "or resize for other sizes")
        return celeba_crop(images)
    if mode == "stride_crop":
        stride = max(1, min(ih // h, iw // w))
        images = images[:, ::stride, ::stride]
        mode = "crop"
    ih, iw = images.shape[1:3]
    if mode == "pad":
        if ih > h or iw > w:
            raise ValueError(f"cannot pad {ih}x{iw} images to {h}x{w}; use crop or resize")
        return centre_pad(images, h, w)
    if ih < h or iw < w:
        raise ValueError(f"cannot crop {ih}x{iw} images to {h}x{w}; use pad or resize")
    return centre_crop(images, h, w)
