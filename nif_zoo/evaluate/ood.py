"""Out-of-distribution detection with a model's outlier scores (``Model.outlier_scores``).

Flows' likelihoods are known to rank some out-of-distribution data above the training data
(Nalisnick et al., 2019, "Do deep generative models know what they don't know?"); a NIF adds
scores of the distance to its learned manifold. :func:`ood_report` measures, per score, the
AUROC of telling out-of-distribution images (positives) from held-out test images
(negatives): 1 separates perfectly, 0.5 is chance, below 0.5 ranks the outliers as *more*
typical (the known failure).

The out-of-distribution sets made here (:func:`ood_sets`, every one quantised to the model's
bits and shaped like its images, from ``seed``):

* ``lfw_faces``: the 100 real faces of scikit-image (25x25 gray), resized to the model's
  image shape (channels replicated);
* ``gaussian_noise``: pixels N(mean, std) of the test images, clipped;
* ``uniform_noise``: every level equally likely;
* ``constant``: one uniformly drawn level per image;
* ``rotated_90``: the test images rotated by 90 degrees (square images);
* ``inverted``: the test images with levels reversed (top - k).
"""
from __future__ import annotations

from typing import Dict, List

import numpy as np

SETS = ("lfw_faces", "gaussian_noise", "uniform_noise", "constant", "rotated_90", "inverted")


def auroc(negatives, positives) -> float:
    """Area under the ROC curve of ``score > threshold`` calling an image positive: the
    probability that a random positive scores above a random negative (ties count 1/2),
    by ranks (Mann-Whitney U). NaN scores are refused."""
    neg = np.asarray(negatives, np.float64).ravel()
    pos = np.asarray(positives, np.float64).ravel()
    if not (len(neg) and len(pos)):
        raise ValueError("auroc needs scores of both groups")
    both = np.concatenate([neg, pos])
    if np.any(np.isnan(both)):
        raise ValueError("scores contain NaN")
    order = np.argsort(both, kind="mergesort")
    ranks = np.empty(len(both))
    sorted_scores = both[order]
    i = 0
    while i < len(both):  # average ranks of ties (+inf ties too)
        j = i
        while j + 1 < len(both) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i:j + 1]] = 0.5 * (i + j) + 1.0
        i = j + 1
    u = ranks[len(neg):].sum() - len(pos) * (len(pos) + 1) / 2.0
    return float(u / (len(pos) * len(neg)))


def lfw_faces_like(image_shape, n_bits: int) -> np.ndarray:
    from nif_zoo.data.preprocess import convert_channels, fit_to_shape, reduce_bits
    from nif_zoo.data.sources import load_lfw_faces

    faces, _ = load_lfw_faces("all")
    faces = convert_channels(faces, image_shape[-1])
    return reduce_bits(fit_to_shape(faces, image_shape, "resize"), n_bits)


def ood_sets(test_images: np.ndarray, n_bits: int, *, count: int = 1000,
             seed: int = 0, sets=SETS) -> Dict[str, np.ndarray]:
    """The out-of-distribution sets of the module docstring, ``count`` images each (the
    faces: all 100), integer images like ``test_images``."""
    unknown = sorted(set(sets) - set(SETS))
    if unknown:
        raise ValueError(f"unknown sets {unknown}; known: {SETS}")
    test = np.asarray(test_images)
    shape, top = test.shape[1:], 2 ** n_bits - 1
    r = np.random.default_rng(seed)
    scale = test.astype(np.float64)
    out = {}
    for name in sets:
        if name == "lfw_faces":
            out[name] = lfw_faces_like(shape, n_bits)
        elif name == "gaussian_noise":
            noise = r.normal(scale.mean(), scale.std(), (count,) + shape)
            out[name] = np.clip(np.round(noise), 0, top).astype(np.uint8)
        elif name == "uniform_noise":
            out[name] = r.integers(0, top + 1, (count,) + shape, dtype=np.uint8)
        elif name == "constant":
            levels = r.integers(0, top + 1, count, dtype=np.uint8)
            out[name] = np.broadcast_to(levels[:, None, None, None], (count,) + shape).copy()
        elif name == "rotated_90":
            if shape[0] != shape[1]:
                continue  # not defined for non-square images
            out[name] = np.rot90(test[:count], 1, axes=(1, 2)).copy()
        elif name == "inverted":
            out[name] = (top - test[:count]).astype(test.dtype)
    return out


def ood_report(model, test_images, *, count: int = 1000, seed: int = 0,
               sets=SETS, batch_size: int = 256) -> List[Dict]:
    """Rows {"set", "images", score: AUROC, ...} for every set of :func:`ood_sets`, the
    in-distribution scores being ``model.outlier_scores(test_images)``; NaN scores (a
    non-finite likelihood) count as the most outlying (+inf)."""
    def scores(images):
        return {k: np.nan_to_num(v, nan=np.inf) for k, v in
                model.outlier_scores(images, batch_size=batch_size).items()}

    inside = scores(test_images)
    rows = []
    for name, images in ood_sets(test_images, model.n_bits, count=count, seed=seed,
                                 sets=sets).items():
        outside = scores(images)
        rows.append({"set": name, "images": int(len(images)),
                     **{k: auroc(inside[k], outside[k]) for k in inside}})
    return rows


def report_markdown(name: str, rows: List[Dict], test_images: int) -> str:
    keys = [k for k in rows[0] if k not in ("set", "images")] if rows else []
    lines = [f"AUROC of {name}'s outlier scores: out-of-distribution set vs {test_images} test "
             "images (1 = separated, 0.5 = chance, < 0.5 = the outliers look more typical)", "",
             "| set | images | " + " | ".join(keys) + " |",
             "|---|---|" + "---|" * len(keys)]
    for row in rows:
        lines.append(f"| {row['set']} | {row['images']} | "
                     + " | ".join(f"{row[k]:.3f}" for k in keys) + " |")
    return "\n".join(lines)
