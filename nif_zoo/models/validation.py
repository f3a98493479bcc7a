"""Input checks of the public Model API: bad input is a ValueError naming what is wrong."""
from __future__ import annotations

import numbers

import numpy as np

# float images may lie in [-2, 3]: decode's output is neither clipped nor quantised (a trained
# 32x32 MNIST NIF decodes N(0, I) latents into about [-0.4, 2.1]); 0..255 floats are refused
FLOAT_MARGIN = 2.0


def check_images(images, image_shape, n_bits: int) -> np.ndarray:
    """Return ``images`` as an array after checking shape, dtype and value range.

    Accepts integer images in [0, 2^n_bits) or float images in the data scale [0, 1],
    shaped (n, H, W, C) with (H, W, C) == ``image_shape``. Floats slightly outside [0, 1]
    (``decode`` returns them: it neither clips nor quantises) are accepted up to
    ``FLOAT_MARGIN`` beyond either end; anything further is another scale (e.g. 0..255
    floats) and refused. Nothing is broadcast.
    """
    arr = np.asarray(images)
    expected = tuple(image_shape)
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer)
                                 or np.issubdtype(arr.dtype, np.floating)):
        raise ValueError(f"images must be integers or floats; got dtype {arr.dtype}")
    if arr.ndim != 4:
        raise ValueError(
            f"images must have shape (n, H, W, C) = (n, {', '.join(map(str, expected))}); "
            f"got {arr.ndim} axes with shape {arr.shape}"
        )
    if arr.shape[0] == 0:
        raise ValueError("images is empty (n = 0)")
    if arr.shape[-1] != expected[-1]:
        raise ValueError(
            f"images have {arr.shape[-1]} channels but the model expects {expected[-1]} "
            f"(image shape {expected}); got shape {arr.shape}"
        )
    if arr.shape[1:] != expected:
        raise ValueError(
            f"images must be {expected[0]}x{expected[1]} (shape (n, {', '.join(map(str, expected))})); "
            f"got shape {arr.shape}"
        )
    if np.issubdtype(arr.dtype, np.integer):
        levels = 2 ** n_bits
        lo, hi = arr.min(), arr.max()
        if lo < 0 or hi >= levels:
            raise ValueError(
                f"integer images must lie in [0, 2^n_bits) = [0, {levels}) for n_bits={n_bits}; "
                f"got values in [{lo}, {hi}]"
            )
        return arr
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"images contain {np.size(arr) - np.isfinite(arr).sum()} non-finite values")
    lo, hi = float(arr.min()), float(arr.max())
    if lo < -FLOAT_MARGIN or hi > 1.0 + FLOAT_MARGIN:
        hint = (" (0..255 floats? pass the integers as uint8, or divide by 255)"
                if hi > 1.0 + FLOAT_MARGIN else "")
        raise ValueError(f"float images must lie in the data scale [0, 1] (values slightly "
                         f"outside, as decode returns them, are accepted: "
                         f"[{-FLOAT_MARGIN:g}, {1 + FLOAT_MARGIN:g}]); got values in "
                         f"[{lo:.4g}, {hi:.4g}]{hint}")
    return arr.astype(np.float32)


def check_latent(z, latent_dim: int) -> np.ndarray:
    arr = np.asarray(z)
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)) \
            or arr.dtype == bool:
        raise ValueError(f"latent must be a float array; got dtype {arr.dtype}")
    if arr.ndim != 2 or arr.shape[1] != latent_dim:
        raise ValueError(
            f"latent must have shape (n, {latent_dim}) for this model; got shape {arr.shape}"
        )
    if arr.shape[0] == 0:
        raise ValueError("latent is empty (n = 0)")
    if not np.all(np.isfinite(arr)):
        raise ValueError("latent contains non-finite values")
    return arr.astype(np.float32)


def check_non_negative(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number; got {value!r}")
    value = float(value)
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be finite and >= 0; got {value}")
    return value


def check_count(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value!r}")
    return int(value)
