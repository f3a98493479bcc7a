"""The prepared accelerator check: numerics, speed per convolution form, peak memory.

    python -m benchmarks.accelerator --out DIR          # on the GPU / TPU machine (< 8 min)
    python -m benchmarks.accelerator --out DIR --tiny   # the same code on CPU in seconds (CI)

Writes ``DIR/accelerator.json`` and ``DIR/accelerator.md``:

1. **Numerics** on JAX's default device, under the default matmul precision (TF32 on recent
   NVIDIA GPUs, bfloat16 passes on TPU) and under ``highest``: a Glow's round trip x -> z
   -> x (max |error|), its log-determinant against a brute-force Jacobian (float64 slogdet on
   the host), and the closed-form NIF's log p(x) against a float64 NumPy reference of
   N(b, A A^T + Sigma) on the CPU.
2. **Speed**: training and sampling images/s of the NF and NIF-64 recipes of CelebA 64x64
   and CIFAR-10 32x32 (the authors' setting) at batch 32, with ``conv="lax"`` and
   ``conv="matmul"`` (each timed after compilation, median of ``--repeats``), and the
   compile time. Stops adding rows at ``--budget-s`` (the rows left say so).
3. **Memory**: the device's peak bytes in use (``memory_stats``; the compiled program's
   own analysis where the backend has none).

``--tiny`` shrinks the recipes (2 levels, K = 1, width 8, batch 8, 2 repeats; the CIFAR-10
pair unless ``--recipes`` says otherwise) so the same code runs on a CPU in CI.
"""
from __future__ import annotations

import nif_zoo
import argparse
import contextlib
import json
import os
import platform
import time

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks.timing import median_seconds

RECIPES = ("nf-celeba64-3bit", "nif64-celeba64-3bit", "nf-cifar32-3bit", "nif64-cifar32-3bit")
FORMS = ("lax", "matmul")


# ---------------------------------------------------------------- numerics
def perturbed(params, seed: int, scale: float = 0.05):
    """params + scale * standard normal noise (NumPy's: a jax.random draw per leaf compiles its
    own threefry graph, seconds each on a CPU, more than the checks themselves)."""
    r = np.random.default_rng(seed)
    return jax.tree.map(lambda p: np.asarray(p) + np.asarray(
        scale * r.standard_normal(p.shape), p.dtype), params)


def glow_numerics(tiny: bool):
    """(round-trip max error, log-det error vs the brute-force Jacobian) of a perturbed
    Glow; the Jacobian on an 8x8x1 input (64 x 64)."""
    from nif_zoo.flows import Glow

    width, steps = (8, 1) if tiny else (64, 8)
    out = {}
    for name, shape in (("round_trip", (4, 16, 16, 3)), ("log_det", (1, 8, 8, 1))):
        glow = Glow(levels=2, steps=steps, width=width, conv="auto")
        x = 0.5 * jax.random.normal(jax.random.key(0), shape)
        # jitted: op-by-op initialisation of a scanned Glow costs more than the checks
        variables = jax.jit(lambda k, x: glow.init(k, x, method="forward"))(jax.random.key(1), x)
        variables = {**variables, "params": perturbed(variables["params"], seed=2)}
        forward = jax.jit(lambda v, x: glow.apply(v, x, method="forward"))
        inverse = jax.jit(lambda v, z: glow.apply(v, z, method="inverse"))
        if name == "round_trip":
            z, _ = forward(variables, x)
            back, _ = inverse(variables, z)
            out["round_trip_max_error"] = float(jnp.max(jnp.abs(back - x)))
        else:
            _, log_det = forward(variables, x)
            jac = jax.jit(jax.jacfwd(lambda flat: forward(
                variables, flat.reshape(shape))[0].ravel()))(x.ravel())
            brute = np.linalg.slogdet(np.asarray(jac, np.float64))[1]
            out["log_det_abs_error"] = float(abs(float(log_det[0]) - brute))
            out["log_det"] = float(brute)
    return out


def nif_numerics():
    """|log p(x) on the device - float64 NumPy reference| of a dense Gaussian NIF."""
    from nif_zoo.nif import gaussian

    r = np.random.default_rng(0)
    n, m, batch = 256, 32, 16
    A = r.standard_normal((n, m)) / np.sqrt(m)
    b = 0.1 * r.standard_normal(n)
    log_var = np.log(r.uniform(0.05, 0.5, n))
    x = (A @ r.standard_normal((m, batch))).T + b + np.sqrt(np.exp(log_var)) * r.standard_normal(
        (batch, n))
    device = jax.jit(gaussian.log_marginal)(*(jnp.asarray(v, jnp.float32)
                                              for v in (x, A, b, log_var)))
    cov = A @ A.T + np.diag(np.exp(log_var))
    chol = np.linalg.cholesky(cov)
    w = np.linalg.solve(chol, (x - b).T)
    reference = -0.5 * (np.sum(w * w, axis=0) + 2 * np.sum(np.log(np.diag(chol)))
                        + n * np.log(2 * np.pi))
    err = np.abs(np.asarray(device, np.float64) - reference)
    return {"nif_log_p_max_abs_error": float(err.max()),
            "nif_log_p_max_rel_error": float((err / np.abs(reference)).max())}


def numerics(tiny: bool):
    rows = {}
    for precision in ("default", "highest"):
        context = (contextlib.nullcontext() if precision == "default" else
                   jax.default_matmul_precision("highest"))
        with context:
            rows[precision] = {**glow_numerics(tiny), **nif_numerics()}
    return rows


