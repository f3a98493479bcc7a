"""Periodic closed-form refits during training vs one refit at the end (issue 13).

Trains the same NIF twice from the same config, seed, initial weights and batches: once with
``train.refit_every`` (the Gaussian layer refit by factor-analysis EM on the whole training
split every N steps) and once without; then refits both at the end (as ``nif-zoo publish``
does) and prints held-out bits/dim and the prior-fit diagnostics of each, before and after
the final refit. The runs are resumable (rerun the same command after a kill).

    python scripts/refit_schedule.py                       # nif64-mnist32, 1000 steps, every 250
    python scripts/refit_schedule.py --steps 2000 --refit-every 500 --out runs/refit_schedule
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import time

from nif_zoo.evaluate.prior_fit import describe, prior_fit
from nif_zoo.train import load_config, train
from nif_zoo.train.loop import load_datasets
from nif_zoo.train.config import make_config
from nif_zoo.train.refit import refit_prior


def measure(model, eval_images, seed: int):
    stats = prior_fit(model, eval_images)
    return {"test_bpd": float(model.bits_per_dim(eval_images, key=seed)), **stats}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="nif_zoo/configs/nif64-mnist32.yaml")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--refit-every", type=int, default=250)
    parser.add_argument("--iterations", type=int, default=100,
                        help="EM steps of every refit, periodic and final (100)")
    parser.add_argument("--out", default="runs/refit_schedule")
    args = parser.parse_args()
    base = load_config(args.config)
    base.pop("zoo", None)
    base["train"].update(steps=args.steps, refit_iterations=args.iterations,
                         checkpoint_every=args.refit_every, eval_every=args.steps)
    rows = {}
    for name, every in (("periodic", args.refit_every), ("end only", 0)):
        config = copy.deepcopy(base)
        config["train"]["refit_every"] = every
        out = os.path.join(args.out, name.replace(" ", "_"))
        start = time.perf_counter()
        resume = os.path.isdir(os.path.join(out, "checkpoints"))
        result = train(config, out, resume=resume, progress=False)
        seconds = time.perf_counter() - start
        train_data, eval_data = load_datasets(make_config(config))
        before = measure(result.model, eval_data.images, config["train"]["seed"])
        refit = refit_prior(result.model, train_data.images, iterations=args.iterations,
                            seed=config["train"]["seed"])
        after = measure(refit.model, eval_data.images, config["train"]["seed"])
        rows[name] = {"refit_every": every, "train_seconds": seconds,
                      "before_final_refit": before, "after_final_refit": after}
        print(f"{name}: {before['test_bpd']:.4f} -> {after['test_bpd']:.4f} bits/dim; "
              f"after: {describe(after)}", flush=True)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(rows, f, indent=1)
    print(f"\n{args.config}, {args.steps} steps; test bits/dim ({len(eval_data)} images)\n")
    print("| schedule | train s | bpd before final refit | after | empty after | |mean z+|/sqrt(M) |")
    print("|---|---|---|---|---|---|")
    for name, r in rows.items():
        b, a = r["before_final_refit"], r["after_final_refit"]
        label = f"every {r['refit_every']} steps" if r["refit_every"] else "end only"
        print(f"| {label} | {r['train_seconds']:.0f} | {b['test_bpd']:.4f} | {a['test_bpd']:.4f} "
              f"| {100 * a['empty_fraction']:.1f}% | {a['mean_norm_over_sqrt_m']:.3f} |")


if __name__ == "__main__":
    main()
