"""remat (jax.checkpoint around every Glow step): training memory vs time.

    python -m benchmarks.remat [--channels 3] [--batch 64] [--rounds 7]

The NF training step of 32x32xC images (L = 3, K = 8, width 128), with and without
``remat=True``: XLA's memory analysis of the compiled step (temporaries, peak per device,
:mod:`nif_zoo.train.cost`) and its time (alternating, median of ``--rounds``), on this
machine's devices (the batch split over them, as training runs it).
"""
from __future__ import annotations

import nif_zoo
import argparse

import numpy as np

from benchmarks.timing import alternating_medians
from benchmarks.workloads import training_step


def recipe(channels: int, batch: int, remat: bool):
    from nif_zoo.recipe import make_config

    return make_config({"model": {"kind": "nf", "levels": 3, "steps": 8, "width": 128,
                                  "remat": remat},
                        "data": {"image_shape": [32, 32, channels], "n_bits": 8},
                        "train": {"batch_size": batch}})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=3)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    import jax

    from nif_zoo.train.cost import GiB, training_step_cost

    costs = {r: training_step_cost(recipe(args.channels, args.batch, r), flops=False)
             for r in (False, True)}
    batch = np.random.default_rng(0).integers(0, 256, (args.batch, 32, 32, args.channels),
                                              dtype=np.uint8)
    runs = [training_step("nf", batch, levels=3, steps=8, width=128, remat=r)[1]
            for r in (False, True)]
    seconds = alternating_medians(runs, args.rounds)
    print(f"NF 32x32x{args.channels}, L=3 K=8 width 128, batch {args.batch}, "
          f"{len(jax.devices())} x {jax.devices()[0].device_kind}; median of {args.rounds}")
    print("| remat | temporaries GiB / device | peak GiB / device | ms / step | vs no remat |")
    print("|---|---|---|---|---|")
    for (r, cost), s in zip(costs.items(), seconds):
        print(f"| {r} | {cost.temp_bytes / GiB:.3f} | {cost.peak_bytes / GiB:.3f} | "
              f"{1000 * s:.0f} | {s / seconds[0]:.2f}x time, "
              f"{cost.peak_bytes / costs[False].peak_bytes:.2f}x memory |")


if __name__ == "__main__":
    nif_zoo.use_all_cores()  # one CPU device per core (nif_zoo.devices), before JAX runs
    main()
