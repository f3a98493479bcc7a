"""One command for the comparison of zoo models trained on the same data: bits/dim, FID at
s = 1 and at the tuned s, the figures, and (optionally) the numbers into the models' cards.

    nif-zoo compare nf-mnist32 nif32-mnist32 nif64-mnist32 deepnif64-mnist32 --out docs/results
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
from typing import Callable, Dict, Optional, Sequence

import numpy as np

from nif_zoo.evaluate import compare
from nif_zoo.evaluate.likelihood import evaluation_data
from nif_zoo.models.architectures import trunk_of


SAME_DATA_KEYS = ("dataset", "image_shape", "n_bits", "fit", "data_dir", "split_scheme",
                  "split_seed", "skip_bad_files")


def shared_data_config(names: Sequence[str]) -> Dict:
    """The data section the models were trained on; they must agree."""
    from nif_zoo.zoo import registry

    configs = {}
    for name in names:
        d = registry.get_entry(name).config["data"]
        # which images (the split too: a random split's test faces are not every 20th), not
        # how training used them (flips, evaluation settings); unset keys keep their defaults
        configs[name] = {k: d[k] for k in SAME_DATA_KEYS if d.get(k) is not None}
    first = next(iter(configs.values()))
    different = [n for n, c in configs.items() if c != first]
    if different:
        raise ValueError(f"models trained on different data cannot share FID references: "
                         f"{names[0]} vs {different}")
    return first


def model_bpd(name: str, model) -> Dict:
    """The held-out bits/dim the model's card reports (measured by nif-zoo publish)."""
    from nif_zoo.models import pretrained
    from nif_zoo.zoo import hub

    folder = hub.bundled_folder(name)
    metrics = pretrained.read_json(folder, pretrained.METRICS, {}) if folder else {}
    if metrics.get("test_bpd") is None:
        raise ValueError(f"{name} has no measured bits/dim (publish it first)")
    return {"bpd": metrics["test_bpd"], "bound": metrics["bound"], "images": metrics["images"],
            "prior_fit": metrics.get("prior_fit")}


CHECKERBOARD_SAMPLES = 200


def model_fingerprint(name: str) -> Optional[str]:
    """A digest of what the model computes, its config and weights as its SHA256SUMS lists
    them, or None when it is not a bundled checkpoint: a cached result is reused only for
    the same model. The card, metrics and training record are left out, so that writing the
    measured FIDs into them (``--update-cards``) does not make a rerun measure again."""
    from nif_zoo.models import pretrained
    from nif_zoo.zoo import hub

    folder = hub.bundled_folder(name)
    if folder is None:
        return None
    manifest = pretrained.read_manifest(folder)
    computed = sorted((rel, digest) for rel, digest in manifest.items()
                      if rel == pretrained.CONFIG or rel.startswith(pretrained.WEIGHTS + "/"))
    return hashlib.sha256(json.dumps(computed).encode()).hexdigest()


def training_facts(name: str) -> Dict:
    """What the model's card says of its training: parameters, steps, wall hours and the
    hardware (None where the card does not say)."""
    from nif_zoo.models import pretrained
    from nif_zoo.zoo import hub

    folder = hub.bundled_folder(name)
    metrics = pretrained.read_json(folder, pretrained.METRICS, {}) if folder else {}
    seconds = metrics.get("train_seconds")
    return {"num_params": metrics.get("num_params"), "train_steps": metrics.get("train_steps"),
            "train_hours": None if seconds is None else seconds / 3600.0,
            "train_hardware": metrics.get("train_hardware")}


