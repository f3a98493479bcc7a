"""Per-operation profile of the Glow's training step and sampling call on XLA:CPU.

    python -m benchmarks.profile [--channels 3] [--calls 5] [--top 15] [--conv matmul]

The workload is ``benchmarks.vs_normflows``'s: 32x32xC images, L = 3, K = 8, width 128,
batch 64; the training step of ``benchmarks.workloads.training_step`` and the public
``Model.sample`` (t = 1, s = 0, the whole batch in one call). Each is compiled and run twice,
then ``--calls`` calls are traced with ``jax.profiler``; XLA:CPU's runtime reports every
executed operation (thunk) with its HLO name, so the trace gives each operation's time on
every thread. Self time (a loop's time minus the operations inside it), summed over threads
and calls, is attributed to

* a **category**: matrix product (a dot, or a fusion around one), triangular solve, the
  cross-device gradient sum (all-reduce: its time includes waiting for the other device),
  transpose / copy (layout changes), dynamic-update-slice (writing a scan's stacked
  residuals), dynamic-slice (reading them), buffer fill (a broadcast of a constant, e.g. the
  zeros a scan's stacks start from), reduction, elementwise fusion, loop control, other;
* a **place** in the model: the Flax module path in the operation's metadata (level, step
  layer, conditioner convolution) and the direction (forward, the backward pass:
  ``transpose(jvp(...))``, or generative: the inverse of sampling), read from the optimised
  HLO that XLA dumps
  (``--xla_dump_to``, a temporary folder; the script sets it before JAX starts).

Shares are of the summed operation time, so they add to 100%; the wall time per call is
printed beside it. Run it on a quiet machine (shares barely move under load; times do).
"""
from __future__ import annotations

import argparse
import collections
import glob
import os
import re
import shutil
import sys
import tempfile
import time

CATEGORIES = ("matrix product", "triangular solve", "cross-device sum (all-reduce)",
              "transpose / copy", "dynamic-update-slice (scan stacks)",
              "dynamic-slice (scan reads)", "buffer fill (broadcast)", "reduction",
              "elementwise fusion", "loop control", "other")
INSTRUCTION = re.compile(r"^\s*(?:ROOT\s+)?%?([\w.\-]+) = ")
COMPUTATION = re.compile(r"^(?:ENTRY\s+)?%?([\w.\-]+) .*\{\s*$")


def opcode_of(rest: str) -> str:
    """The opcode after ``name = `` (the shape may be a parenthesised tuple)."""
    depth, i = 0, 0
    while i < len(rest):
        ch = rest[i]
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == " " and depth == 0:
            break
        i += 1
    return re.match(r"\s*([\w\-]+)", rest[i:]).group(1)


def parse_hlo(text: str):
    """{instruction: (opcode, op_name, called computation)} and {computation: [opcodes]}."""
    instructions, computations, current = {}, collections.defaultdict(list), None
    for line in text.splitlines():
        match = INSTRUCTION.match(line)
        if match:
            rest = line[match.end():]
            opcode = opcode_of(rest)
            op_name = re.search(r'op_name="([^"]*)"', line)
            calls = re.search(r"calls=%?([\w.\-]+)", line)
            target = re.search(r'custom_call_target="([^"]*)"', line)
            if (target and "trsm" in target.group(1).lower()) or match.group(1).startswith(
                    "triangular_solve"):
                opcode = "triangular-solve"  # whatever XLA:CPU lowers it to
            instructions[match.group(1)] = (opcode, op_name.group(1) if op_name else "",
                                            calls.group(1) if calls else None)
            if current is not None:
                computations[current].append(opcode)
            continue
        match = COMPUTATION.match(line)
        if match:
            current = match.group(1)
    return instructions, computations


def category(opcode: str, inner) -> str:
    ops = set(inner) | {opcode}
    if "triangular-solve" in ops:
        return "triangular solve"
    if ops & {"dot", "convolution", "custom-call"}:
        return "matrix product"
    if ops & {"all-reduce", "all-reduce-start", "all-reduce-done", "all-gather",
              "reduce-scatter", "collective-permute"}:
        return "cross-device sum (all-reduce)"
    if opcode == "while" or opcode == "conditional" or opcode == "call":
        return "loop control"
    if "dynamic-update-slice" in ops:
        return "dynamic-update-slice (scan stacks)"
    if "dynamic-slice" in ops:
        return "dynamic-slice (scan reads)"
    if "reduce" in ops or "reduce-window" in ops:
        return "reduction"
    if opcode == "fusion" and set(inner) <= {"broadcast", "constant", "parameter"}:
        return "buffer fill (broadcast)"
    if ops <= {"copy", "transpose", "bitcast", "parameter", "tuple", "get-tuple-element"} or (
            opcode == "fusion" and ("transpose" in inner or "copy" in inner)
            and not (set(inner) - {"copy", "transpose", "bitcast", "parameter", "reshape"})):
        return "transpose / copy"
    if opcode == "fusion":
        return "elementwise fusion"
    return "other"


def place(op_name: str) -> str:
    """'backward|forward' + the model path: level, layer, conditioner part."""
    direction = ("backward" if "transpose(" in op_name else
                 "generative" if "_inverse" in op_name or "decode" in op_name else "forward")
    level = re.search(r"level_(\d+)", op_name)
    parts = [p for p in ("actnorm", "conv1x1", "conv_in", "conv_hidden", "conv_out",
                         "coupling") if f"/{p}" in op_name]
    layer = parts[0] if parts else ("optimizer / loss / other" if "glow" not in op_name
                                    else "glow (between steps)")
    if layer == "coupling":
        layer = "coupling (affine map)"
    elif layer.startswith("conv_"):
        layer = f"coupling net {layer}"
    return f"{direction} | " + (f"level {level.group(1)} | " if level else "") + layer


