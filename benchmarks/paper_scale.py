"""Paper-scale recipes, known without training: memory per device, FLOPs, parameters.

    python -m benchmarks.paper_scale [--names nf-cifar32-3bit ...] [--no-remat] [--devices 1]

For every paper-scale recipe of the registry (the ``*-3bit`` recipes of Fashion-MNIST 28x28,
CIFAR-10 32x32 and CelebA 64x64 in the authors' setting), ahead-of-time compiles
(``jit(...).lower(...).compile()``, abstract shapes, nothing initialised) one training step
at the recipe's batch size and one sampling call (``Model.sample``'s decode, batch 256), on
``--devices`` devices of this machine (default 1: the memory one device needs for the
whole batch), and prints XLA's memory analysis per device (arguments, outputs, donated,
temporaries, peak), the parameter count and FLOPs per image (cost analysis with every
scanned step counted, :mod:`nif_zoo.train.cost`), and with ``remat=True`` the training
step's peak again. On a CPU the buffer assignment is XLA:CPU's (an estimate of a GPU's:
fusion differs); run it on the accelerator for its own numbers.
"""
from __future__ import annotations

import argparse
import time

import jax

import nif_zoo
from nif_zoo.train.cost import GiB, sampling_cost, training_step_cost
from nif_zoo.zoo import registry

PAPER_DATA = ("-fmnist28-3bit", "-cifar32-3bit", "-celeba64-3bit")


def paper_scale_names():
    return [n for n in nif_zoo.list_models() if n.endswith(PAPER_DATA)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--names", nargs="+", default=None)
    parser.add_argument("--devices", type=int, default=1,
                        help="split the batch over this many local devices (default 1)")
    parser.add_argument("--no-remat", action="store_true", help="skip the remat=True column")
    parser.add_argument("--sample-batch", type=int, default=256)
    args = parser.parse_args(argv)
    devices = jax.local_devices()[:args.devices]
    names = args.names or paper_scale_names()
    print(f"{len(names)} recipes; {len(devices)} x {devices[0].device_kind} "
          f"({devices[0].platform}), jax {jax.__version__}; GiB per device")
    print("| recipe | params | batch | train args | train temps | train peak | "
          "peak with remat | train GFLOP/image | sample peak (256) | sample GFLOP/image | "
          "compile s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name in names:
        config = registry.get_entry(name).config
        start = time.perf_counter()
        train = training_step_cost(config, devices)
        sample = sampling_cost(config, devices, batch_size=args.sample_batch)
        remat = (None if args.no_remat else
                 training_step_cost(config, devices, flops=False, remat=True))
        seconds = time.perf_counter() - start
        remat_cell = "-" if remat is None else f"{remat.peak_bytes / GiB:.2f}"
        print(f"| {name} | {train.params:,} | {train.batch_size} | "
              f"{train.argument_bytes / GiB:.2f} | {train.temp_bytes / GiB:.2f} | "
              f"{train.peak_bytes / GiB:.2f} | {remat_cell} | "
              f"{train.flops_per_image / 1e9:.1f} | {sample.peak_bytes / GiB:.2f} | "
              f"{sample.flops_per_image / 1e9:.1f} | {seconds:.0f} |", flush=True)


if __name__ == "__main__":
    nif_zoo.use_all_cores()  # one CPU device per core (nif_zoo.devices), before JAX runs
    main()
