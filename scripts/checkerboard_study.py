"""What causes the period-2 checkerboard in the 8-bit 32x32 MNIST models (issue 20, item 2).

Two parts, both measured with the Nyquist share of :mod:`nif_zoo.evaluate.spectrum` (200
samples per cell, seed 0) beside real digits in the same preprocessing:

* ``models``: the bundled models' samples over temperature t (and s for a NIF): where the
  pattern lives (the flow's inverse at the latent mode, t = 0, or the noise).
* ``ablation``: NF runs from the 8-bit set's setting (8 bits, no logit, 28x28 padded to 32x32,
  3 levels, clipping 50, ActNorm on the first batch; K = 4, width 64, batch 64, lr 1e-3 with
  cosine decay, seed 0: the same initial-weight seed and data order) with one factor changed
  at a time towards the authors' setting, and the full authors' setting as a control. Every
  run keeps its checkpoints at 1000-step intervals, so the share is also measured against
  training length. Resumable: rerun the same command after a kill.

    python scripts/checkerboard_study.py --part models
    python scripts/checkerboard_study.py --part ablation --steps 3000 --out runs/checkerboard
    python scripts/checkerboard_study.py --part all --md docs/results/checkerboard.md
    python scripts/checkerboard_study.py --part cards   # the share into every bundled card

``cards`` measures what ``nif-zoo publish`` measures for a new model (the Nyquist share of
1000 samples at t = 0.7, s = 0, seed 0, and of the card's held-out images) for the bundled
models published before it did, and writes it into their metrics and cards.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import time
from typing import Dict, List

import numpy as np

from nif_zoo.evaluate.spectrum import DEFINITION, checkerboard

SAMPLES = 200
BUNDLED = ("nf-mnist32", "nif64-mnist32", "deepnif64-mnist32", "nf-mnist28-3bit",
           "nif64-mnist28-3bit")
TEMPERATURES = (0.0, 0.35, 0.7, 1.0)

# the 8-bit set's training setting (nif_zoo/configs/nf-mnist32.yaml, shorter)
BASE = {
    "model": {"kind": "nf", "levels": 3, "steps": 4, "width": 64, "scan": True},
    "data": {"dataset": "mnist", "image_shape": [32, 32, 1], "n_bits": 8,
             "eval_split": "validation", "eval_limit": 1000},
    "train": {"batch_size": 64, "learning_rate": 1e-3, "warmup_steps": 200,
              "lr_schedule": "cosine", "clip_norm": 50.0, "seed": 0, "init_images": 0,
              "checkpoint_every": 1000, "eval_every": 1000, "keep_checkpoints": 10},
}

# one factor at a time towards the authors' setting (SPEC section 7), then all of them
VARIANTS: Dict[str, Dict[str, Dict]] = {
    "8-bit set (base)": {},
    "3 bits": {"data": {"n_bits": 3}},
    "logit 0.05": {"model": {"logit": 0.05}},
    "2 levels (32x32)": {"model": {"levels": 2}},
    "28x28, 2 levels": {"data": {"image_shape": [28, 28, 1]}, "model": {"levels": 2}},
    "clip 5, ActNorm on 1000": {"train": {"clip_norm": 5.0, "init_images": 1000}},
    "3 bits + logit": {"data": {"n_bits": 3}, "model": {"logit": 0.05}},
    "authors' setting": {"data": {"n_bits": 3, "image_shape": [28, 28, 1]},
                         "model": {"levels": 2, "logit": 0.05},
                         "train": {"clip_norm": 5.0, "init_images": 1000}},
}


def slug(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name).strip("_").lower()


def variant_config(name: str, steps: int) -> Dict:
    config = copy.deepcopy(BASE)
    for section, changes in VARIANTS[name].items():
        config[section].update(changes)
    config["train"]["steps"] = steps
    return config


def sample_share(model, temperature: float, s: float = 0.0) -> Dict[str, float]:
    images = np.asarray(model.sample(SAMPLES, temperature=temperature, s=s, seed=0))
    return checkerboard(images)


def real_share(dataset: str, split: str, image_shape, n_bits: int) -> float:
    from nif_zoo.data.sources import load_dataset

    data = load_dataset(dataset, split, image_shape=image_shape, n_bits=n_bits)
    return checkerboard(data.images[:SAMPLES])["nyquist_share"]


def models_part(out: str) -> List[str]:
    import nif_zoo

    rows = ["| model | data | " + " | ".join(f"t = {t}" for t in TEMPERATURES) +
            " | t = 0.7, s = 1 |", "|---" * (len(TEMPERATURES) + 3) + "|"]
    record = {}
    for name in BUNDLED:
        model = nif_zoo.load(name)
        shares = [sample_share(model, t)["nyquist_share"] for t in TEMPERATURES]
        noisy = sample_share(model, 0.7, 1.0)["nyquist_share"] if model.has_noise_model else None
        record[name] = {"t": list(TEMPERATURES), "s0": shares, "t0.7_s1": noisy}
        h, w, _ = model.image_shape
        rows.append(f"| {name} | {h}x{w}, {model.n_bits} bit | " +
                    " | ".join(f"{v:.3f}" for v in shares) +
                    f" | {'-' if noisy is None else f'{noisy:.3f}'} |")
        print(rows[-1], flush=True)
    for shape, bits in (([32, 32, 1], 8), ([28, 28, 1], 3)):
        value = real_share("mnist", "test", shape, bits)
        record[f"real {shape[0]}x{shape[1]} {bits} bit"] = value
        rows.append(f"| real test digits | {shape[0]}x{shape[1]}, {bits} bit | {value:.3f} "
                    f"(t does not apply) |" + " |" * (len(TEMPERATURES) + 1))
    with open(os.path.join(out, "models.json"), "w") as fh:
        json.dump(record, fh, indent=1)
    return rows


def cards_part() -> List[str]:
    import nif_zoo
    from nif_zoo.evaluate.likelihood import evaluation_data
    from nif_zoo.evaluate.prior_fit import checkerboard_statistics
    from nif_zoo.models import pretrained
    from nif_zoo.zoo.publish import update_metrics
    from nif_zoo.zoo import hub, registry

    rows = ["| model | samples at t = 0.7, s = 0 | held-out images |", "|---|---|---|"]
    for name in nif_zoo.list_models(pretrained_only=True):
        folder = hub.bundled_folder(name)
        metrics = pretrained.read_json(folder, pretrained.METRICS, {})
        data = registry.get_entry(name).config["data"]
        heldout = evaluation_data(data, metrics.get("split", "test"), metrics.get("images"))
        stats = checkerboard_statistics(nif_zoo.load(name), heldout.images, seed=0)
        if not stats:
            continue
        update_metrics(name, {"prior_fit": {**(metrics.get("prior_fit") or {}), **stats}})
        rows.append(f"| {name} | {stats['nyquist_share']:.3f} | "
                    f"{stats['nyquist_share_heldout']:.3f} |")
        print(rows[-1], flush=True)
    return rows


def figure_part(out: str, steps: int, path: str) -> List[str]:
    """8 samples (t = 0.7, s = 0, seed 1, the same latents) of every trained variant, one row
    each, at their own bit depth shown on the same gray scale."""
    from nif_zoo.evaluate.images import to_uint8
    from nif_zoo.evaluate.plots import _show_rows
    from nif_zoo.train import load_trained

    rows, labels = [], []
    for name in VARIANTS:
        run = os.path.join(out, slug(name))
        if not os.path.isdir(os.path.join(run, "checkpoints")):
            continue
        model = load_trained(run, step=steps)
        samples = np.asarray(model.sample(8, temperature=0.7, s=0.0, seed=1))
        rows.append(to_uint8(samples, model.n_bits))
        labels.append(name)
    _show_rows(rows, labels, [""] * 8, 8, path,
               f"NF samples at t = 0.7, s = 0 after {steps} steps (scripts/checkerboard_study.py)")
    return [f"![ablation samples]({os.path.basename(path)})"]


def ablation_part(out: str, steps: int) -> List[str]:
    from nif_zoo.evaluate.images import image_grid, save_png
    from nif_zoo.train import load_trained, train

    rows = ["| variant | real digits | " +
            " | ".join(f"t = 0.7 @ {k}" for k in range(1000, steps + 1, 1000)) +
            f" | t = 0 @ {steps} | t = 1 @ {steps} | validation bits/dim @ {steps} | "
            "train min |", "|---" * (steps // 1000 + 6) + "|"]
    record = {}
    for name in VARIANTS:
        config = variant_config(name, steps)
        run = os.path.join(out, slug(name))
        started = time.perf_counter()
        done = os.path.exists(os.path.join(run, "metrics.jsonl")) and any(
            json.loads(line).get("step") == steps and "eval_bpd" in line
            for line in open(os.path.join(run, "metrics.jsonl")))
        if not done:
            train(config, run, resume=os.path.isdir(os.path.join(run, "checkpoints")),
                  progress=False)
        minutes = (time.perf_counter() - started) / 60
        evals = [json.loads(line) for line in open(os.path.join(run, "metrics.jsonl"))]
        bpd = {r["step"]: r["eval_bpd"] for r in evals if "eval_bpd" in r}
        seconds = max(r.get("train_seconds", 0.0) for r in evals)
        by_step = {}
        for k in range(1000, steps + 1, 1000):
            model = load_trained(run, step=k)
            by_step[k] = sample_share(model, 0.7)["nyquist_share"]
        at_zero = sample_share(model, 0.0)["nyquist_share"]
        at_one = sample_share(model, 1.0)["nyquist_share"]
        grid = np.asarray(model.sample(64, temperature=0.7, s=0.0, seed=1))
        save_png(os.path.join(out, f"{slug(name)}_t07.png"),
                 image_grid(grid, n_bits=model.n_bits, cols=8, scale=2))
        real = real_share("mnist", "test", config["data"]["image_shape"],
                          config["data"]["n_bits"])
        record[name] = {"config": config, "t0.7_by_step": by_step, "t0": at_zero, "t1": at_one,
                        "real": real, "validation_bpd": bpd, "train_seconds": seconds}
        rows.append(f"| {name} | {real:.3f} | " + " | ".join(f"{v:.3f}" for v in by_step.values())
                    + f" | {at_zero:.3f} | {at_one:.3f} | {bpd.get(steps, float('nan')):.4f} | "
                    f"{seconds / 60:.0f} |")
        print(rows[-1], f"({minutes:.1f} min this call)", flush=True)
        with open(os.path.join(out, "ablation.json"), "w") as fh:
            json.dump(record, fh, indent=1, default=str)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=("models", "ablation", "all", "cards", "figure"),
                        default="all")
    parser.add_argument("--figure", default="docs/results/checkerboard/ablation.png",
                        help="--part figure: where the samples of the variants go")
    parser.add_argument("--steps", type=int, default=3000,
                        help="training steps of every ablation run (a multiple of 1000)")
    parser.add_argument("--out", default="runs/checkerboard")
    parser.add_argument("--md", default=None, help="also write the tables to this file")
    args = parser.parse_args(argv)
    if args.steps % 1000:
        parser.error("--steps must be a multiple of 1000 (the share is measured every 1000)")
    os.makedirs(args.out, exist_ok=True)
    lines = [f"{DEFINITION}; {SAMPLES} samples per cell at s = 0 unless said, seed 0.", ""]
    if args.part in ("models", "all"):
        lines += ["Bundled models, Nyquist share of samples vs temperature:", ""]
        lines += models_part(args.out) + [""]
    if args.part == "figure":
        lines += figure_part(args.out, args.steps, args.figure)
    if args.part == "cards":
        lines += ["Bundled models' cards:", ""] + cards_part() + [""]
    if args.part in ("ablation", "all"):
        lines += [f"NF ablation ({args.steps} steps each, K = 4, width 64, batch 64, lr 1e-3 "
                  "cosine, seed 0), one factor at a time from the 8-bit set's setting:", ""]
        lines += ablation_part(args.out, args.steps) + [""]
    text = "\n".join(lines)
    print(text)
    if args.md:
        with open(args.md, "w") as fh:
            fh.write(text + "\n")


if __name__ == "__main__":
    main()
