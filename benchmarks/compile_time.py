"""Compile time vs K: the Glow's K steps per level as one ``nn.scan`` vs an unrolled loop.

    python -m benchmarks.compile_time [--steps 2 4 8 16] [--width 64] [--batch 32]

For each K and both layouts, times tracing + XLA compilation (``lower(...).compile()``, on
abstract shapes: no weights are initialised) of the NF training step and of the sampling
program (``Model.decode``'s jitted function), on 32x32x1 images, L = 3. Scanned compile
time should stay flat in K; the loop's grows with it. Prints the ratio loop / scan.
"""
from __future__ import annotations

import nif_zoo
import argparse
import time

import jax
import jax.numpy as jnp

from benchmarks.workloads import abstract_training_step


def compile_seconds(scan: bool, steps: int, args):
    module, variables, lower = abstract_training_step(
        "nf", image_shape=(32, 32, 1), batch_size=args.batch, levels=3, steps=steps,
        width=args.width, scan=scan)
    start = time.perf_counter()
    lower().compile()
    train = time.perf_counter() - start

    def decode(variables, latent):
        return module.apply(variables, latent, 0.0, False, method="decode")

    latent = jax.ShapeDtypeStruct((args.batch, 32 * 32), jnp.float32)
    start = time.perf_counter()
    jax.jit(decode).lower(variables, latent).compile()
    return train, time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[2, 4, 8, 16])
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args(argv)
    print(f"NF Glow 32x32x1, L=3, width {args.width}, batch {args.batch}; compile seconds "
          f"(trace + XLA), {jax.devices()[0].platform}")
    print("| K | train step, scan | train step, loop | loop / scan "
          "| sampling, scan | sampling, loop | loop / scan |")
    print("|---|---|---|---|---|---|---|")
    compile_seconds(True, 1, args)  # warm up JAX's own caches (first-use costs)
    for steps in args.steps:
        train_scan, sample_scan = compile_seconds(True, steps, args)
        train_loop, sample_loop = compile_seconds(False, steps, args)
        print(f"| {steps} | {train_scan:.1f} | {train_loop:.1f} | {train_loop / train_scan:.1f}x "
              f"| {sample_scan:.1f} | {sample_loop:.1f} | {sample_loop / sample_scan:.1f}x |",
              flush=True)


if __name__ == "__main__":
    nif_zoo.use_all_cores()  # one CPU device per core (nif_zoo.devices), before JAX runs
    main()
