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

The 3x3 convolution's matrix-product form (``--conv-forms``, a probe: the rule of
:func:`nif_zoo.flows.conv.conv_same` swapped while the variant is traced, training and
sampling):

* ``im2col everywhere``: one (k^2 C_in, C_out) product for every 3x3 convolution (the
  default takes it where C_in <= C_out: the conditioners' first convolution);
* ``shifted products everywhere``: one (C_in, k^2 C_out) product and k^2 shifted sums (the
  default's form where C_in > C_out: the conditioners' last, zero-initialised convolution);
* ``nine accumulated products``: y = sum_{a, b} x_pad[i + a, j + b] K[a, b], k^2 products of
  (C_in, C_out) without a k^2-times-larger intermediate.
"""
from __future__ import annotations

import argparse
import contextlib

import numpy as np

from benchmarks.timing import alternating_medians

LEVELS, STEPS, WIDTH = 3, 8, 128


def training_variants(batch):
    from benchmarks.workloads import training_step

    variants = {"default": {}, "scan=False (unrolled)": {"scan": False},
                "remat=True": {"remat": True}, "conv=lax": {"conv": "lax"}}
    return {name: training_step("nf", batch, levels=LEVELS, steps=STEPS, width=WIDTH,
                                **options)[1] for name, options in variants.items()}


def sampling_call(model, batch):
    """One blocking sampling call of the whole batch (t = 1, s = 0, a fresh seed each)."""
    counter = iter(range(10 ** 9))
    return lambda: model.sample(len(batch), temperature=1.0, s=0.0, seed=next(counter),
                                batch_size=len(batch))


def sampling_variants(batch):
    import nif_zoo

    model = nif_zoo.create_model("nf", image_shape=batch.shape[1:], levels=LEVELS, steps=STEPS,
                                 width=WIDTH, seed=0, init_images=batch[:16])
    uncached = model.with_variables(model.variables)
    uncached.__dict__["_decode_variables"] = uncached._compute_variables  # solve every call
    lax = model.with_options(conv="lax")
    return {"default (inverse cache)": sampling_call(model, batch),
            "no inverse cache": sampling_call(uncached, batch),
            "conv=lax": sampling_call(lax, batch)}


def nine_accumulated_products(x, kernel):
    """y = sum_{a, b} x_pad[i + a, j + b] K[a, b]: k^2 (C_in, C_out) products, accumulated."""
    import jax.numpy as jnp

    from nif_zoo.flows.conv import pad_spatial

    k = kernel.shape[0]
    if k == 1:
        return jnp.einsum("...c,cd->...d", x, kernel[0, 0])
    h, w = x.shape[-3:-1]
    xp = pad_spatial(x, k // 2)
    return sum(jnp.einsum("...c,cd->...d", xp[..., a:a + h, b:b + w, :], kernel[a, b])
               for a in range(k) for b in range(k))


def conv_form_rules():
    """name -> the conv_same stand-in of each probed form (None: the library's rule)."""
    from nif_zoo.flows import conv

    library_rule = conv.conv_same  # bound now: the stand-ins replace the module's name

    def always(form):
        return lambda x, kernel: (library_rule(x, kernel) if kernel.shape[0] == 1
                                  else form(x, kernel))

    return {"default rule": None, "im2col everywhere": always(conv.conv_by_patches),
            "shifted products everywhere": always(conv.conv_by_shifted_products),
            "nine accumulated products": nine_accumulated_products}


@contextlib.contextmanager
def conv_rule(rule):
    """While tracing: nif_zoo.flows.conv.conv_same replaced by ``rule`` (None: unchanged)."""
    from nif_zoo.flows import conv

    original = conv.conv_same
    if rule is not None:
        conv.conv_same = rule
    try:
        yield
    finally:
        conv.conv_same = original


def traced_under(rule, fn):
    """fn, whose first call (the trace) runs under ``rule``; compiled calls don't look."""
    def run():
        with conv_rule(rule):
            return fn()
    return run


def conv_form_variants(batch, what):
    import nif_zoo
    from benchmarks.workloads import training_step

    variants = {}
    for name, rule in conv_form_rules().items():
        if what == "train":
            fn = training_step("nf", batch, levels=LEVELS, steps=STEPS, width=WIDTH)[1]
        else:
            fn = sampling_call(nif_zoo.create_model(
                "nf", image_shape=batch.shape[1:], levels=LEVELS, steps=STEPS, width=WIDTH,
                seed=0, init_images=batch[:16]), batch)
        variants[name] = traced_under(rule, fn)
    return variants


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
    parser.add_argument("--conv-forms", action="store_true",
                        help="compare the 3x3 convolution's matrix-product forms instead")
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
        if args.conv_forms:
            for what in ("train", "sample"):
                if args.only in (None, what):
                    report(what, channels, conv_form_variants(batch, what), args.rounds,
                           args.batch)
            continue
        if args.only != "sample":
            report("train", channels, training_variants(batch), args.rounds, args.batch)
        if args.only != "train":
            report("sample", channels, sampling_variants(batch), args.rounds, args.batch)


if __name__ == "__main__":
    import nif_zoo

    nif_zoo.use_all_cores()  # one CPU device per core, as the CLI runs
    main()
