"""Training on both CPU cores by default (nif_zoo.devices) vs one device vs one core.

    python -m benchmarks.host_devices [--steps 150] [--rounds 2]

``nif_zoo.train.train`` on 32x32x1 MNIST (Glow L = 3, K = 8, width 128, NF, batch 64), as a
user runs it, in three settings, each a fresh process, taking turns for ``--rounds``:

* ``default``: what ``import nif_zoo`` does (one XLA CPU device per usable core, the batch
  split over them);
* ``one device``: ``NIF_ZOO_HOST_DEVICES=1`` (one device; XLA's threads still use every
  core: the behaviour before this default);
* ``one core``: ``taskset -c 0`` (pinned to one core; nif-zoo then asks for one device).

Images/s is the median of the run's logged rates after its first quarter (compilation
excluded); ratios are against ``one core`` measured in the same run. Run it alone.
"""
from __future__ import annotations

import nif_zoo
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

RUN = """
import json, sys
import nif_zoo
nif_zoo.use_all_cores()  # NIF_ZOO_HOST_DEVICES chooses the count
from nif_zoo.train import train
import jax
cfg = json.loads(sys.argv[1])
result = train(cfg, sys.argv[2], progress=False)
rates = [h["images_per_s"] for h in result.history if "images_per_s" in h]
rates = rates[len(rates) // 4:]
print(json.dumps({"devices": len(jax.devices()), "rates": rates}))
"""

SETTINGS = {"default": ({}, []), "one device": ({"NIF_ZOO_HOST_DEVICES": "1"}, []),
            "one core": ({}, ["taskset", "-c", "0"])}


def config(steps: int):
    return {"model": {"kind": "nf", "levels": 3, "steps": 8, "width": 128},
            "data": {"dataset": "mnist", "image_shape": [32, 32, 1], "n_bits": 8,
                     "eval_split": None},
            "train": {"batch_size": 64, "steps": steps, "checkpoint_every": 0,
                      "log_every": 10, "seed": 0}}


def run(setting: str, steps: int) -> dict:
    env_changes, prefix = SETTINGS[setting]
    env = dict(os.environ, **env_changes)
    for key in ("JAX_NUM_CPU_DEVICES", "XLA_FLAGS"):
        env.pop(key, None)
    out = tempfile.mkdtemp(prefix="nif-zoo-bench-")
    try:
        done = subprocess.run(prefix + [sys.executable, "-c", RUN, json.dumps(config(steps)), out],
                              env=env, capture_output=True, text=True, check=True)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    if not shutil.which("taskset"):
        raise SystemExit("this benchmark needs taskset (util-linux) for the one-core peer")
    rates = {s: [] for s in SETTINGS}
    devices = {}
    for _ in range(args.rounds):
        for setting in SETTINGS:
            result = run(setting, args.steps)
            rates[setting] += result["rates"]
            devices[setting] = result["devices"]
    median = {s: statistics.median(r) for s, r in rates.items()}
    print(f"nif_zoo.train.train, NF 32x32x1 L=3 K=8 width 128, batch 64, {args.steps} steps x "
          f"{args.rounds} rounds; {os.cpu_count()} CPUs; median images/s after compilation")
    print("| setting | XLA devices | images/s | vs one core |")
    print("|---|---|---|---|")
    for setting in SETTINGS:
        print(f"| {setting} | {devices[setting]} | {median[setting]:.1f} | "
              f"{median[setting] / median['one core']:.2f}x |")


if __name__ == "__main__":
    nif_zoo.use_all_cores()  # one CPU device per core (nif_zoo.devices), before JAX runs
    main()
