"""The paper's figures in kind, as small PNGs (matplotlib, Agg backend;
``pip install "nif-zoo[eval]"``):

* :func:`plot_fid_vs_s` (Fig. 7): FID against s per model; an NF is a flat line;
* :func:`plot_fid_vs_sigma`: FID against the score step's sigma per model (issue 30);
* :func:`denoise_grid`: each model's samples without and with its score step (same draws);
* :func:`temperature_grid` (Fig. 3): the same latent draws at t in 0..2, per model, s = 0;
* :func:`s_grid` (Fig. 5/6): the same z and the same noise draw at s from 0 to 1;
* :func:`embedding_umap` (Fig. 4): supervised UMAP of test embeddings coloured by class.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence

import numpy as np


def _pyplot():
    try:
        import matplotlib
    except ImportError as err:
        raise ImportError("plots need matplotlib: pip install \"nif-zoo[eval]\"") from err
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_fid_sweep(sweeps: Dict[str, List[Dict]], path: str, *, key: str, xlabel: str,
                   title: str, baselines: Sequence[str] = ()) -> str:
    """``sweeps``: model name -> [{key: x, "fid": value}, ...]; ``baselines`` are dashed."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.5), dpi=100)
    for name, sweep in sweeps.items():
        x = [r[key] for r in sweep]
        f = [r["fid"] for r in sweep]
        style = "--" if name in baselines else "-o"
        ax.plot(x, f, style, label=name, markersize=3)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("FID (training images)")
    ax.set_title(title)
    # beside the axes, not over the curves (six models' legend hides their left ends)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_fid_vs_s(sweeps: Dict[str, List[Dict]], path: str, *, title: str = "",
                  baselines: Sequence[str] = ()) -> str:
    """``sweeps``: model name -> [{"s": s, "fid": value}, ...]; ``baselines`` (models without
    s, e.g. the NF) are dashed lines."""
    return plot_fid_sweep(sweeps, path, key="s", xlabel="noise scale s",
                          title=title or "FID vs s", baselines=baselines)


def plot_fid_vs_sigma(sweeps: Dict[str, List[Dict]], path: str, *, title: str = "") -> str:
    """``sweeps``: model name -> [{"sigma": sigma, "fid": value}, ...] (sigma 0: no step)."""
    return plot_fid_sweep(sweeps, path, key="sigma",
                          xlabel="score step sigma (x + sigma^2 grad log p(x))",
                          title=title or "FID vs the score step's sigma (s = 0)")


def _show_rows(rows: List[np.ndarray], row_labels: Sequence[str], col_labels: Sequence[str],
               n_bits: int, path: str, title: str) -> str:
    """rows[i]: uint8 images (num_cols, H, W, C) -> a labelled grid."""
    from nif_zoo.evaluate.images import to_uint8

    plt = _pyplot()
    n_rows, n_cols = len(rows), len(col_labels)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(0.9 * n_cols + 1.2, 0.9 * n_rows + 0.6),
                             dpi=100, squeeze=False, layout="constrained")
    for i, images in enumerate(rows):
        arr = to_uint8(images, n_bits)
        for j in range(n_cols):
            ax = axes[i][j]
            img = arr[j]
            ax.imshow(img[..., 0] if img.shape[-1] == 1 else img, cmap="gray", vmin=0, vmax=255,
                      interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(col_labels[j], fontsize=7)
            if j == 0:  # horizontal: a long model name must not run into the next rows
                ax.set_ylabel(row_labels[i], fontsize=6, rotation=0, ha="right", va="center")
    fig.suptitle(title, fontsize=9)
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return path


def temperature_grid(models: Dict[str, object], path: str, *,
                     temperatures: Sequence[float] = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0),
                     num: int = 3, s: float = 0.0, seed: int = 0) -> str:
    """Rows: ``num`` latent draws eps per model; columns: decode(t eps, s) for each t."""
    import jax

    from nif_zoo import rng
    from nif_zoo.data import quantize

    rows, labels, n_bits = [], [], None
    for name, model in models.items():
        eps = np.asarray(rng.normal(jax.random.key(seed), (num, model.latent_dim)))
        for k in range(num):
            z = np.stack([t * eps[k] for t in temperatures]).astype(np.float32)
            rows.append(quantize.quantize(model.decode(z, s=s, seed=seed), model.n_bits))
            labels.append(f"{name} #{k}")
        n_bits = model.n_bits
    return _show_rows(rows, labels, [f"t={t:g}" for t in temperatures], n_bits, path,
                      f"same eps, z = t eps, s = {s:g}")


def manifold_walk(model, s_values: Sequence[float], *, num: int, temperature: float,
                  seed: int) -> List[np.ndarray]:
    """Rows of uint8 images: row k decodes z_k = t eps_k (eps from ``seed``) at every s with
    one noise draw (seed + k), x = manifold point + sqrt(s) L n. One call per s keeps the
    batch shape (1, M) constant: one compiled function."""
    import jax

    from nif_zoo import rng
    from nif_zoo.data import quantize

    eps = np.asarray(rng.normal(jax.random.key(seed), (num, model.latent_dim)))
    z = (temperature * eps).astype(np.float32)
    return [np.concatenate([quantize.quantize(model.decode(z[k: k + 1], s=s, seed=seed + k),
                                              model.n_bits) for s in s_values])
            for k in range(num)]


