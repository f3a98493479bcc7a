"""The recipe of a training run and of a zoo model (one format, read by training, the registry
and the CLI): three JSON/YAML sections, ``model``, ``data`` and ``train``, and ``zoo``.

    model: the arguments of nif_zoo.create_model (kind, levels, steps, width, latent_dim,
           prior, ...); image_shape and n_bits come from ``data``.
    data:  dataset, image_shape, n_bits, data_dir, fit, flip, limit, eval_split, eval_limit,
           split_scheme, split_seed (how a folder without split subfolders is split),
           skip_bad_files (a folder's unreadable, gray-in-colour or odd-sized files are
           skipped and counted instead of stopping with an error naming the first)
    train: batch_size, steps, learning_rate, warmup_steps, lr_schedule ("constant" after
           the warmup, or "cosine": decayed to 0 at ``steps``), clip_norm, seed,
           checkpoint_every, eval_every, log_every, max_nonfinite, keep_checkpoints,
           init_images (ActNorm's data-dependent initialisation sees this many training
           images, the first of the first epoch's order; 0: the first batch),
           ema_decay (> 0: keep an exponential moving average of the weights with this
           decay; evaluation, the trained model and publication use it; 0: none; default
           0.999, chosen from the flagship NF's curve: docs/results/ema/ema.md),
           patience (> 0: stop early once this many evaluations in a row have not lowered
           the held-out bits/dim below its best so far, with a checkpoint of the
           stopping step; 0: train all ``steps``),
           refit_every (a NIF: every this many steps, and so at the last step when it is
           a multiple, refit the Gaussian layer in closed form on the whole training split
           with up to refit_iterations EM steps, :mod:`nif_zoo.train.refit`; 0: never)
    zoo:   (optional, the model zoo's entry; training ignores it) status (bundled or
           recipe), hub_repo, summary, temperature, s (recommended sampling values),
           limitations (for the model card), refit_iterations (> 0: ``nif-zoo publish``
           refits a NIF's Gaussian layer in closed form on the training split, up to this
           many EM steps, before measuring; see :mod:`nif_zoo.train.refit`),
           refit_select_on ("validation": the refit is early stopped on the validation
           split, never the test split: the layer kept is the best there of the trained one,
           b = mean and every EM step, so a refit that does not generalise is not kept;
           null, the default: the last EM step, as every model published before issue 39),
           refit_flow_steps (a deep NIF: then this many Adam steps refit its flow),
           denoise (a model trained with data_noise: the recommended sigma of the score
           step after sampling, ``nif-zoo sample`` uses it; None: no step)

Defaults (the authors' optimiser: Adam, lr 1e-4, linear warmup, batch 32) are in
``DEFAULTS``; ``seed`` sets the model init, the data order and the dequantisation noise,
so an NF and a NIF run with the same seed see the same batches and start from the same
Glow.
"""
from __future__ import annotations

import copy
import json
import os
from typing import Any, Dict

from nif_zoo.models.architectures import KINDS, architecture

LR_SCHEDULES = ("constant", "cosine")
REFIT_SELECTION = ("validation", None)  # the split a publish-time refit is early stopped on

DEFAULTS: Dict[str, Dict[str, Any]] = {
    "model": {"kind": "nif", "levels": 3, "steps": 4, "width": 64, "latent_dim": 64},
    "data": {"dataset": "mnist", "image_shape": [32, 32, 1], "n_bits": 8, "data_dir": None,
             "fit": None, "flip": False, "limit": None, "eval_split": "test",
             "eval_limit": 1000, "split_scheme": "every_20th", "split_seed": 0,
             "skip_bad_files": False},
    "train": {"batch_size": 32, "steps": 2000, "learning_rate": 1e-4, "warmup_steps": 200,
              "lr_schedule": "constant", "clip_norm": 50.0, "seed": 0, "checkpoint_every": 500, "eval_every": 0,
              "refit_every": 0, "refit_iterations": 20, "init_images": 0,
              "log_every": 10, "max_nonfinite": 20, "keep_checkpoints": 2, "ema_decay": 0.999,
              "patience": 0},
    "zoo": {"status": "recipe", "hub_repo": None, "summary": "", "temperature": 0.7,
            "s": 0.0, "limitations": "", "refit_iterations": 0,
            "refit_select_on": None, "refit_flow_steps": 0, "denoise": None},
}


