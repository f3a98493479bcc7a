"""Each speed lever of issue 31, measured against the default in the same run.

    python -m benchmarks.levers [--channels 1 3] [--rounds 5] [--only train|sample]

The workload of ``benchmarks.vs_normflows`` (32x32xC, Glow L = 3, K = 8, width 128, batch 64,
one CPU device per core as the CLI runs). Every variant is built in this one process and the
variants of a table are timed alternately, one call each per round (median of ``--rounds``),
so drift of the machine hits all of them alike; the ratio is the default's time over the
variant's (> 1: the lever is faster). Levers whose setting must be fixed before JAX starts
(the device count, XLA flags) are compared by ``benchmarks.host_devices`` and
``benchmarks.vs_normflows`` run in fresh processes instead; BENCHMARKS.md has every result.

Training (``benchmarks.workloads.training_step``, state donated):

* ``scan=False``: the K steps of a level unrolled (no stacked residuals, no zero-fill);
* ``remat=True``: every step recomputed in the backward pass (fewer stored residuals);
* ``conv=lax``: XLA's convolution op instead of the matrix-product forms.

Sampling (the public ``Model.sample``, t = 1, s = 0, the batch in one call):

* ``no inverse cache``: every call solves for each 1x1 convolution's W^-1 (the behaviour
  before the cache, :mod:`nif_zoo.flows.conv1x1`);
* ``conv=lax``: the forward-only path through ``lax.conv_general_dilated``.
"""
from __future__ import annotations

import argparse

import numpy as np

from benchmarks.timing import alternating_medians

LEVELS, STEPS, WIDTH = 3, 8, 128


def training_variants(batch):
    from benchmarks.workloads import training_step

    variants = {"default": {}, "scan=False (unrolled)": {"scan": False},
                "remat=True": {"remat": True}, "conv=lax": {"conv": "lax"}}
    return {name: training_step("nf", batch, levels=LEVELS, steps=STEPS, width=WIDTH,
                                **options)[1] for name, options in variants.items()}


def sampling_variants(batch):
    import nif_zoo

    model = nif_zoo.create_model("nf", image_shape=batch.shape[1:], levels=LEVELS, steps=STEPS,
                                 width=WIDTH, seed=0, init_images=batch[:16])
    uncached = model.with_variables(model.variables)
    uncached.__dict__["_decode_variables"] = uncached._compute_variables  # solve every call
    lax = model.with_options(conv="lax")
    counter = iter(range(10 ** 9))

    def sampler(m):
        return lambda: m.sample(len(batch), temperature=1.0, s=0.0, seed=next(counter),
                                batch_size=len(batch))

    return {"default (inverse cache)": sampler(model), "no inverse cache": sampler(uncached),
            "conv=lax": sampler(lax)}


def report(title, channels, variants, rounds, batch_size):
    names = list(variants)
    times = alternating_medians([variants[n] for n in names], rounds)
    base = times[0]
    for name, seconds in zip(names, times):
        print(f"| {title} | {channels} | {name} | {batch_size / seconds:.1f} | "
              f"{base / seconds:.2f}x |", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, nargs="+", default=[1, 3])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--only", choices=("train", "sample"))
    args = parser.parse_args(argv)
    import jax

    print(f"Glow 32x32xC, L={LEVELS} K={STEPS} width {WIDTH}, batch {args.batch}; "
          f"{len(jax.devices())} CPU device(s), jax {jax.__version__}; median of {args.rounds} "
          "alternating rounds")
    print("| what | C | variant | img/s | vs default |")
    print("|---|---|---|---|---|")
    for channels in args.channels:
        batch = np.random.default_rng(channels).integers(
            0, 256, (args.batch, 32, 32, channels), dtype=np.uint8)
        if args.only != "sample":
            report("train", channels, training_variants(batch), args.rounds, args.batch)
        if args.only != "train":
            report("sample", channels, sampling_variants(batch), args.rounds, args.batch)


if __name__ == "__main__":
    import nif_zoo

    nif_zoo.use_all_cores()  # one CPU device per core, as the CLI runs
    main()