def measure_model(name: str, model, train_ref: Dict, test_ref: Dict, test, features,
                  settings: Dict, progress: bool) -> Dict:
    """One row of the comparison: bits/dim (card), the s protocol, 5-NN accuracy of the test
    embeddings, the Nyquist share of samples at t = 0.7, s = 0 (and the score step's sigma
    protocol when ``settings`` has ``sigma_values``: :func:`with_score_step`)."""
    from nif_zoo.evaluate.prior_fit import checkerboard_statistics

    tune = compare.tune_s(model, train_ref, test_ref, features, settings["s_values"],
                          num_samples=settings["num_samples"],
                          sweep_samples=settings["sweep_samples"],
                          temperature=settings["temperature"], seed=settings["seed"],
                          progress=progress)
    knn = (compare.knn_accuracy(model.embed(test.images), test.labels)
           if test.labels is not None else None)
    grid = checkerboard_statistics(model, test.images[:CHECKERBOARD_SAMPLES],
                                   num_samples=CHECKERBOARD_SAMPLES, seed=settings["seed"])
    row = {"name": name, "kind": model.kind, "latent_dim": model.latent_dim,
           **model_bpd(name, model), "tune": tune, "knn": knn, "checkerboard": grid or None}
    return with_score_step(row, model, train_ref, test_ref, features, settings, progress)


def with_score_step(row: Dict, model, train_ref: Dict, test_ref: Dict, features,
                    settings: Dict, progress: bool) -> Dict:
    """``row`` with its "denoise" entry for ``settings``' sigma grid: kept when measured on
    that grid, measured when not (:func:`nif_zoo.evaluate.compare.tune_denoise` at s = 0),
    dropped when the settings ask for none."""
    row = {k: v for k, v in row.items() if k != "denoise" or settings.get("sigma_values")}
    sigmas = settings.get("sigma_values")
    measured = row.get("denoise")
    if not sigmas or (measured and [r["sigma"] for r in measured["sweep"]] == sigmas):
        return row
    return {**row, "denoise": compare.tune_denoise(
        model, train_ref, test_ref, features, sigmas, s=0.0,
        num_samples=settings["num_samples"], sweep_samples=settings["sweep_samples"],
        temperature=settings["temperature"], seed=settings["seed"], progress=progress)}


def needs_per_image_bpd(row: Dict, images) -> bool:
    """Whether ``row`` lacks the bits/dim of each of these test ``images`` (a row measured
    before they were part of it, or on another number of images)."""
    return len(row.get("test_bpd_per_image") or ()) != len(images)


def with_per_image_bpd(row: Dict, model, images) -> Dict:
    """``row`` with the bits/dim of each test image (uniform dequantisation of seed 0, as the
    cards'; the IW bound for a model without an exact likelihood): what the claims table
    pairs between a NIF and its NF (:func:`nif_zoo.evaluate.compare.paired_bpd`)."""
    from nif_zoo.evaluate.likelihood import per_image_bits_per_dim

    bpd, bound = per_image_bits_per_dim(model, images, seed=0)
    return {**row, "test_bpd_per_image": [round(float(v), 6) for v in bpd],
            "test_bpd_per_image_bound": bound}


def save_row(path: str, key: Dict, row: Dict) -> Dict:
    """Write {key, row} to ``path`` atomically; the row as a rerun will read it back."""
    row = json.loads(json.dumps(row))
    with open(path + ".tmp", "w") as fh:
        json.dump({"key": key, "row": row}, fh, indent=2)
    os.replace(path + ".tmp", path)
    return row


def without_sigma_grid(settings: Dict) -> Dict:
    return {k: v for k, v in settings.items() if k != "sigma_values"}


