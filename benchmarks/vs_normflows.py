"""Glow in nif-zoo (JAX) vs normflows' Glow (PyTorch), same architecture, same machine.

    pip install -e ".[bench]"
    python -m benchmarks.vs_normflows [--channels 1 3] [--rounds 7] [--batch 64]

The architecture is the issue's: 32x32xC images, L = 3 levels, K = 8 steps per level,
conditioner width 128 (conv3x3 -> ReLU -> conv1x1 -> ReLU -> zero-init conv3x3), affine
coupling with a sigmoid scale, LU 1x1 convolutions, ActNorm, a N(0, I) latent. normflows
is built as in its Glow example (``GlowBlock`` x K + ``Squeeze`` per level, ``Merge``
between levels, non-trainable ``DiagGaussian`` bases); both models report the same number
of parameters, which the script checks.

Training step, both: dequantise a uint8 batch (uniform noise, / 256), mean NLL, backward,
clip the global gradient norm, Adam. Sampling, both: each library's public call for
``batch`` images at t = 1 (nif-zoo: ``Model.sample`` -> uint8 array on the host; normflows:
``MultiscaleFlow.sample`` under ``no_grad``, which also returns log q). Compile (JAX) and
the first call (both) are excluded. The two libraries are timed alternately, one call each
per round, and each figure is the median over rounds, so drift of the machine hits both.
"""
from __future__ import annotations

import nif_zoo
import argparse
import os

import numpy as np

from benchmarks.timing import alternating_medians

LEVELS, STEPS, WIDTH = 3, 8, 128


def jax_glow(channels, batch, args):
    from benchmarks.workloads import training_step

    model, train = training_step("nf", batch, levels=args.levels, steps=args.steps,
                                 width=args.width)
    counter = iter(range(10 ** 9))

    def sample():
        model.sample(len(batch), temperature=1.0, seed=next(counter), batch_size=len(batch))

    return model.num_params, train, sample


def normflows_glow(channels, batch, args):
    import normflows as nf
    import torch

    torch.manual_seed(0)
    levels, steps = args.levels, args.steps
    bases, merges, flows = [], [], []
    for i in range(levels):
        level = [nf.flows.GlowBlock(channels * 2 ** (levels + 1 - i), args.width,
                                    split_mode="channel", scale=True) for _ in range(steps)]
        flows.append(level + [nf.flows.Squeeze()])
        if i > 0:
            merges.append(nf.flows.Merge())
            size = 32 // 2 ** (levels - i)
            shape = (channels * 2 ** (levels - i), size, size)
        else:
            size = 32 // 2 ** levels
            shape = (channels * 2 ** (levels + 1), size, size)
        bases.append(nf.distributions.DiagGaussian(shape, trainable=False))
    model = nf.MultiscaleFlow(bases, flows, merges, class_cond=False)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.from_numpy(np.ascontiguousarray(batch.transpose(0, 3, 1, 2)).astype(np.float32))

    def train():
        y = (x + torch.rand_like(x)) / 256.0
        loss = model.forward_kld(y)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 50.0)
        optimizer.step()

    def sample():
        with torch.no_grad():
            model.sample(len(batch))

    train()  # the first batch initialises ActNorm (data-dependent), as in nif-zoo's init
    num_params = sum(p.numel() for p in model.parameters())
    return num_params, train, sample


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, nargs="+", default=[1, 3])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--levels", type=int, default=LEVELS)
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument("--width", type=int, default=WIDTH)
    args = parser.parse_args(argv)
    try:
        import normflows  # noqa: F401
        import torch
    except ImportError as err:
        raise SystemExit(f"this benchmark needs the bench extra: pip install -e \".[bench]\" ({err})")
    import jax

    print(f"Glow 32x32xC, L={args.levels} K={args.steps} width {args.width}, batch {args.batch}; "
          f"{os.cpu_count()} CPUs; jax {jax.__version__} ({jax.devices()[0].platform}), "
          f"torch {torch.__version__} ({torch.get_num_threads()} threads), "
          f"normflows {normflows.__version__}; median of {args.rounds} alternating rounds")
    print("| C | params | nif-zoo train img/s | normflows train img/s | ratio "
          "| nif-zoo sample img/s | normflows sample img/s | ratio |")
    print("|---|---|---|---|---|---|---|---|")
    for channels in args.channels:
        batch = np.random.default_rng(channels).integers(0, 256, (args.batch, 32, 32, channels),
                                                         dtype=np.uint8)
        jax_params, jax_train, jax_sample = jax_glow(channels, batch, args)
        torch_params, torch_train, torch_sample = normflows_glow(channels, batch, args)
        if jax_params != torch_params:
            raise SystemExit(f"architectures differ: {jax_params} vs {torch_params} parameters")
        train_j, train_t = alternating_medians([jax_train, torch_train], args.rounds)
        sample_j, sample_t = alternating_medians([jax_sample, torch_sample], args.rounds)
        n = args.batch
        print(f"| {channels} | {jax_params:,} | {n / train_j:.1f} | {n / train_t:.1f} | "
              f"{train_t / train_j:.2f}x | {n / sample_j:.1f} | {n / sample_t:.1f} | "
              f"{sample_t / sample_j:.2f}x |", flush=True)


if __name__ == "__main__":
    nif_zoo.use_all_cores()  # one CPU device per core (nif_zoo.devices), before JAX runs
    main()
