"""The moving average of the weights against the raw weights of the same training run
(issue 20, item 3): held-out bits/dim over training (both are in the run's log at every
evaluation) and samples of the final checkpoint under both (Nyquist share at t = 0.7,
empty share at t = 1, s = 0, and a side-by-side grid to look at).

    python scripts/ema_report.py training_runs/nf-mnist28-3bit --out docs/results/ema
"""
from __future__ import annotations

import argparse
import json
import os

import numpy as np

from nif_zoo.evaluate.images import image_grid, save_png
from nif_zoo.evaluate.prior_fit import empty_mask
from nif_zoo.evaluate.spectrum import nyquist_share
from nif_zoo.train import load_trained

SAMPLES = 1000


def curve(run: str):
    rows = []
    with open(os.path.join(run, "metrics.jsonl")) as fh:
        for line in fh:
            record = json.loads(line)
            if "eval_bpd_raw" in record:
                rows.append((record["step"], record["eval_bpd"], record["eval_bpd_raw"]))
    if not rows:
        raise SystemExit(f"{run}: no evaluation of both weights in its log (train.ema_decay = 0?)")
    return rows


def sample_stats(model, seed: int):
    cool = model.sample(SAMPLES, temperature=0.7, s=0.0, seed=seed)
    warm = model.sample(SAMPLES, temperature=1.0, s=0.0, seed=seed)
    return {"nyquist_t07": float(nyquist_share(cool).mean()),
            "empty_t1": float(np.mean(empty_mask(warm, model.n_bits))),
            "grid": np.asarray(warm[:32])}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", help="training run folders (train.ema_decay > 0)")
    parser.add_argument("--out", default="docs/results/ema")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    lines = []
    for run in args.runs:
        name = os.path.basename(os.path.normpath(run))
        rows = curve(run)
        lines += [f"### {name}", "", "validation bits/dim during training (same images and "
                  "dequantisation noise for both):", "",
                  "| step | moving average | raw | raw - average |", "|---|---|---|---|"]
        lines += [f"| {s} | {e:.4f} | {r:.4f} | {r - e:+.4f} |" for s, e, r in rows]
        stats = {w: sample_stats(load_trained(run, weights=w), args.seed) for w in ("ema", "raw")}
        model = load_trained(run)
        grid = image_grid(np.concatenate([stats["ema"]["grid"], stats["raw"]["grid"]]),
                          n_bits=model.n_bits, cols=16, scale=2)
        path = os.path.join(args.out, f"{name}_ema_vs_raw.png")
        save_png(path, grid)
        lines += ["", f"samples of step {rows[-1][0]} ({SAMPLES} per cell, seed {args.seed}, s = 0):",
                  "", "| weights | Nyquist share at t = 0.7 | empty at t = 1 |", "|---|---|---|"]
        for w, label in (("ema", "moving average"), ("raw", "raw")):
            lines.append(f"| {label} | {stats[w]['nyquist_t07']:.3f} | "
                         f"{100 * stats[w]['empty_t1']:.1f}% |")
        lines += ["", f"`{path}`: t = 1, s = 0, the same latents; top two rows the moving "
                  "average, bottom two the raw weights.", ""]
        print("\n".join(lines[-12:]), flush=True)
    with open(os.path.join(args.out, "ema.md"), "w") as fh:
        fh.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