# ---------------------------------------------------------------- speed
def recipe_config(name: str, tiny: bool):
    from nif_zoo.recipe import make_config
    from nif_zoo.zoo import registry

    config = registry.get_entry(name).config
    if tiny:
        config = make_config({**config, "model": {**config["model"], "width": 8, "steps": 1,
                                                  "levels": 2},
                              "train": {**config["train"], "batch_size": 8}})
    else:
        config = make_config({**config, "train": {**config["train"], "batch_size": 32}})
    return config


def peak_memory(device):
    try:
        stats = device.memory_stats()
    except Exception:  # noqa: BLE001 - backends without memory stats
        stats = None
    return None if not stats else stats.get("peak_bytes_in_use")


def speed_row(name: str, form: str, tiny: bool, repeats: int):
    import nif_zoo
    from nif_zoo.train.loop import initial_state, make_optimizer, make_train_step

    config = recipe_config(name, tiny)
    d, t = config["data"], config["train"]
    batch_size = t["batch_size"]
    batch = np.random.default_rng(0).integers(0, 2 ** d["n_bits"],
                                              (batch_size,) + tuple(d["image_shape"]),
                                              dtype=np.uint8)
    start = time.perf_counter()
    model = nif_zoo.create_model(image_shape=tuple(d["image_shape"]), n_bits=d["n_bits"],
                                 seed=0, init_images=batch, **{**config["model"], "conv": form})
    optimizer = make_optimizer(t)
    step = make_train_step(model.module, optimizer, d["n_bits"], t["seed"])
    holder = {"state": initial_state(jax.tree.map(jnp.copy, model.variables), optimizer)}
    device_batch = jnp.asarray(batch)

    def train():
        holder["state"], metrics = step(holder["state"], device_batch)
        jax.block_until_ready(metrics["loss_bpd"])

    def sample():
        model.sample(batch_size, temperature=1.0, s=0.0, seed=0, batch_size=batch_size)

    train()
    sample()
    compile_s = time.perf_counter() - start
    train_s = median_seconds(train, repeats=repeats, warmup=0)  # warmed up above
    sample_s = median_seconds(sample, repeats=repeats, warmup=0)
    return {"recipe": name, "conv": form, "batch": batch_size, "params": model.num_params,
            "train_img_s": batch_size / train_s, "sample_img_s": batch_size / sample_s,
            "compile_and_first_calls_s": compile_s,
            "peak_bytes_in_use": peak_memory(jax.devices()[0])}


def markdown(report) -> str:
    lines = [f"# Accelerator check ({report['device']}, jax {report['jax']})", "",
             "## Numerics (float32 on the device)", "",
             "| matmul precision | Glow round trip max error | log-det error vs brute-force "
             "Jacobian | NIF log p max abs error vs float64 | max rel error |",
             "|---|---|---|---|---|"]
    for precision, row in report["numerics"].items():
        lines.append(f"| {precision} | {row['round_trip_max_error']:.2e} | "
                     f"{row['log_det_abs_error']:.2e} (of {row['log_det']:.1f}) | "
                     f"{row['nif_log_p_max_abs_error']:.2e} | "
                     f"{row['nif_log_p_max_rel_error']:.2e} |")
    lines += ["", "## Speed (median after compilation)", "",
              "| recipe | conv | batch | params | train img/s | sample img/s | compile + first "
              "calls s | peak memory GiB |", "|---|---|---|---|---|---|---|---|"]
    for row in report["speed"]:
        if "skipped" in row:
            lines.append(f"| {row['recipe']} | {row['conv']} | skipped: {row['skipped']} "
                         "| | | | | |")
            continue
        peak = row["peak_bytes_in_use"]
        lines.append(f"| {row['recipe']} | {row['conv']} | {row['batch']} | {row['params']:,} | "
                     f"{row['train_img_s']:.1f} | {row['sample_img_s']:.1f} | "
                     f"{row['compile_and_first_calls_s']:.0f} | "
                     f"{'-' if peak is None else f'{peak / 2 ** 30:.2f}'} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="folder for accelerator.json / .md")
    parser.add_argument("--tiny", action="store_true", help="small recipes: CPU, seconds")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--budget-s", type=float, default=420.0,
                        help="stop adding speed rows after this many seconds (420)")
    parser.add_argument("--recipes", nargs="+", default=None,
                        help=f"default {' '.join(RECIPES)} (--tiny: the CIFAR-10 pair)")
    args = parser.parse_args(argv)
    args.recipes = args.recipes or list(RECIPES[2:] if args.tiny else RECIPES)
    repeats = args.repeats or (2 if args.tiny else 5)
    started = time.perf_counter()
    device = jax.devices()[0]
    report = {"device": f"{len(jax.devices())} x {device.device_kind} ({device.platform})",
              "jax": jax.__version__, "host": platform.machine(), "tiny": args.tiny,
              "default_matmul_precision": str(jax.config.jax_default_matmul_precision),
              "numerics": numerics(args.tiny), "speed": []}
    print(json.dumps(report["numerics"], indent=1), flush=True)
    for name in args.recipes:
        for form in FORMS:
            if time.perf_counter() - started > args.budget_s:
                report["speed"].append({"recipe": name, "conv": form,
                                        "skipped": f"past the {args.budget_s:.0f} s budget"})
                continue
            row = speed_row(name, form, args.tiny, repeats)
            report["speed"].append(row)
            print(json.dumps(row), flush=True)
    report["seconds"] = time.perf_counter() - started
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "accelerator.json"), "w") as fh:
        json.dump(report, fh, indent=2)
    text = markdown(report)
    with open(os.path.join(args.out, "accelerator.md"), "w") as fh:
        fh.write(text)
    print(text)


if __name__ == "__main__":
    nif_zoo.use_all_cores()  # one CPU device per core (nif_zoo.devices), before JAX runs
    main()
