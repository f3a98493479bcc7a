"""Turn a finished training run into a published zoo model: measure it, render its card,
write ``checkpoints/NAME`` (a pretrained folder) and ``model_cards/NAME.md``.

    nif-zoo train --config nif_zoo/configs/NAME.yaml --out runs/NAME
    nif-zoo publish runs/NAME --name NAME

Recipe cards (no weights) are rendered by ``nif-zoo cards``.
"""
from __future__ import annotations

import json
import os
import shutil
from typing import Any, Dict, Optional

from nif_zoo.devices import describe_hardware
from nif_zoo.evaluate.prior_fit import prior_fit
from nif_zoo.recipe import complete_record
from nif_zoo.models import pretrained
from nif_zoo.zoo import cards, registry

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def train_hardware(recorded, last_step: Optional[int] = None) -> str:
    """The card's "trained on": the hardware a run's log recorded at each (re)start, in order
    (``"1 CPU core (x86_64), steps 0-13500; 2 CPU cores (x86_64), steps 13500-16000"`` where it
    moved; ``"unrecorded hardware"`` for the stretch of a run resumed from a log written before
    this), or, for a run logged before it was recorded (``recorded`` empty), this machine's
    hardware as publication sees it, said so. ``last_step``: where the last stretch ended."""
    if not recorded:
        import jax

        return (describe_hardware(jax.devices())
                + " (the publishing machine; the training log does not say)")
    if recorded[0][0] > 0:  # resumed from a log written before the line was
        recorded = [(0, "unrecorded hardware")] + list(recorded)
    stretches = []  # (hardware, first step, last step) of each stretch
    for (step, text), following in zip(recorded, [s for s, _ in recorded[1:]] + [last_step]):
        if stretches and stretches[-1][0] == text:
            stretches[-1][2] = following
        else:
            stretches.append([text, step, following])
    if len(stretches) == 1:
        return stretches[0][0]
    return "; ".join(f"{text}, steps {first}-{last if last is not None else 'end'}"
                     for text, first, last in stretches)


def eval_command(name: str, split: str, limit: Optional[int]) -> str:
    return (f"nif-zoo eval {name} --split {split}"
            + (f" --limit {limit}" if limit else "") + " --seed 0")


def run_metrics(run_dir: str) -> Dict[str, Any]:
    """Steps, wall time and the held-out curve of a training run, from its metrics.jsonl."""
    steps, seconds, curve, recorded = 0, None, [], []
    with open(os.path.join(run_dir, "metrics.jsonl")) as fh:
        for line in fh:
            if line.strip():
                record = json.loads(line)
                steps = max(steps, record["step"])
                seconds = record.get("train_seconds", seconds)
                if "eval_bpd" in record:
                    curve.append([record["step"], round(record["eval_bpd"], 4)])
                if "hardware" in record:
                    recorded.append((record["step"], record["hardware"]))
    return {"train_steps": steps, "train_seconds": seconds, "eval_curve": curve,
            "train_hardware": train_hardware(recorded, steps)}


def diagnostics_command(name: str, split: str, limit: Optional[int]) -> str:
    return eval_command(name, split, limit) + " --diagnostics"


def card_for(entry: registry.ModelEntry, model_config, metrics) -> str:
    return cards.render_card(entry.name, model_config, training=entry.config, metrics=metrics,
                             train_command=entry.train_command)


def heldout_metrics(model, images) -> Dict[str, Any]:
    """What a card says about a model's held-out fit on ``images``: bits/dim (exact or the
    IW bound, uniform dequantisation of seed 0, as ``nif-zoo eval``) and the prior-fit
    diagnostics."""
    from nif_zoo.evaluate.likelihood import heldout_bits_per_dim

    measured = heldout_bits_per_dim(model, images, seed=0)
    return {"test_bpd": measured["bpd"], "test_bpd_sem": measured["bpd_sem"],
            "images": measured["images"], "bound": measured["bound"],
            "dequantisation": measured["dequantisation"], "num_params": model.num_params,
            "prior_fit": prior_fit(model, images)}


def refit_record(record: Dict[str, Any], saved_bpd: float) -> Dict[str, Any]:
    """The refit's record as a card states it: "after" is the saved weights' test bits/dim
    (the card's number); the refit model's in-memory measurement is kept beside it when it
    differs."""
    record = dict(record)
    in_memory = record["test_bpd_after"]
    record["test_bpd_after"] = saved_bpd
    if in_memory != saved_bpd:
        record["test_bpd_after_in_memory"] = in_memory
    return record