# Settings whose default changed after records were written without them: a record (a
# bundled training.json, an old run's config.json) that lacks one ran with the value here,
# not with today's default.
LEGACY_DEFAULTS: Dict[str, Dict[str, Any]] = {
    "train": {"ema_decay": 0.0},  # the moving average became the default in issue 20
}


def merge(base: Dict[str, Any], override: Dict[str, Any]) -> Dict[str, Any]:
    out = copy.deepcopy(base)
    for section, values in (override or {}).items():
        if section not in DEFAULTS:
            raise ValueError(f"unknown config section {section!r}; sections: {list(DEFAULTS)}")
        if not isinstance(values, dict):
            raise ValueError(f"config section {section!r} must be a mapping")
        if section != "model":  # model options are checked by create_model
            unknown = sorted(set(values) - set(DEFAULTS[section]))
            if unknown:
                raise ValueError(f"unknown {section} keys {unknown}; known: {sorted(DEFAULTS[section])}")
        out.setdefault(section, {}).update(values)
    return out


def read_config_file(path: str) -> Dict[str, Any]:
    """A JSON or YAML config file as written (no defaults merged)."""
    with open(path) as fh:
        text = fh.read()
    if path.endswith((".yaml", ".yml")):
        import yaml

        return yaml.safe_load(text)
    return json.loads(text)


def load_config(path: str) -> Dict[str, Any]:
    """Read a JSON or YAML config file (the sections above) merged over ``DEFAULTS``."""
    return make_config(read_config_file(path))


def make_config(raw: Dict[str, Any] = None) -> Dict[str, Any]:
    config = merge(DEFAULTS, raw or {})
    given = (raw or {}).get("model", {})
    if config["model"].get("kind") in KINDS:
        arch = architecture(config["model"]["kind"])
        if not arch.takes_latent_dim and "latent_dim" not in given:
            config["model"].pop("latent_dim", None)  # the default M is a NIF's; an NF has none
        if given.get("trunk") == "jet" and "levels" not in given:
            config["model"].pop("levels", None)  # the default L is a Glow's; a Jet has none
        elif arch.default_levels is not None and "levels" not in given:
            config["model"]["levels"] = arch.default_levels  # e.g. progressive: 1 per stage
    t = config["train"]
    for key in ("batch_size", "steps", "log_every"):
        if not isinstance(t[key], int) or t[key] < 1:
            raise ValueError(f"train.{key} must be a positive integer; got {t[key]!r}")
    for key in ("warmup_steps", "checkpoint_every", "eval_every", "max_nonfinite",
                "refit_every", "refit_iterations", "init_images", "patience"):
        if not isinstance(t[key], int) or t[key] < 0:
            raise ValueError(f"train.{key} must be a non-negative integer; got {t[key]!r}")
    if t["lr_schedule"] not in LR_SCHEDULES:
        raise ValueError(f"train.lr_schedule must be one of {LR_SCHEDULES}; got {t['lr_schedule']!r}")
    if not t["learning_rate"] > 0 or not t["clip_norm"] > 0:
        raise ValueError("train.learning_rate and train.clip_norm must be > 0")
    if t["patience"] and not (t["eval_every"] and config["data"]["eval_split"]):
        raise ValueError("train.patience stops on held-out bits/dim: it needs train.eval_every "
                         "> 0 and data.eval_split")
    if not isinstance(t["ema_decay"], (int, float)) or not 0 <= t["ema_decay"] < 1:
        raise ValueError(f"train.ema_decay must be in [0, 1) (0: no average); got {t['ema_decay']!r}")
    if config["zoo"]["refit_select_on"] not in REFIT_SELECTION:
        raise ValueError(f"zoo.refit_select_on must be one of {REFIT_SELECTION} (null: the last "
                         f"EM step); got {config['zoo']['refit_select_on']!r}")
    return config


def complete_record(record: Dict[str, Any]) -> Dict[str, Any]:
    """The full config of a *recorded* run (training.json, a run's config.json): settings
    the record lacks take the value they had when it was written (``LEGACY_DEFAULTS``),
    then today's defaults (settings added since took their default, which is what the run
    did)."""
    return make_config(merge(LEGACY_DEFAULTS, record or {}))


def save_config(config: Dict[str, Any], path: str):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path + ".tmp", "w") as fh:
        json.dump(config, fh, indent=2, sort_keys=True)
    os.replace(path + ".tmp", path)