def run_comparison(names: Sequence[str], out_dir: str, *, num_samples: int = 2000,
                   sweep_samples: Optional[int] = None,
                   s_values: Sequence[float] = compare.PAPER_S_GRID,
                   sigma_values: Sequence[float] = (), temperature: float = 1.0,
                   train_limit: int = 2000, test_limit: int = 2000, seed: int = 0,
                   features: Optional[Callable] = None, plots: bool = True,
                   update_cards: bool = False, progress: bool = True) -> Dict:
    """Evaluate ``names`` (zoo models on the same data); write comparison.md/.json and the
    figures to ``out_dir``; with ``update_cards`` put the FIDs into the models' cards. Each
    row keeps the bits/dim of every test image, which the claims table pairs. With
    ``sigma_values`` (e.g. :data:`nif_zoo.evaluate.compare.SIGMA_GRID`) every model's score
    step (``Model.denoise``) is tuned at s = 0 as s is, a column of the table.

    Each model's row is saved to ``out_dir/models/NAME.json`` as soon as it is measured and
    reused by a later call with the same settings and weights, so a killed run resumes
    where it stopped; a row measured with another sigma grid (or none) keeps its s protocol
    and measures only the score step's (a row copied from another comparison's ``models/``
    folder counts)."""
    from nif_zoo.evaluate import fid as fid_lib
    from nif_zoo.evaluate.prior_fit import CHECKERBOARD_TEMPERATURE
    from nif_zoo.evaluate.spectrum import checkerboard
    from nif_zoo.zoo import load

    names = list(names)
    data = shared_data_config(names)
    features = features or fid_lib.InceptionFeatures()
    say = print if progress else (lambda *a, **k: None)
    say(f"reference statistics: {train_limit} train and {test_limit} test images ...")
    train_ref = fid_lib.reference_statistics(data, "train", train_limit, features)
    test_ref = fid_lib.reference_statistics(data, "test", test_limit, features)
    models = {name: load(name) for name in names}
    test = evaluation_data(data, "test", test_limit)
    settings = {"num_samples": num_samples,
                "sweep_samples": num_samples if sweep_samples is None else sweep_samples,
                "temperature": temperature, "seed": seed,
                "s_values": [float(s) for s in s_values],
                **({"sigma_values": [float(v) for v in sigma_values]} if sigma_values else {}),
                "train_reference_images": train_ref["n"], "test_reference_images": test_ref["n"],
                "checkerboard_samples": CHECKERBOARD_SAMPLES,
                "checkerboard_temperature": CHECKERBOARD_TEMPERATURE,
                "checkerboard_real": None if test.images.shape[1] % 2 or test.images.shape[2] % 2
                else checkerboard(test.images[:CHECKERBOARD_SAMPLES])["nyquist_share"]}
    os.makedirs(os.path.join(out_dir, "models"), exist_ok=True)
    rows = []
    for name, model in models.items():
        path = os.path.join(out_dir, "models", f"{name}.json")
        key = {"settings": settings, "weights": model_fingerprint(name)}
        saved = None
        if os.path.exists(path):
            with open(path) as fh:
                saved = json.load(fh)
        if saved is not None and saved.get("key") == key:
            say(f"{name}: measured before with these settings and weights ({path})")
            row = saved["row"]
        elif (saved is not None and saved["key"]["weights"] == key["weights"]
              and without_sigma_grid(saved["key"]["settings"]) == without_sigma_grid(settings)):
            # the same s protocol on the same weights: only the score step's grid differs
            say(f"{name}: s protocol measured before ({path}); the score step's sigmas ...")
            row = save_row(path, key, with_score_step(saved["row"], model, train_ref, test_ref,
                                                      features, settings, progress))
        else:
            say(f"{name}: FID sweep over s ({settings['sweep_samples']} samples each) ...")
            row = save_row(path, key, measure_model(name, model, train_ref, test_ref, test,
                                                    features, settings, progress))
        if needs_per_image_bpd(row, test.images):
            say(f"{name}: bits/dim of each of the {len(test)} test images ...")
            row = save_row(path, key, with_per_image_bpd(row, model, test.images))
        rows.append({**row, "trunk": trunk_of(model.config),  # a progressive model's: glow
                     "data_noise": model.config.data_noise,  # which NF the NIFs are held to
                     "training": training_facts(name)})
        tune = row["tune"]
        say(f"{name}: test FID {tune['test_fid_best_s']:.2f} at s = {tune['best_s']}, "
            f"{tune['test_fid_s1']:.2f} at s = 1")
    table = compare.comparison_markdown(rows, settings)
    claims = compare.claims_markdown(rows, data["dataset"])
    summary = "\n\n".join(filter(None, (compare.summarise(rows),
                                         compare.score_step_summary(rows)))) or None
    with open(os.path.join(out_dir, "comparison.md"), "w") as fh:
        fh.write(table + ("\n\n" + claims if claims else "")
                 + ("\n\n" + summary if summary else "") + "\n")
    with open(os.path.join(out_dir, "comparison.json"), "w") as fh:
        json.dump({"settings": settings, "rows": rows}, fh, indent=2)
    if plots:
        write_plots(models, rows, out_dir, data, test_limit, seed)
    if update_cards:
        from nif_zoo.zoo import cards
        from nif_zoo.zoo.publish import update_metrics, update_readme

        command = compare_command(names, settings)
        for row in rows:
            entries = compare.card_fid_entries(row["tune"], row.get("denoise"))
            update_metrics(row["name"], functools.partial(cards.with_fids, entries=entries,
                                                          command=command))
        update_readme()
    say(table)
    if claims:
        say(claims)
    if summary:
        say(summary)
    return {"settings": settings, "rows": rows, "table": table, "claims": claims,
            "summary": summary}


