"""Cold start: a fresh process runs ``nif-zoo sample NAME --num 16`` to a PNG (import,
load and verify the bundled checkpoint, compile, sample, write). Peer in the same run: a
fresh process that only imports JAX and runs one op (the floor any JAX tool pays).

    python -m benchmarks.cold_start [NAME] [--repeats 5]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

JAX_FLOOR = "import jax, jax.numpy as jnp; jnp.zeros(1).block_until_ready()"


def wall(cmd, env=None) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env=env)
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", nargs="?", default="nif32-lfw24")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    with tempfile.TemporaryDirectory() as tmp:
        sample = [sys.executable, "-m", "nif_zoo.cli", "sample", args.name, "--num", "16",
                  "--out", os.path.join(tmp, "s.png")]
        floor = [sys.executable, "-c", JAX_FLOOR]
        wall(sample, env)  # first run: OS file cache
        samples = [wall(sample, env) for _ in range(args.repeats)]
        floors = [wall(floor, env) for _ in range(args.repeats)]
    s, f = statistics.median(samples), statistics.median(floors)
    print(f"nif-zoo sample {args.name} --num 16: median {s:.2f} s over {args.repeats} fresh "
          f"processes (min {min(samples):.2f}, max {max(samples):.2f})")
    print(f"import jax + one op: median {f:.2f} s; sample / floor = {s / f:.1f}x; "
          f"target <= 10 s: {'met' if s <= 10 else 'missed'}")


if __name__ == "__main__":
    main()
