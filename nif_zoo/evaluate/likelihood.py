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


def heldout_bits_per_dim(model, images, *, seed: int = 0, num_samples: Optional[int] = None,
                      batch_size: int = 256) -> Dict[str, Any]:
    """Mean bits/dim of integer ``images`` under ``model`` with uniform dequantisation noise
    from ``seed``. A model without an exact likelihood: the IW bound with K = ``num_samples``
    (default the model's ``iw_samples``). Returns the number and how it was measured."""
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
    bpd = quantize.bits_per_dim(np.asarray(log_p), model.num_dims)
    return {"bpd": float(np.mean(bpd)), "bpd_sem": float(np.std(bpd) / np.sqrt(len(bpd))),
            "images": int(len(bpd)), "bound": bound,
            "dequantisation": f"uniform (seed {seed})" + (
                f" + Gaussian noise sigma {model.data_noise:g} (the model's data_noise: bits/dim "
                "of the noisy data)" if model.data_noise else "")}
