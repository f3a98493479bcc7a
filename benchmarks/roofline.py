"""Roofline: the training step's achieved FLOP/s against this machine's measured peak.

    python -m benchmarks.roofline [--channels 1 3] [--repeats 5]

FLOPs per step come from XLA's cost analysis of the jitted NF training step (the lowered
program, before XLA's CPU-specific rewrites, so custom fusions cannot hide work). XLA counts
a loop body once, not once per trip, so the count is taken on the same model with its K
steps unrolled (``scan=False``: the same arithmetic) and the time on the default scanned
step; the count is printed next to the analytic one for the convolutions and 1x1 mixing. The peer
is the best FLOP/s this process reaches on a large dense matrix product (2048^2 x 2048,
float32) and on a large convolution (3x3, 128 -> 128 channels, 64 x 32 x 32), measured in
the same run. Configuration as in ``benchmarks.vs_normflows``: 32x32xC, L = 3, K = 8, width
128, batch 64. Issue 7's target: the step reaches >= 50% of the peak.
"""
from __future__ import annotations

import nif_zoo
import argparse

import jax
import numpy as np

from benchmarks.timing import median_seconds
from benchmarks.workloads import abstract_training_step, training_step


def flops_of(lowered) -> float:
    analysis = lowered.cost_analysis()
    if isinstance(analysis, (list, tuple)):  # older JAX: one dict per program
        analysis = analysis[0]
    return float(analysis["flops"])


def peak_flops(repeats: int):
    """(matmul FLOP/s, conv FLOP/s) measured here, jit-compiled, inputs as arguments."""
    n = 2048
    a = jax.random.normal(jax.random.key(0), (n, n))
    matmul = jax.jit(lambda x, y: x @ y)
    t_mm = median_seconds(lambda: matmul(a, a).block_until_ready(), repeats=repeats)
    x = jax.random.normal(jax.random.key(1), (64, 32, 32, 128))
    k = jax.random.normal(jax.random.key(2), (3, 3, 128, 128))
    conv = jax.jit(lambda x, k: jax.lax.conv_general_dilated(
        x, k, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")))
    t_conv = median_seconds(lambda: conv(x, k).block_until_ready(), repeats=repeats)
    return 2 * n ** 3 / t_mm, 2 * 64 * 32 * 32 * 9 * 128 * 128 / t_conv


def unrolled_step_flops(channels: int, batch_size: int) -> float:
    """XLA's FLOP count of the training step with the K steps unrolled (abstract shapes)."""
    _, _, lower = abstract_training_step("nf", image_shape=(32, 32, channels),
                                         batch_size=batch_size, levels=3, steps=8, width=128,
                                         scan=False)
    return flops_of(lower())


def conditioner_flops(channels: int, batch_size: int, levels: int = 3, steps: int = 8,
                      width: int = 128) -> float:
    """Analytic multiply-add FLOPs of the forward pass's convolutions and 1x1 mixing."""
    total, c, side = 0, channels, 32
    for level in range(levels):
        c, side = 4 * c, side // 2
        pixels = batch_size * side * side
        half = c // 2
        per_step = 2 * pixels * (9 * half * width + width * width + 9 * width * 2 * half + c * c)
        total += steps * per_step
        if level < levels - 1:
            c = c // 2
    return total


def train_step_flops(channels: int, batch_size: int, repeats: int):
    batch = np.random.default_rng(0).integers(0, 256, (batch_size, 32, 32, channels),
                                              dtype=np.uint8)
    _, run = training_step("nf", batch, levels=3, steps=8, width=128)
    flops = unrolled_step_flops(channels, batch_size)
    return flops, median_seconds(run, repeats=repeats, warmup=2)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, nargs="+", default=[1, 3])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    mm, conv = peak_flops(args.repeats)
    peak = max(mm, conv)
    print(f"peak measured here: matmul {mm / 1e9:.1f} GFLOP/s, conv {conv / 1e9:.1f} GFLOP/s")
    print("| C | GFLOP / step (XLA) | 3 x analytic forward convs | ms / step "
          "| achieved GFLOP/s | fraction of peak |")
    print("|---|---|---|---|---|---|")
    for channels in args.channels:
        flops, seconds = train_step_flops(channels, args.batch, args.repeats)
        analytic = 3 * conditioner_flops(channels, args.batch)
        print(f"| {channels} | {flops / 1e9:.2f} | {analytic / 1e9:.2f} | {seconds * 1e3:.0f} "
              f"| {flops / seconds / 1e9:.1f} | {flops / seconds / peak:.0%} |", flush=True)


if __name__ == "__main__":
    nif_zoo.use_all_cores()  # one CPU device per core (nif_zoo.devices), before JAX runs
    main()