def publish(run_dir: str, name: str, *, checkpoints_root: Optional[str] = None,
            cards_root: Optional[str] = None, progress: bool = True) -> str:
    """The run's final model (its weights' moving average when it kept one), its prior refit
    in closed form when the entry asks for it, saved, restored and measured on the test
    split (the config's ``eval_limit`` images: the card's number is the saved weights', what
    ``nif-zoo eval`` reproduces); then the pretrained folder and the card. Returns the
    folder."""
    from nif_zoo.evaluate.likelihood import evaluation_data
    from nif_zoo.train import load_trained
    from nif_zoo.train.refit import refit_and_measure

    entry = registry.get_entry(name)
    with open(os.path.join(run_dir, "config.json")) as fh:
        # a run written before a setting existed ran with its value of then (complete_record)
        run_config = complete_record(json.load(fh))
    for section in ("model", "data", "train"):
        if run_config[section] != entry.config[section]:
            raise ValueError(f"{run_dir} was not trained with nif_zoo/configs/{name}.yaml "
                             f"(its {section} section differs); retrain with: "
                             f"{entry.train_command}")
    model = load_trained(run_dir)
    data = entry.config["data"]
    # the card's number is always on the test split; training may have followed another
    # held-out split (validation: the stopping criterion of the run's curve)
    split, limit = "test", data["eval_limit"]
    test = evaluation_data(data, split, limit)
    refit = None
    zoo = entry.config["zoo"]
    if zoo.get("refit_iterations"):
        if progress:
            print(f"{name}: refitting the prior on the training split ...", flush=True)
        train = evaluation_data(data, "train", data.get("limit"))
        select_on = zoo.get("refit_select_on")  # early stopped there; the test split never chooses
        validation = evaluation_data(data, select_on, limit).images if select_on else None
        refit = refit_and_measure(model, train.images, test.images,
                                  iterations=zoo["refit_iterations"],
                                  flow_steps=zoo.get("refit_flow_steps", 0),
                                  validation_images=validation, progress=progress)
        model = refit.model
    checkpoints_root = checkpoints_root or os.path.join(REPO_ROOT, "checkpoints")
    cards_root = cards_root or os.path.join(REPO_ROOT, "model_cards")
    counted = limit if len(test) == limit else None

    def measure(saved):
        if progress:
            print(f"{name}: measuring {split} bits/dim of the saved weights on {len(test)} "
                  "images ...", flush=True)
        metrics = {**heldout_metrics(saved, test.images), "split": split,
                   "command": eval_command(name, split, counted),
                   **run_metrics(run_dir),
                   "prior_fit_command": diagnostics_command(name, split, counted)}
        if refit is not None:
            metrics["refit"] = refit_record(refit.record, metrics["test_bpd"])
        return metrics

    folder, metrics = pretrained.save_measured(
        model, os.path.join(checkpoints_root, name), measure,
        lambda config, metrics: card_for(entry, config, metrics), training=entry.config)
    os.makedirs(cards_root, exist_ok=True)
    shutil.copyfile(os.path.join(folder, pretrained.CARD), os.path.join(cards_root, f"{name}.md"))
    if progress:
        print(f"{name}: {split} bits/dim {metrics['test_bpd']:.4f} ({metrics['bound']}); "
              f"wrote {folder} and {cards_root}/{name}.md")
    return folder


def expected_card(name: str) -> str:
    """What ``model_cards/NAME.md`` must say: the bundled folder's README, or the rendered
    recipe card."""
    from nif_zoo.zoo.hub import bundled_folder

    entry = registry.get_entry(name)
    folder = bundled_folder(name)
    if entry.status == "bundled" and folder is not None:
        with open(os.path.join(folder, pretrained.CARD)) as fh:
            return fh.read()
    from nif_zoo.models.factory import model_config as make_model_config

    data = entry.config["data"]
    model_config = make_model_config(image_shape=data["image_shape"], n_bits=data["n_bits"],
                                     seed=entry.config["train"]["seed"], **entry.config["model"])
    return card_for(entry, model_config, None)


def write_cards(cards_root: Optional[str] = None) -> list:
    """Write ``model_cards/NAME.md`` for every registered model; returns the paths."""
    cards_root = cards_root or os.path.join(REPO_ROOT, "model_cards")
    os.makedirs(cards_root, exist_ok=True)
    paths = []
    for name in registry.list_models():
        path = os.path.join(cards_root, f"{name}.md")
        with open(path, "w") as fh:
            fh.write(expected_card(name))
        paths.append(path)
    return paths


TABLE_START, TABLE_END = "<!-- bundled-models:start -->", "<!-- bundled-models:end -->"