def compare_command(names, settings) -> str:
    """The ``nif-zoo compare`` command line that measures these settings."""
    grid = ",".join(f"{v:g}" for v in settings["s_values"])
    sigmas = ",".join(f"{v:g}" for v in settings.get("sigma_values", ()))
    return (f"nif-zoo compare {' '.join(names)} --num-samples {settings['num_samples']} "
            f"--sweep-samples {settings.get('sweep_samples', settings['num_samples'])} "
            f"--s-grid {grid} " + (f"--sigma-grid {sigmas} " if sigmas else "")
            + f"--temperature {settings['temperature']:g} "
            f"--train-ref {settings['train_reference_images']} "
            f"--test-ref {settings['test_reference_images']} --seed {settings['seed']}")


def write_plots(models: Dict, rows, out_dir: str, data: Dict, test_limit: int, seed: int):
    from nif_zoo.evaluate import plots

    plots.plot_fid_vs_s({r["name"]: r["tune"]["sweep"] for r in rows},
                        os.path.join(out_dir, "fid_vs_s.png"),
                        title=f"FID vs s ({data['dataset']})",
                        baselines=[r["name"] for r in rows if compare.is_baseline(r)])
    plots.temperature_grid(models, os.path.join(out_dir, "temperature_grid.png"), seed=seed)
    stepped = [r for r in rows if r.get("denoise")]
    if stepped:
        plots.plot_fid_vs_sigma({r["name"]: r["denoise"]["sweep"] for r in stepped},
                                os.path.join(out_dir, "fid_vs_sigma.png"),
                                title=f"FID vs the score step's sigma ({data['dataset']}, s = 0)")
        plots.denoise_grid({r["name"]: (models[r["name"]], r["denoise"]["best_sigma"])
                            for r in stepped}, os.path.join(out_dir, "denoise_grid.png"),
                           seed=seed)
    nifs = [r for r in rows if not compare.is_baseline(r)]
    if nifs:
        best = min(nifs, key=lambda r: r["tune"]["test_fid_best_s"])["name"]
        plots.s_grid(models[best], os.path.join(out_dir, "s_grid.png"), seed=seed, name=best)
    test = evaluation_data(data, "test", test_limit)
    # held-out images: their reconstructions and interpolations between them (NIFs: on the
    # learned manifold; an NF reconstructs exactly, so it is left out of these two)
    picks = np.random.default_rng(seed).choice(len(test), size=min(8, len(test)), replace=False)
    if nifs:
        chosen = {r["name"]: models[r["name"]] for r in nifs}
        plots.reconstruction_grid(chosen, test.images[picks],
                                  os.path.join(out_dir, "reconstructions.png"))
        pairs = test.images[picks[:6]].reshape((3, 2) + test.images.shape[1:])
        plots.interpolation_grid(chosen, pairs, os.path.join(out_dir, "interpolations.png"))
    embeddings = {name: (model.embed(test.images), test.labels)
                  for name, model in models.items()}
    brightness = (test.images.reshape(len(test), -1).mean(axis=1), "mean brightness")
    try:
        plots.embedding_umap(embeddings, os.path.join(out_dir, "umap.png"), seed=seed,
                             colour=None if test.labels is not None else brightness)
    except ImportError as err:
        print(f"skipped the UMAP plot: {err}")
