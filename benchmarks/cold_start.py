"""Cold start: a fresh process runs ``nif-zoo sample NAME --num 16`` to a PNG (import,
load and verify the bundled checkpoint, compile, sample, write). Peer in the same run: a
fresh process that only imports JAX and runs one op (the floor any JAX tool pays).

Three ways, each a fresh process per repeat, interleaved: JAX's persistent compilation
cache off (``NIF_ZOO_COMPILATION_CACHE=0``: compiles every time), on but empty (a new
``NIF_ZOO_CACHE`` folder each time: the first run on a machine, which also writes the
cache), and on and filled (the same folder again: every later run).

    python -m benchmarks.cold_start [NAME] [--repeats 5]
"""
from __future__ import annotations

import nif_zoo
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
    base = dict(os.environ, HF_HUB_OFFLINE="1")
    base.pop("JAX_COMPILATION_CACHE_DIR", None)
    times = {"cache off": [], "cache empty": [], "cache filled": [], "floor": []}
    with tempfile.TemporaryDirectory() as tmp:
        sample = [sys.executable, "-m", "nif_zoo.cli", "sample", args.name, "--num", "16",
                  "--out", os.path.join(tmp, "s.png")]
        floor = [sys.executable, "-c", JAX_FLOOR]
        filled = dict(base, NIF_ZOO_CACHE=os.path.join(tmp, "filled"))
        wall(sample, filled)  # first run: OS file cache, and fills the compilation cache
        for r in range(args.repeats):
            times["cache off"].append(wall(sample, dict(base, NIF_ZOO_COMPILATION_CACHE="0")))
            empty = dict(base, NIF_ZOO_CACHE=os.path.join(tmp, f"empty{r}"))
            times["cache empty"].append(wall(sample, empty))
            times["cache filled"].append(wall(sample, filled))
            times["floor"].append(wall(floor, base))
    floor_s = statistics.median(times["floor"])
    print(f"nif-zoo sample {args.name} --num 16 in a fresh process, median of {args.repeats}:")
    print("| compilation cache | median s | min | max | vs import jax + one op |")
    print("|---|---|---|---|---|")
    for label, ts in times.items():
        m = statistics.median(ts)
        print(f"| {label} | {m:.2f} | {min(ts):.2f} | {max(ts):.2f} | {m / floor_s:.1f}x |")
    worst = statistics.median(times["cache empty"])
    print(f"target <= 10 s: {'met' if worst <= 10 else 'missed'} (worst case, empty cache: "
          f"{worst:.2f} s)")


if __name__ == "__main__":
    nif_zoo.use_all_cores()  # one CPU device per core (nif_zoo.devices), before JAX runs
    main()