def bundled_table(links: bool = True) -> str:
    """Markdown table of the bundled models and what their cards measured (``links``: each
    name links to its card in model_cards/, as the README has it)."""
    from nif_zoo.zoo.hub import bundled_folder

    rows = ["| model | kind | M | data | params | trained | test bits/dim | test FID | t, s |",
            "|---|---|---|---|---|---|---|---|---|"]
    for name in registry.list_models(pretrained_only=True):
        entry = registry.get_entry(name)
        folder = bundled_folder(name)
        m = pretrained.read_json(folder, pretrained.METRICS, {}) if folder else {}
        zoo = entry.config["zoo"]
        shape = "x".join(map(str, entry.image_shape))
        bpd = (f"{m['test_bpd']:.3f} ({m['images']} imgs, {m['bound']})"
               if m.get("test_bpd") is not None else "not published")
        trained = (f"{m['train_steps']} steps, {m['train_seconds'] / 60:.0f} min"
                   if m.get("train_seconds") else "")
        fids = m.get("fid") or {}
        fid = "; ".join(f"{v:.1f} ({k.split(',')[1].strip()})" for k, v in sorted(fids.items()))
        label = f"[{name}](model_cards/{name}.md)" if links else f"`{name}`"
        rows.append(f"| {label} | {entry.kind} | {entry.latent_dim} | "
                    f"{entry.dataset} {shape}, {entry.config['data']['n_bits']} bit | "
                    f"{m.get('num_params', 0):,} | {trained} | {bpd} | {fid or '-'} | "
                    f"{zoo['temperature']}, {zoo['s']} |")
    return "\n".join(rows)


def update_readme(path: Optional[str] = None) -> bool:
    """Replace the bundled-models table between the markers of the README and of the docs'
    zoo page (``path``: that one file only); True if any changed."""
    paths = [path] if path else [os.path.join(REPO_ROOT, "README.md"),
                                 os.path.join(REPO_ROOT, "docs", "zoo.md")]
    changed = False
    for path in paths:
        if not os.path.isfile(path):
            continue
        with open(path) as fh:
            text = fh.read()
        if TABLE_START not in text or TABLE_END not in text:
            continue
        head, rest = text.split(TABLE_START, 1)
        _, tail = rest.split(TABLE_END, 1)
        links = os.path.basename(path) == "README.md"  # the docs site has no model_cards/
        new = f"{head}{TABLE_START}\n{bundled_table(links)}\n{TABLE_END}{tail}"
        if new != text:
            with open(path, "w") as fh:
                fh.write(new)
            changed = True
    return changed


def update_metrics(name: str, extra, *, cards_root: Optional[str] = None) -> str:
    """Add measured numbers to a bundled model's metrics.json (``extra``: a dict of entries
    to set, or a function from the metrics to the new metrics, e.g.
    :func:`nif_zoo.zoo.cards.with_fids`), re-render its card (checkpoint README and
    model_cards/NAME.md) with the registry entry's zoo section (also written to its training
    record), and its SHA256SUMS; weights untouched."""
    from nif_zoo.zoo.hub import bundled_folder

    entry = registry.get_entry(name)
    folder = bundled_folder(name)
    if folder is None:
        raise ValueError(f"{name} has no bundled checkpoint to update")
    metrics = pretrained.read_json(folder, pretrained.METRICS, {})
    metrics = extra(metrics) if callable(extra) else {**metrics, **extra}
    config = pretrained.read_json(folder, pretrained.CONFIG)
    card = card_for(entry, config, metrics)
    pretrained.verify(folder)
    training = pretrained.read_json(folder, pretrained.TRAINING)
    if training is not None:  # the record's zoo section (summary, limitations) follows the entry
        recorded = complete_record(training)
        for section in ("model", "data", "train"):
            if recorded[section] != entry.config[section]:
                raise ValueError(f"{folder} was not trained with nif_zoo/configs/{name}.yaml "
                                 f"(its {section} section differs); publish it again")
        pretrained.write_json(os.path.join(folder, pretrained.TRAINING),
                              {**training, "zoo": entry.config["zoo"]})
    pretrained.write_json(os.path.join(folder, pretrained.METRICS), metrics)
    with open(os.path.join(folder, pretrained.CARD), "w") as fh:
        fh.write(card)
    pretrained.write_manifest(folder)
    cards_root = cards_root or os.path.join(REPO_ROOT, "model_cards")
    with open(os.path.join(cards_root, f"{name}.md"), "w") as fh:
        fh.write(card)
    return folder
