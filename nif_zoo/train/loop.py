"""The training loop: bits/dim of uniformly dequantised data, Adam with linear warmup (then
constant or cosine-decayed) and
gradient clipping (optax), an optional exponential moving average of the weights
(``train.ema_decay``: then evaluation, the returned model and publication use the average),
orbax checkpoints, resumable, data parallel.

Everything random is a function of ``train.seed`` and the step: the batch of step k
(``ImageDataset.batch_at``), its dequantisation noise (``fold_in(seed, k)``) and the model
init (``create_model(seed=...)`` with the step-0 batch for ActNorm). A run killed and
resumed from its last checkpoint therefore ends with the same parameters as a run that
was never interrupted, and NF / NIF runs with the same seed are a fair comparison.

A non-finite gradient skips its update (``optax.apply_if_finite``) and is counted;
``train.max_nonfinite`` consecutive skips stop the run with an error, leaving the last
good checkpoint.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from typing import Any, Dict, List, Optional

import jax
import jax.numpy as jnp
import numpy as np
import optax

from nif_zoo.data import load_dataset, quantize
from nif_zoo.devices import describe_hardware
from nif_zoo.models import Model, create_model
from nif_zoo.models.factory import abstract_variables
from nif_zoo.models.pretrained import weights_sharding
from nif_zoo.train import checkpoint, sharding
from nif_zoo.recipe import make_config, save_config
from nif_zoo.train.refit import nif_name, refit_prior


class TrainingDiverged(RuntimeError):
    """Raised after ``max_nonfinite`` consecutive non-finite gradients."""


@dataclasses.dataclass
class TrainResult:
    model: Model
    final_step: int
    history: List[Dict[str, Any]]


def initial_state(variables, optimizer, ema: bool = False):
    """The training state pytree: step, params, constants (fixed), optimiser state, and with
    ``ema`` the exponential moving average of the params (``ema_params``)."""
    state = {"step": jnp.zeros((), jnp.int32), "params": variables["params"],
             "constants": variables.get("constants", {}),
             "opt_state": optimizer.init(variables["params"])}
    if ema:
        state["ema_params"] = jax.tree.map(jnp.copy, variables["params"])
    return state


def ema_update(average, params, decay: float, step):
    """average <- d average + (1 - d) params with d = min(decay, (1 + k) / (10 + k)) at update k
    (the warm-up of TensorFlow's ExponentialMovingAverage: early averages are not dominated
    by the initial weights)."""
    k = step.astype(jnp.float32)
    d = jnp.minimum(decay, (1.0 + k) / (10.0 + k))
    return jax.tree.map(lambda a, p: d * a + (1.0 - d) * p, average, params)


def make_optimizer(train_cfg: Dict[str, Any]) -> optax.GradientTransformation:
    warmup = train_cfg["warmup_steps"]
    lr = train_cfg["learning_rate"]
    if train_cfg.get("lr_schedule", "constant") == "cosine":
        # linear warmup from lr / warmup, then a half cosine down to 0 at the last step
        schedule = optax.warmup_cosine_decay_schedule(
            lr / max(warmup, 1), lr, warmup, max(train_cfg["steps"], warmup + 1), 0.0)
    else:
        schedule = optax.linear_schedule(lr / max(warmup, 1), lr, warmup) if warmup else lr
    inner = optax.chain(optax.clip_by_global_norm(train_cfg["clip_norm"]),
                        optax.adam(schedule))
    # the loop stops the run after max_nonfinite skips; never apply a non-finite update
    return optax.apply_if_finite(inner, max_consecutive_errors=2 ** 30)


def bpd_loss(module, params, constants, y, n_bits: int, key):
    """Mean bits/dim of a dequantised batch y in (0, 1), by the model's training objective
    (the exact log density for NF / NIF, the ELBO for a deep NIF)."""
    log_density = module.apply({"params": params, "constants": constants}, y,
                               method="training_log_density", rngs={"posterior": key})
    num_dims = math.prod(y.shape[1:])
    return jnp.mean(quantize.bits_per_dim(quantize.discrete_log_prob(log_density, num_dims,
                                                                    n_bits), num_dims))


def make_train_step(module, optimizer, n_bits: int, seed: int, ema_decay: float = 0.0,
                    data_noise: float = 0.0):
    """The jitted step (state, uint8 batch) -> (state, metrics); with ``ema_decay`` > 0 the
    state's ``ema_params`` follow the updated params (:func:`ema_update`); with
    ``data_noise`` sigma > 0 the dequantised batch gets Gaussian noise of that standard
    deviation (the model's ``data_noise``, :func:`nif_zoo.data.quantize.add_data_noise`)."""
    base_key = jax.random.fold_in(jax.random.key(seed), 0x5EED)

    def train_step(state, batch):
        key = jax.random.fold_in(base_key, state["step"])
        y = quantize.add_data_noise(quantize.dequantize(batch, n_bits, key), data_noise,
                                    jax.random.fold_in(key, 2))
        loss, grads = jax.value_and_grad(bpd_loss, argnums=1)(
            module, state["params"], state["constants"], y, n_bits, jax.random.fold_in(key, 1))
        updates, opt_state = optimizer.update(grads, state["opt_state"], state["params"])
        params = optax.apply_updates(state["params"], updates)
        new_state = dict(state, step=state["step"] + 1, opt_state=opt_state, params=params)
        if ema_decay:
            new_state["ema_params"] = ema_update(state["ema_params"], params, ema_decay,
                                                 state["step"])
        metrics = {"loss_bpd": loss, "grad_norm": global_norm(grads),
                   "nonfinite_in_a_row": opt_state.notfinite_count,
                   "nonfinite_total": opt_state.total_notfinite}
        return new_state, metrics

    return jax.jit(train_step, donate_argnums=0)


def global_norm(tree):
    """sqrt of the sum of squares of every leaf (optax.tree.norm, which optax < 0.2.4 lacks)."""
    return jnp.sqrt(sum(jnp.sum(jnp.square(leaf)) for leaf in jax.tree.leaves(tree)))


def python_scalars(metrics: Dict[str, Any]) -> Dict[str, Any]:
    """Scalar arrays -> Python numbers typed by their dtype (float, int or bool)."""
    out = {}
    for key, value in metrics.items():
        arr = np.asarray(value)
        if arr.dtype == np.bool_:
            out[key] = bool(arr)
        elif np.issubdtype(arr.dtype, np.integer):
            out[key] = int(arr)
        else:
            out[key] = float(arr)
    return out


def append_jsonl(path: str, record: Dict[str, Any]):
    with open(path, "a") as fh:
        fh.write(json.dumps(record) + "\n")


def truncate_jsonl(path: str, last_step: int):
    """Drop log lines past ``last_step`` (work lost with a kill, redone on resume)."""
    if not os.path.exists(path):
        return
    with open(path) as fh:
        keep = [line for line in fh if line.strip() and json.loads(line)["step"] <= last_step]
    with open(path + ".tmp", "w") as fh:
        fh.writelines(keep)
    os.replace(path + ".tmp", path)


def evaluations_since_best(bpds) -> int:
    """How many of the held-out bits/dim ``bpds`` (in order) came after their best (the
    first of equal bests): the early-stopping count of ``train.patience``."""
    bpds = list(bpds)
    return 0 if not bpds else len(bpds) - 1 - int(np.argmin(bpds))


def last_logged(path: str, key: str, default):
    """The last value of ``key`` in a metrics log (``default`` if none)."""
    value = default
    if os.path.exists(path):
        with open(path) as fh:
            for line in fh:
                if line.strip():
                    value = json.loads(line).get(key, value)
    return value


def load_datasets(config, progress: bool = True):
    d, t = config["data"], config["train"]
    common = dict(image_shape=d["image_shape"], n_bits=d["n_bits"], data_dir=d["data_dir"],
                  fit=d["fit"], split_scheme=d["split_scheme"], split_seed=d["split_seed"],
                  skip_bad=d["skip_bad_files"], progress=progress)
    train_data = load_dataset(d["dataset"], "train", flip=d["flip"], limit=d["limit"], **common)
    eval_data = (load_dataset(d["dataset"], d["eval_split"], limit=d["eval_limit"], **common)
                 if d["eval_split"] else None)
    train_data.steps_per_epoch(t["batch_size"])  # fails early on a too-large batch
    return train_data, eval_data


def initial_model(config, train_data) -> Model:
    d, t = config["data"], config["train"]
    count = t["init_images"] or t["batch_size"]  # ActNorm's data-dependent init batch
    first = train_data.batch_at(0, min(count, len(train_data)), t["seed"])
    return create_model(image_shape=tuple(d["image_shape"]), n_bits=d["n_bits"],
                        seed=t["seed"], init_images=first, **config["model"])


def train(raw_config: Optional[Dict[str, Any]] = None, out_dir: str = "runs/default", *,
          resume: bool = False, devices=None, progress: bool = True) -> TrainResult:
    """Train per ``raw_config`` (see :mod:`nif_zoo.recipe`), writing checkpoints and
    logs to ``out_dir``; ``resume=True`` continues from its latest checkpoint."""
    from tqdm.auto import tqdm

    config = make_config(raw_config)
    t = config["train"]
    sharding.maybe_initialize_distributed()
    mesh = sharding.data_mesh(devices, t["batch_size"])
    primary = sharding.is_primary()  # writes the logs and configs; every process saves
    rows = sharding.local_rows(mesh, t["batch_size"])  # this process's rows of each batch
    train_data, eval_data = load_datasets(config, progress)
    model = initial_model(config, train_data)
    refits = bool(t["refit_every"]) and model.has_noise_model  # an NF ignores refit_every
    if refits:
        nif_name(model)  # fails now, not at the first refit, for a model with no refittable NIF
    optimizer = make_optimizer(t)
    ema = bool(t["ema_decay"])
    state = sharding.replicate(initial_state(model.variables, optimizer, ema), mesh)

    os.makedirs(out_dir, exist_ok=True)
    mngr = checkpoint.manager(out_dir, t["keep_checkpoints"])
    log_path = os.path.join(out_dir, "metrics.jsonl")
    seconds_before = 0.0  # wall time of earlier runs of a resumed training
    if mngr.latest_step() is not None:
        if not resume:
            raise FileExistsError(f"{out_dir} already has checkpoints (latest step "
                                  f"{mngr.latest_step()}); pass resume=True (--resume) or a new "
                                  "output folder")
        state = checkpoint.restore(mngr, checkpoint.abstract(state))
        if primary:
            truncate_jsonl(log_path, int(sharding.local_copy(state["step"])))
        seconds_before = last_logged(log_path, "train_seconds", 0.0)
        # every process reads the checkpoint's record (only the primary writes the log)
        evaluations = list(checkpoint.read_record(mngr).get("evaluations", []))
        if t["patience"] and evaluations_since_best(evaluations) >= t["patience"]:
            print(f"{out_dir}: stopped early before (validation bits/dim has not improved for "
                  f"{t['patience']} evaluations); nothing to resume", flush=True)
            mngr.close()
            return TrainResult(model.with_variables(sharding.local_copy(variables_of(state))),
                               int(sharding.local_copy(state["step"])), [])
    else:
        evaluations = []  # held-out bits/dim so far (early stopping), saved with checkpoints
        if os.path.exists(log_path) and primary:
            os.remove(log_path)
    if primary:
        save_config(config, os.path.join(out_dir, "config.json"))
        save_config(model.config.to_dict(), os.path.join(out_dir, "model.json"))
    if jax.process_count() > 1:
        print(f"process {jax.process_index()} of {jax.process_count()}: reads rows "
              f"{rows.start}:{rows.stop} of every global batch of {t['batch_size']}", flush=True)
    log = append_jsonl if primary else (lambda path, record: None)

    step_fn = make_train_step(model.module, optimizer, config["data"]["n_bits"], t["seed"],
                              t["ema_decay"], model.config.data_noise)
    start = int(sharding.local_copy(state["step"]))
    # what this stretch of the run trains on (a resumed run may move): the card says it
    log(log_path, {"step": start, "hardware": describe_hardware(mesh.devices.flat)})
    history: List[Dict[str, Any]] = []
    bar = tqdm(total=t["steps"], initial=start, disable=not (progress and primary), unit="step",
               dynamic_ncols=True)
    tick, tick_step = time.perf_counter(), start
    run_start = tick
    try:
        for step in range(start, t["steps"]):
            batch = sharding.shard_local_batch(
                train_data.batch_at(step, t["batch_size"], t["seed"], rows), mesh,
                t["batch_size"])
            state, metrics = step_fn(state, batch)
            done = step + 1
            bar.update(1)
            if done % t["log_every"] == 0 or done == t["steps"]:
                record = {"step": done, **python_scalars(
                    jax.device_get(sharding.local_copy(metrics)))}
                now = time.perf_counter()
                record["images_per_s"] = (done - tick_step) * t["batch_size"] / (now - tick)
                record["train_seconds"] = seconds_before + now - run_start
                tick, tick_step = now, done
                log(log_path, record)
                history.append(record)
                bar.set_postfix(bpd=f"{record['loss_bpd']:.4f}",
                                img_s=f"{record['images_per_s']:.0f}")
                if t["max_nonfinite"] and record["nonfinite_in_a_row"] >= t["max_nonfinite"]:
                    raise TrainingDiverged(
                        f"{record['nonfinite_in_a_row']} non-finite gradients in a row at step "
                        f"{done}; stopped. The last good checkpoint is step "
                        f"{mngr.latest_step()} in {out_dir}")
            if refits and done % t["refit_every"] == 0:
                state, record = refit_state(model, state, train_data.images, t, done, mesh)
                log(log_path, record)
                history.append(record)
                bar.write(f"step {done}: prior refit, training log-likelihood "
                          f"{record['refit_log_lik_before']:.2f} -> "
                          f"{record['refit_log_lik_after']:.2f} nats/image")
                tick = time.perf_counter()
            stop = False
            if eval_data is not None and ((t["eval_every"] and done % t["eval_every"] == 0)
                                          or done == t["steps"]):
                trained = model.with_variables(sharding.local_copy(variables_of(state)))
                # uniform dequantisation noise (the standard bound), the same draw every time
                bpd = trained.bits_per_dim(eval_data.images, key=t["seed"])
                record = {"step": done, "eval_bpd": bpd, "eval_split": eval_data.split,
                          "eval_images": len(eval_data), "eval_dequantisation": "uniform"}
                if ema:  # eval_bpd is the average's (what is published), the raw one beside
                    raw = model.with_variables(sharding.local_copy(variables_of(state, "raw")))
                    record.update(eval_bpd_raw=raw.bits_per_dim(eval_data.images, key=t["seed"]),
                                  eval_weights="ema")
                log(log_path, record)
                history.append(record)
                bar.write(f"step {done}: {eval_data.split} bits/dim {record['eval_bpd']:.4f} "
                          f"({len(eval_data)} images)")
                evaluations.append(record["eval_bpd"])
                stop = bool(t["patience"]) and evaluations_since_best(evaluations) >= t["patience"]
                tick = time.perf_counter()
            # after the evaluation, so that the checkpoint's record holds it
            if ((t["checkpoint_every"] and done % t["checkpoint_every"] == 0)
                    or done == t["steps"] or stop):
                checkpoint.save(mngr, done, state, run_record(config, model.config.to_dict(),
                                                              done, evaluations))
                tick = time.perf_counter()  # images/s counts training, not saving
            if stop:
                record = {"step": done, "stopped_early": True, "patience": t["patience"]}
                log(log_path, record)
                history.append(record)
                bar.write(f"step {done}: stopped: {eval_data.split} bits/dim has not improved "
                          f"for {t['patience']} evaluations")
                break
    finally:
        bar.close()
        mngr.close()
    return TrainResult(model.with_variables(sharding.local_copy(variables_of(state))),
                       int(sharding.local_copy(state["step"])), history)


def refit_state(model: Model, state, images, train_cfg, step: int, mesh):
    """The state with the NIF's Gaussian layer refit in closed form (the optimiser's
    moments are kept), and a log record of the refit."""
    trained = model.with_variables(sharding.local_copy(variables_of(state, "raw")))
    result = refit_prior(trained, images, iterations=train_cfg["refit_iterations"],
                         seed=train_cfg["seed"])
    params = sharding.replicate(result.model.variables["params"], mesh)
    record = {"step": step, "refit_log_lik_before": result.initial_log_lik,
              "refit_log_lik_after": result.history[-1].mean_log_lik,
              "refit_em_steps": result.history[-1].iteration}
    new_state = dict(state, params=params)
    if "ema_params" in state:  # the average takes the refit layer as it is
        name = nif_name(model)
        # its own buffers: the step donates the state, and one buffer donated twice (params
        # and average sharing it) is a use after free
        new_state["ema_params"] = {**state["ema_params"],
                                   name: jax.tree.map(jnp.copy, params[name])}
    return new_state, record


RNG_DERIVATION = ("step k: batch = ImageDataset.batch_at(k, batch_size, seed); "
                  "key = fold_in(fold_in(key(seed), 0x5EED), k); dequantisation noise from "
                  "key, posterior draws from fold_in(key, 1), Gaussian data noise (a model "
                  "with data_noise) from fold_in(key, 2)")


def run_record(config, model_config, step: int, evaluations=()):
    """What a checkpoint needs besides arrays: the run's config, the model's config, the
    data position (= the step), how the random keys derive from (seed, step), and the
    held-out bits/dim evaluated so far (early stopping resumes from them)."""
    return {"config": config, "model": model_config, "step": step, "data_position": step,
            "rng": {"seed": config["train"]["seed"], "derivation": RNG_DERIVATION},
            "evaluations": [float(v) for v in evaluations]}


WEIGHTS = ("ema", "raw")


def variables_of(state, weights: str = "ema"):
    """The model variables of a training state: the moving average of the params when the
    state has one and ``weights="ema"`` (what evaluation and publication use), else the
    params as the optimiser left them (``"raw"``)."""
    if weights not in WEIGHTS:
        raise ValueError(f"weights must be one of {WEIGHTS}; got {weights!r}")
    params = state["ema_params"] if weights == "ema" and "ema_params" in state else state["params"]
    return {"params": params, "constants": state["constants"]}


def load_trained(out_dir: str, step: Optional[int] = None, weights: str = "ema") -> Model:
    """The Model of a training run's latest (or ``step``) checkpoint: the moving average of
    its weights when the run kept one (``train.ema_decay`` > 0), else its weights;
    ``weights="raw"``: the optimiser's weights in either case."""
    with open(os.path.join(out_dir, "config.json")) as fh:
        config = json.load(fh)
    with open(os.path.join(out_dir, "model.json")) as fh:
        model_config = json.load(fh)
    model = Model(model_config, None)  # any format version, migrated
    variables = abstract_variables(model.config, model.module)
    train_cfg = make_config(config)["train"]
    optimizer = make_optimizer(train_cfg)
    shapes = jax.eval_shape(lambda v: initial_state(v, optimizer, bool(train_cfg["ema_decay"])),
                            variables)
    on_device = weights_sharding(None)
    target = jax.tree.map(lambda s: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=on_device),
                          shapes)
    mngr = checkpoint.manager(out_dir)
    try:
        state = checkpoint.restore(mngr, target, step)
    finally:
        mngr.close()
    return model.with_variables(variables_of(state, weights))