def self_times(xspace_path: str):
    """{(program_id, hlo_op): self nanoseconds} summed over threads, and total ns."""
    import jax

    data = jax.profiler.ProfileData.from_file(xspace_path)
    totals = collections.Counter()
    for plane in data.planes:
        for line in plane.lines:
            events = []
            for event in line.events:
                stats = dict(event.stats)
                if "hlo_op" in stats:
                    events.append((event.start_ns, event.duration_ns,
                                   (stats.get("program_id"), stats["hlo_op"])))
            events.sort(key=lambda e: (e[0], -e[1]))
            stack = []  # (end, key): open events; a child's time leaves its parent's self time
            for start, duration, key in events:
                while stack and stack[-1][0] <= start:
                    stack.pop()
                if stack:
                    totals[stack[-1][1]] -= duration
                totals[key] += duration
                stack.append((start + duration, key))
    return totals


def load_modules(dump_dir: str):
    """{program_id: (instructions, computations)} of the dumped optimised modules."""
    modules = {}
    for path in glob.glob(os.path.join(dump_dir, "module_*.cpu_after_optimizations.txt")):
        program_id = int(os.path.basename(path).split(".")[0].split("_")[1])
        with open(path) as fh:
            modules[program_id] = parse_hlo(fh.read())
    return modules


def profile(fn, calls: int, dump_dir: str, trace_dir: str):
    """(per-op self ns, wall seconds per call) of ``fn()`` (blocking), compiled first."""
    import jax

    for _ in range(2):
        fn()
    shutil.rmtree(trace_dir, ignore_errors=True)
    jax.profiler.start_trace(trace_dir)
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    wall = (time.perf_counter() - start) / calls
    jax.profiler.stop_trace()
    path = glob.glob(os.path.join(trace_dir, "**", "*.xplane.pb"), recursive=True)[0]
    return self_times(path), wall


def tables(times, modules, top: int):
    """Markdown lines: by category, by place, and the top operations."""
    by_category, by_place, by_op = (collections.Counter() for _ in range(3))
    for (program_id, name), ns in times.items():
        instructions, computations = modules.get(program_id, ({}, {}))
        opcode, op_name, calls = instructions.get(name, ("?", "", None))
        inner = computations.get(calls, []) if calls else []
        by_category[category(opcode, inner)] += ns
        by_place[place(op_name)] += ns
        by_op[(name, category(opcode, inner), place(op_name))] += ns
    total = sum(by_category.values())
    lines = ["| category | share |", "|---|---|"]
    lines += [f"| {c} | {by_category[c] / total:.1%} |" for c in CATEGORIES if by_category[c]]
    lines += ["", "| place (direction, level, layer) | share |", "|---|---|"]
    lines += [f"| {p} | {ns / total:.1%} |" for p, ns in by_place.most_common(top)]
    lines += ["", f"| top {top} operations | category | place | share |", "|---|---|---|---|"]
    lines += [f"| {n} | {c} | {p} | {ns / total:.1%} |"
              for (n, c, p), ns in by_op.most_common(top)]
    return lines, total


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=3)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--calls", type=int, default=5)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--conv", default="auto", help="the couplings' convolution form")
    args = parser.parse_args(argv)
    import jax
    import numpy as np

    from benchmarks.workloads import training_step

    dump_dir = os.environ["NIF_ZOO_PROFILE_DUMP"]
    trace_dir = os.path.join(dump_dir, "trace")
    batch = np.random.default_rng(args.channels).integers(
        0, 256, (args.batch, 32, 32, args.channels), dtype=np.uint8)
    model, train = training_step("nf", batch, levels=3, steps=8, width=128, conv=args.conv)
    counter = iter(range(10 ** 9))

    def sample():
        model.sample(args.batch, temperature=1.0, s=0.0, seed=next(counter),
                     batch_size=args.batch)

    print(f"Glow 32x32x{args.channels}, L=3 K=8 width 128, batch {args.batch}, conv "
          f"{args.conv}; {len(jax.devices())} CPU device(s), jax {jax.__version__}; "
          f"{args.calls} traced calls each")
    for title, fn in (("training step", train), ("sampling call", sample)):
        times, wall = profile(fn, args.calls, dump_dir, trace_dir)
        lines, total = tables(times, load_modules(dump_dir), args.top)
        print(f"\n### {title}: {wall * 1e3:.0f} ms per call (traced), "
              f"{total / args.calls / 1e6:.0f} ms of operation time per call over all threads\n")
        print("\n".join(lines), flush=True)


if __name__ == "__main__":
    dump = tempfile.mkdtemp(prefix="nif_zoo_profile_")
    os.environ["NIF_ZOO_PROFILE_DUMP"] = dump
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + f" --xla_dump_to={dump} "
                               "--xla_dump_hlo_as_text").strip()
    import nif_zoo

    nif_zoo.use_all_cores()  # one CPU device per core, as the CLI trains
    try:
        main()
    finally:
        shutil.rmtree(dump, ignore_errors=True)
        sys.stdout.flush()
