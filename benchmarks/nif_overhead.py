"""NIF prior overhead: the full training step (dequantise, loss, gradient, Adam update) of
NIF-64 and NIF-512 (dense A) against the NF step on the same Glow trunk, same batch.

    python -m benchmarks.nif_overhead [--repeats 20] [--width 64] [--levels 3] [--steps 4]

Images 32x32x1, batch 32 (the bundled MNIST configs' trunk by default). Prints ms per step
(median over repeats, compile excluded) and the slowdown vs NF (issue 7 target: <= 5%).
"""
from __future__ import annotations

import argparse

import jax
import numpy as np

import nif_zoo
from benchmarks.timing import median_seconds
from nif_zoo.train.config import DEFAULTS
from nif_zoo.train.loop import initial_state, make_optimizer, make_train_step

BATCH = 32


def step_seconds(kind, latent_dim, args, batch):
    options = {} if kind == "nf" else {"latent_dim": latent_dim}
    model = nif_zoo.create_model(kind, image_shape=(32, 32, 1), levels=args.levels,
                                 steps=args.steps, width=args.width, seed=0,
                                 init_images=batch, **options)
    optimizer = make_optimizer(DEFAULTS["train"])
    step = make_train_step(model.module, optimizer, 8, 0)
    holder = {"state": initial_state(model.variables, optimizer)}

    def run():
        holder["state"], metrics = step(holder["state"], batch)
        jax.block_until_ready(metrics["loss_bpd"])

    return median_seconds(run, repeats=args.repeats, warmup=2)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--levels", type=int, default=3)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--width", type=int, default=64)
    args = parser.parse_args(argv)
    batch = np.random.default_rng(0).integers(0, 256, (BATCH, 32, 32, 1), dtype=np.uint8)
    print(f"train step, 32x32x1, batch {BATCH}, Glow L={args.levels} K={args.steps} "
          f"width {args.width}; {jax.devices()[0].device_kind}")
    nf = step_seconds("nf", None, args, batch)
    print("| model | ms / step | vs NF |")
    print("|---|---|---|")
    print(f"| NF | {nf * 1e3:.1f} | 1.00 |", flush=True)
    for m in (64, 512):
        t = step_seconds("nif", m, args, batch)
        print(f"| NIF-{m} (dense) | {t * 1e3:.1f} | {t / nf:.2f} ({(t / nf - 1) * 100:+.0f}%) |",
              flush=True)


if __name__ == "__main__":
    main()