def s_grid(model, path: str, *, s_values: Sequence[float] = (0.0, 0.1, 0.25, 0.5, 0.75, 1.0),
           num: int = 4, temperature: float = 0.7, seed: int = 0, name: str = "") -> str:
    """Rows: ``num`` latents z = t eps; columns: decode(z, s) with the same noise draw."""
    rows = manifold_walk(model, s_values, num=num, temperature=temperature, seed=seed)
    return _show_rows(rows, [f"z #{k}" for k in range(num)], [f"s={s:g}" for s in s_values],
                      model.n_bits, path, f"{name}: walking off the manifold (t = {temperature:g})")


def denoised_rows(model, sigma: float, *, num: int, temperature: float = 1.0, s: float = 0.0,
                  seed: int = 0) -> List[np.ndarray]:
    """[samples without the score step, the same draws after it] (uint8, ``num`` each)."""
    plain = model.sample(num, temperature=temperature, s=s, seed=seed)
    stepped = model.sample(num, temperature=temperature, s=s, seed=seed,
                           denoise=sigma or None)
    return [plain, stepped]


def denoise_grid(models: Dict[str, tuple], path: str, *, num: int = 8, temperature: float = 1.0,
                 seed: int = 0) -> str:
    """``models``: name -> (model, sigma); per model a row of samples (t, s = 0) and the same
    draws after one score step of that sigma (``Model.denoise``)."""
    rows, labels, n_bits = [], [], None
    for name, (model, sigma) in models.items():
        rows += denoised_rows(model, sigma, num=num, temperature=temperature, seed=seed)
        labels += [name, f"sigma = {sigma:g}" if sigma else "sigma = 0 (no step)"]
        n_bits = model.n_bits
    return _show_rows(rows, labels, [f"#{k}" for k in range(num)], n_bits, path,
                      f"t = {temperature:g}, s = 0: without / with the score step")


def reconstruction_grid(models: Dict[str, object], images: np.ndarray, path: str, *,
                        title: str = "") -> str:
    """Row 0: held-out ``images`` (uint8); then per model their reconstructions
    decode(embed(x), s = 0) (``Model.reconstruct``; an NF's are the images themselves)."""
    n_bits = next(iter(models.values())).n_bits
    rows = [np.asarray(images)] + [model.reconstruct(images) for model in models.values()]
    labels = ["test images"] + [f"{name}" for name in models]
    return _show_rows(rows, labels, [f"#{k}" for k in range(len(images))], n_bits, path,
                      title or "held-out images and their reconstructions decode(embed(x), s = 0)")


def interpolation_grid(models: Dict[str, object], pairs: np.ndarray, path: str, *,
                       steps: int = 8, interpolation: str = "linear") -> str:
    """Per model and pair (a, b) of held-out images (``pairs``: uint8 (k, 2, H, W, C)), a row
    decoded on the manifold between their embeddings (``Model.interpolate``): the ends are
    their reconstructions."""
    from nif_zoo.data import quantize

    rows, labels, n_bits = [], [], None
    for name, model in models.items():
        for k, (a, b) in enumerate(pairs):
            path_images = model.interpolate(a, b, steps, path=interpolation)
            rows.append(quantize.quantize(path_images, model.n_bits))
            labels.append(f"{name} #{k}")
        n_bits = model.n_bits
    cols = [f"u={u:.2f}" for u in np.linspace(0.0, 1.0, steps)]
    return _show_rows(rows, labels, cols, n_bits, path,
                      f"{interpolation} interpolation between held-out images' embeddings, s = 0")


def embedding_umap(embeddings: Dict[str, tuple], path: str, *, seed: int = 0,
                   colour: Optional[tuple] = None) -> str:
    """``embeddings``: model name -> (z (n, d), labels (n,) or None); one UMAP panel each,
    supervised by the labels where there are labels. Points are coloured by the labels, or
    where there are none by ``colour`` = (values (n,), what they are), e.g. the images'
    mean brightness."""
    try:
        import umap
    except ImportError as err:
        raise ImportError("the UMAP plot needs umap-learn: pip install \"nif-zoo[eval]\"") from err
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(embeddings), figsize=(4 * len(embeddings), 4), dpi=100,
                             squeeze=False)
    points, what = None, "class"
    for ax, (name, (z, labels)) in zip(axes[0], embeddings.items()):
        xy = umap.UMAP(n_components=2, random_state=seed, n_jobs=1).fit_transform(z, y=labels)
        if labels is not None:
            points = ax.scatter(xy[:, 0], xy[:, 1], c=labels, cmap="tab10", s=3)
        elif colour is not None:
            points = ax.scatter(xy[:, 0], xy[:, 1], c=colour[0], cmap="viridis", s=3)
            what = colour[1]
        else:
            ax.scatter(xy[:, 0], xy[:, 1], s=3)
        ax.set_title(f"{name} (dim {z.shape[1]})", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    if points is not None:
        fig.colorbar(points, ax=axes[0].tolist(), shrink=0.8, label=what)
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return path
