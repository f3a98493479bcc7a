"""Pilot for the size of the flagship Glow (issue 20) or Jet (issue 30, ``--trunk jet``):
held-out bits/dim per CPU-hour.

Trains the NF of the 3-bit MNIST 28x28 setting (logit 0.05, 2 levels, clipping 5, ActNorm on
1000 images, Adam lr 1e-3 after 200 warmup steps, constant, batch 64, seed 0) once per Glow
size (K steps per level, conditioner width) for about the same wall-clock budget,
evaluating bits/dim on 1000 *validation* images (uniform dequantisation, seed 0) every
``--eval-every`` steps. The curve per step does not depend on the machine's load; the cost
of a step does, so it is timed separately, quietly, after the runs (the jitted training
step on the run's devices, median of 15, after compilation), and the table gives validation
bits/dim at equal *quiet* training time (step = time x quiet steps/s, the last evaluation
at or before it). Rerunning reuses finished runs and only re-times the steps.

    python scripts/pilot_glow_size.py --minutes 6 --sizes 4x64 8x64 16x64 4x128 8x128 --out runs/pilot

With ``--trunk jet`` a size K x width is a Jet of K coupling pairs whose ViT conditioners
have that width (patch 4, 4 heads, 1 block: the Jet defaults), in place of the Glow:

    python scripts/pilot_glow_size.py --trunk jet --minutes 6 --sizes 4x32 8x32 4x64 --out runs/pilot_jet
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # benchmarks


DATA = {  # the pilots' data settings and batch sizes
    "mnist28": ({"dataset": "mnist", "image_shape": [28, 28, 1], "n_bits": 3,
                 "eval_split": "validation", "eval_limit": 1000}, 64),
    "celeba64": ({"dataset": "celeba", "image_shape": [64, 64, 3], "n_bits": 3,
                  "split_scheme": "random_80_10_10", "eval_split": "validation",
                  "eval_limit": 900}, 32),
    "cifar32": ({"dataset": "cifar10", "image_shape": [32, 32, 3], "n_bits": 3,
                 "eval_split": "validation", "eval_limit": 1000}, 64),
}


def parse_size(size: str, trunk: str = "glow"):
    """"K x width" (2 levels, or a Jet) or "L x K x width" (a Glow of L levels)."""
    parts = [int(v) for v in size.split("x")]
    if len(parts) == 2:
        return (None if trunk == "jet" else 2), parts[0], parts[1]
    if len(parts) == 3 and trunk == "glow":
        return tuple(parts)
    raise ValueError(f"size {size!r}: K x width, or L x K x width for a Glow")


def config_for(size: str, eval_every: int, trunk: str = "glow", data: str = "mnist28"):
    levels, steps_per_level, width = parse_size(size, trunk)
    model = ({"trunk": "jet"} if trunk == "jet" else {"levels": levels})
    data_config, batch = DATA[data]
    return {
        "model": {"kind": "nf", **model, "steps": steps_per_level, "width": width,
                  "logit": 0.05},
        "data": data_config,
        "train": {"batch_size": batch, "steps": 10 ** 6, "learning_rate": 1e-3,
                  "warmup_steps": 200, "lr_schedule": "constant", "clip_norm": 5.0, "seed": 0,
                  "init_images": 1000, "checkpoint_every": 0, "eval_every": eval_every,
                  "keep_checkpoints": 1},
    }


def read_log(path: str):
    """(eval records [(step, bpd)], {step: train_seconds}) of a metrics.jsonl."""
    evals, seconds = [], {}
    with open(path) as fh:
        for line in fh:
            record = json.loads(line)
            if "eval_bpd" in record:
                evals.append((record["step"], record["eval_bpd"]))
            if "train_seconds" in record:
                seconds[record["step"]] = record["train_seconds"]
    return evals, seconds


def quiet_images_per_s(size: str, trunk: str = "glow", data: str = "mnist28",
                       repeats: int = 15) -> float:
    """Images/s of the pilot's training step (its batch and data, its devices), compiled."""
    import jax
    import numpy as np

    from benchmarks.timing import median_seconds
    from nif_zoo.recipe import make_config
    from nif_zoo.train import sharding
    from nif_zoo.train.loop import initial_state, load_datasets, initial_model, make_optimizer
    from nif_zoo.train.loop import make_train_step

    config = make_config(config_for(size, 200, trunk, data))
    batch_size = config["train"]["batch_size"]
    train_data, _ = load_datasets(config)
    model = initial_model(config, train_data)
    optimizer = make_optimizer(config["train"])
    mesh = sharding.data_mesh(None, batch_size)
    step = make_train_step(model.module, optimizer, 3, 0)
    holder = {"state": sharding.replicate(initial_state(model.variables, optimizer), mesh)}
    batch = sharding.shard_batch(np.asarray(train_data.batch_at(0, batch_size, 0)), mesh)

    def run():
        holder["state"], metrics = step(holder["state"], batch)
        jax.block_until_ready(metrics["loss_bpd"])

    return batch_size / median_seconds(run, repeats=repeats, warmup=2)


