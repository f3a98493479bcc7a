"""Held-out bits per dimension, measured the standard way (SPEC section 6): uniform
dequantisation noise drawn from a seed; exact log-likelihood for NF and NIF, the
importance-weighted lower bound (so a bits/dim upper bound) for the models without an exact
likelihood (deep NIF, progressive)."""
from __future__ import annotations

from typing import Any, Dict, Optional

import numpy as np

from nif_zoo.data import quantize


def evaluation_data(data_config: Dict[str, Any], split: str = "test",
                    limit: Optional[int] = None, progress: bool = True):
    """The dataset a model was trained on (its training config's ``data`` section), at
    ``split``, fitted to the model's image shape and bit depth (``progress``: tfds' bar
    while a folder's cache is built)."""
    from nif_zoo.data import load_dataset

    d = data_config
    return load_dataset(d["dataset"], split, image_shape=d["image_shape"], n_bits=d["n_bits"],
                        data_dir=d.get("data_dir"), fit=d.get("fit"), limit=limit,
                        split_scheme=d.get("split_scheme") or "every_20th",
                        split_seed=d.get("split_seed") or 0,
                        skip_bad=bool(d.get("skip_bad_files")), progress=progress)


def per_image_bits_per_dim(model, images, *, seed: int = 0, num_samples: Optional[int] = None,
                           batch_size: int = 256):
    """Bits/dim of each of the integer ``images`` under ``model`` with uniform dequantisation
    noise from ``seed`` (the same noise for every model of the same image shape and bit
    depth: what makes two models' numbers paired). A model without an exact likelihood: the
    IW bound with K = ``num_samples`` (default the model's ``iw_samples``). Returns the
    array (n,) and how it was measured."""
    if not model.exact:
        k = int(num_samples or model.config["iw_samples"])
        log_p = model.iw_bound(images, num_samples=k, seed=seed, key=seed,
                               batch_size=batch_size)
        bound = f"IW bound K={k}"
    else:
        if num_samples is not None:
            raise ValueError(f"num_samples is for models with a bound (IW); a {model.kind} "
                             "log-likelihood is exact")
        log_p = model.log_prob(images, key=seed, batch_size=batch_size)
        bound = "exact"
    return quantize.bits_per_dim(np.asarray(log_p), model.num_dims), bound


def dequantisation_text(model, seed: int) -> str:
    return f"uniform (seed {seed})" + (
        f" + Gaussian noise sigma {model.data_noise:g} (the model's data_noise: bits/dim "
        "of the noisy data)" if model.data_noise else "")


def heldout_bits_per_dim(model, images, *, seed: int = 0, num_samples: Optional[int] = None,
                         batch_size: int = 256) -> Dict[str, Any]:
    """Mean bits/dim of integer ``images`` under ``model`` (:func:`per_image_bits_per_dim`)
    and its standard error. Returns the numbers and how they were measured."""
    bpd, bound = per_image_bits_per_dim(model, images, seed=seed, num_samples=num_samples,
                                        batch_size=batch_size)
    return heldout_summary(model, bpd, bound, seed)


def heldout_summary(model, bpd, bound: str, seed: int) -> Dict[str, Any]:
    """The mean of per-image bits/dim ``bpd`` (:func:`per_image_bits_per_dim`), its
    standard error and how it was measured."""
    return {"bpd": float(np.mean(bpd)), "bpd_sem": float(np.std(bpd) / np.sqrt(len(bpd))),
            "images": int(len(bpd)), "bound": bound,
            "dequantisation": dequantisation_text(model, seed)}


def paired_bits_per_dim(model, baseline, images, *, seed: int = 0, batch_size: int = 256,
                        num_samples: Optional[int] = None, measured=None) -> Dict[str, Any]:
    """``model``'s bits/dim minus ``baseline``'s on the same ``images`` with the same
    dequantisation noise, image by image: the mean difference, its standard error (of the
    paired differences, ddof 1; much smaller than either model's own, the images' spread
    cancelling) and the fraction of images on which ``model`` is lower. The two must model
    the same image shape and bit depth (and data noise: else the densities differ in what
    they measure). ``num_samples``: K of the IW bound of each of the two that has one (a deep
    NIF; default each model's own). ``measured``: ``model``'s (bits/dim, bound) of these
    images, seed and K when already measured (:func:`per_image_bits_per_dim`), not measured
    again."""
    check_pairable(model, baseline)
    if len(images) < 2:
        raise ValueError("a paired comparison needs at least 2 images")
    def measure(m):
        return per_image_bits_per_dim(m, images, seed=seed, batch_size=batch_size,
                                      num_samples=None if m.exact else num_samples)

    ours, bound = measured or measure(model)
    theirs, baseline_bound = measure(baseline)
    return {**paired_difference(ours, theirs), "bound": bound,
            "baseline_bound": baseline_bound, "dequantisation": dequantisation_text(model, seed)}


def check_pairable(model, baseline) -> None:
    """ValueError unless the two models' bits/dim of the same images measure the same thing
    (image shape, bit depth, data noise)."""
    for attr in ("image_shape", "n_bits", "data_noise"):
        a, b = getattr(model, attr), getattr(baseline, attr)
        if tuple(np.atleast_1d(a)) != tuple(np.atleast_1d(b)):
            raise ValueError(f"a paired comparison needs the same {attr} in both models; "
                             f"got {a} and {b}")


def paired_difference(ours, theirs) -> Dict[str, Any]:
    """Per-image bits/dim ``ours`` minus ``theirs`` (the same images, the same noise): both
    means, the mean difference, its standard error (ddof 1) and the share of images where
    ours is lower."""
    ours, theirs = np.asarray(ours, np.float64), np.asarray(theirs, np.float64)
    if ours.shape != theirs.shape or ours.ndim != 1 or len(ours) < 2:
        raise ValueError("a paired comparison needs the same images (at least 2) on both "
                         f"sides; got {ours.shape} and {theirs.shape}")
    diff = ours - theirs
    return {"bpd": float(np.mean(ours)), "baseline_bpd": float(np.mean(theirs)),
            "difference": float(np.mean(diff)),
            "difference_sem": float(np.std(diff, ddof=1) / np.sqrt(len(diff))),
            "fraction_lower": float(np.mean(diff < 0)), "images": int(len(diff))}