def bpd_at_quiet_minute(evals, images_per_s: float, minute: float, batch: int = 64):
    """The last validation bits/dim at or before ``minute`` of quiet training time."""
    best = None
    for step, bpd in evals:
        if step * batch / images_per_s <= 60 * minute:
            best = bpd
    return best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=6.0)
    parser.add_argument("--sizes", nargs="+", default=["4x64", "8x64", "16x64", "4x128", "8x128"])
    parser.add_argument("--eval-every", type=int, default=200)
    parser.add_argument("--out", default="runs/pilot")
    parser.add_argument("--trunk", choices=("glow", "jet"), default="glow")
    parser.add_argument("--data", choices=tuple(DATA), default="mnist28",
                        help="the pilot's data and batch size (sizes L x K x width set levels)")
    args = parser.parse_args(argv)
    batch = DATA[args.data][1]
    rows = []
    for size in args.sizes:
        parse_size(size, args.trunk)
        run = os.path.join(args.out, size)
        log = os.path.join(run, "metrics.jsonl")
        if not os.path.exists(log):
            os.makedirs(run, exist_ok=True)
            with open(os.path.join(run, "pilot.json"), "w") as fh:
                json.dump(config_for(size, args.eval_every, args.trunk, args.data), fh)
            code = ("import json, sys; import nif_zoo; nif_zoo.use_all_cores(); "
                    "from nif_zoo.train import train; "
                    "train(json.load(open(sys.argv[1])), sys.argv[2], progress=False)")
            try:
                subprocess.run([sys.executable, "-c", code, os.path.join(run, "pilot.json"),
                                run], timeout=60 * args.minutes + 60)  # + compile and init
            except subprocess.TimeoutExpired:
                pass
        evals, seconds = read_log(log)
        with open(log) as fh:
            speeds = [json.loads(line)["images_per_s"] for line in fh if "images_per_s" in line]
        speeds = sorted(speeds[len(speeds) // 4:])  # past compile
        rows.append((size, speeds[len(speeds) // 2] if speeds else float("nan"), evals, seconds))
    quiet = {}
    for size, *_ in rows:
        quiet[size] = quiet_images_per_s(size, args.trunk, args.data)
        print(f"{size}: {quiet[size]:.1f} images/s (quiet, timed step)", flush=True)
    covered = min(max(s for s, _ in evals) * batch / quiet[size] / 60
                  for size, _, evals, _ in rows if evals)
    marks = [covered * f for f in (0.25, 0.5, 0.75, 1.0)]
    count = DATA[args.data][0]["eval_limit"]
    print(f"validation bits/dim ({count} images) at equal quiet training time (minutes); "
          f"time of step k = k x {batch} / quiet images/s")
    print("| K x width | quiet images/s | logged images/s (shared) | "
          + " | ".join(f"@ {m:.1f} min" for m in marks) + " | last step: bpd |")
    print("|---" * (4 + len(marks)) + "|")
    for size, speed, evals, seconds in rows:
        cells = [bpd_at_quiet_minute(evals, quiet[size], m, batch) for m in marks]
        last = f"{evals[-1][0]}: {evals[-1][1]:.4f}" if evals else "-"
        print(f"| {size} | {quiet[size]:.1f} | {speed:.1f} | "
              + " | ".join("-" if c is None else f"{c:.4f}" for c in cells) + f" | {last} |")


if __name__ == "__main__":
    import nif_zoo

    nif_zoo.use_all_cores()  # one device per core, as the CLI trains
    main()
