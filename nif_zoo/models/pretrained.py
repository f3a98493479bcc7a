"""A pretrained model as a folder (the same on disk, in ``checkpoints/`` and on the hub):

    config.json    the model config (``Model.config``: kind, sizes, n_bits, seed, ...)
    weights/       the variables (params + constants), an orbax checkpoint
    README.md      the model card
    metrics.json   what was measured (optional; rendered into the card)
    training.json  the training config that produced the weights (optional)
    SHA256SUMS     sha256 of every other file (``sha256sum -c SHA256SUMS`` format)

:func:`save_pretrained` (and :func:`save_measured`, whose metrics are measured on the saved
weights) writes the folder to a temporary sibling and renames it into place,
so a crash never leaves a half-written model; :func:`load_pretrained` verifies every file
against ``SHA256SUMS`` before it reads any weights.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from typing import Any, Callable, Dict, Optional

import numpy as np

MANIFEST = "SHA256SUMS"
CONFIG = "config.json"
WEIGHTS = "weights"
CARD = "README.md"
METRICS = "metrics.json"
TRAINING = "training.json"


class IntegrityError(RuntimeError):
    """A pretrained folder whose files do not match its SHA256SUMS (corrupt, truncated,
    missing or edited)."""


def sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def list_files(folder: str):
    """Relative paths (``/``-separated, sorted) of the files under ``folder``."""
    out = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in files:
            out.append(os.path.relpath(os.path.join(root, name), folder).replace(os.sep, "/"))
    return sorted(out)


def write_manifest(folder: str) -> str:
    lines = [f"{sha256_file(os.path.join(folder, rel))}  {rel}\n"
             for rel in list_files(folder) if rel != MANIFEST]
    path = os.path.join(folder, MANIFEST)
    with open(path, "w") as fh:
        fh.writelines(lines)
    return path


def parse_manifest(text: str) -> Dict[str, str]:
    """``SHA256SUMS`` text -> {relative path: sha256}; ``IntegrityError`` if malformed."""
    entries = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        digest, sep, rel = line.partition("  ")
        if (not sep or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest)
                or not rel or rel.startswith("/") or ".." in rel.split("/")):
            raise IntegrityError(f"{MANIFEST} line {number} is malformed: {line[:80]!r}")
        entries[rel] = digest
    if CONFIG not in entries or not any(r.startswith(WEIGHTS + "/") for r in entries):
        raise IntegrityError(f"{MANIFEST} lists no {CONFIG} or no {WEIGHTS}/ files")
    return entries


def read_manifest(folder: str) -> Dict[str, str]:
    path = os.path.join(folder, MANIFEST)
    if not os.path.isfile(path):
        raise IntegrityError(f"{folder} has no {MANIFEST}: not a nif-zoo pretrained folder "
                             "(written by Model.save_pretrained)")
    with open(path) as fh:
        return parse_manifest(fh.read())


def verify(folder: str) -> Dict[str, str]:
    """Check every file of the manifest; return the manifest. ``IntegrityError`` names the
    first missing or mismatching file."""
    manifest = read_manifest(folder)
    for rel, digest in manifest.items():
        path = os.path.join(folder, *rel.split("/"))
        if not os.path.isfile(path):
            raise IntegrityError(f"{rel} is missing from {folder} (listed in {MANIFEST})")
        actual = sha256_file(path)
        if actual != digest:
            raise IntegrityError(f"{rel} in {folder} is corrupt or truncated: sha256 "
                                 f"{actual[:12]}... != {digest[:12]}... in {MANIFEST}")
    return manifest


def write_json(path: str, obj) -> None:
    with open(path, "w") as fh:
        json.dump(obj, fh, indent=2, sort_keys=True)
        fh.write("\n")


def write_folder(folder: str, fill: Callable[[str], Any]):
    """``fill(tmp)`` writes a pretrained folder's files into a temporary sibling of
    ``folder``; then its SHA256SUMS, and it replaces ``folder`` only once complete.
    Returns (folder, what ``fill`` returned)."""
    folder = os.path.abspath(folder)
    parent = os.path.dirname(folder)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(folder)}.", dir=parent)
    try:
        result = fill(tmp)
        write_manifest(tmp)
        os.chmod(tmp, 0o755)
        if os.path.exists(folder):
            old = folder + ".old"
            shutil.rmtree(old, ignore_errors=True)
            os.replace(folder, old)
            os.replace(tmp, folder)
            shutil.rmtree(old)
        else:
            os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder, result


def write_card_files(folder: str, card: str, metrics: Optional[Dict[str, Any]] = None,
                     training: Optional[Dict[str, Any]] = None) -> None:
    if metrics is not None:
        write_json(os.path.join(folder, METRICS), metrics)
    if training is not None:
        write_json(os.path.join(folder, TRAINING), training)
    with open(os.path.join(folder, CARD), "w") as fh:
        fh.write(card)


def save_pretrained(model, folder: str, *, card: Optional[str] = None,
                    metrics: Optional[Dict[str, Any]] = None,
                    training: Optional[Dict[str, Any]] = None) -> str:
    """Write ``model`` as a pretrained folder (see the module docstring); replaces an
    existing one only once the new one is complete. ``card``: the README (default: a card
    rendered from the config and ``metrics``). Returns the folder."""
    def fill(tmp):
        model._save_pretrained(tmp)
        write_card_files(tmp, card if card is not None else basic_card(model.config, metrics),
                         metrics, training)
    return write_folder(folder, fill)[0]


def save_measured(model, folder: str, measure: Callable[[Any], Dict[str, Any]],
                  card: Callable[[Dict[str, Any], Dict[str, Any]], str], *,
                  training: Optional[Dict[str, Any]] = None):
    """Write ``model`` as a pretrained folder whose metrics are measured on its weights as
    saved and restored (what a user who loads the folder measures), not on the model in
    memory: ``measure(restored model)`` -> metrics, ``card(config, metrics)`` -> README.
    Returns (folder, metrics)."""
    def fill(tmp):
        model._save_pretrained(tmp)
        saved = model._from_pretrained(tmp)
        metrics = measure(saved)
        write_card_files(tmp, card(saved.config, metrics), metrics, training)
        return metrics
    return write_folder(folder, fill)


def basic_card(config: Dict[str, Any], metrics: Optional[Dict[str, Any]] = None) -> str:
    """The README of a folder saved without a card: what the model is and how to load it
    (zoo models get their full card from :mod:`nif_zoo.zoo.cards`)."""
    from nif_zoo.models.architectures import architecture

    lines = ["---", "library_name: nif-zoo", "tags:", "- normalizing-flows",
             f"- {config['kind'].replace('_', '-')}", "---", "",
             f"# A nif-zoo {config['kind']} model", "",
             f"{architecture(config['kind']).description}; images "
             f"{'x'.join(str(d) for d in config['image_shape'])}, {config['n_bits']} bits, "
             f"latent size M = {config['latent_dim']}. The full config is `config.json`.", "",
             "```python", "import nif_zoo", "model = nif_zoo.load_pretrained(\"path/to/this/folder\")",
             "images = model.sample(16, temperature=0.7, s=0.0, seed=0)", "```", ""]
    if metrics and metrics.get("test_bpd") is not None:
        lines += [f"Measured: {metrics['test_bpd']:.4f} bits/dim on {metrics.get('images')} "
                  f"held-out images ({metrics.get('bound', 'exact')}).", ""]
    return "\n".join(lines)


def weights_sharding(devices=None):
    """Where model weights go: ``None`` -> replicated over :func:`nif_zoo.devices.
    default_devices` (every local device, data parallel; the first alone with
    ``NIF_ZOO_DATA_PARALLEL=0``); a ``Sharding`` -> itself; a sequence of devices ->
    replicated over them."""
    import jax

    if devices is None:
        from nif_zoo.devices import default_devices

        devices = default_devices()
    if isinstance(devices, jax.sharding.Sharding):
        return devices
    devices = list(devices)
    if not devices:
        raise ValueError("devices is empty; pass None for the first JAX device")
    bad = [d for d in devices if not isinstance(d, jax.Device)]
    if bad:
        raise ValueError(f"devices must be jax.Device objects (jax.devices()); got {bad[0]!r}")
    if len(devices) == 1:
        return jax.sharding.SingleDeviceSharding(devices[0])
    from nif_zoo.devices import replicated_sharding

    return replicated_sharding(devices)


def read_json(folder: str, name: str, default=None):
    path = os.path.join(folder, name)
    if not os.path.isfile(path):
        return default
    with open(path) as fh:
        return json.load(fh)


def load_pretrained(folder: str, *, devices=None, verified: bool = False):
    """The :class:`~nif_zoo.Model` in a pretrained folder, its weights restored by orbax
    onto ``devices`` (``None``: replicated over every local device, see
    :mod:`nif_zoo.devices`; a list: replicated over them; or a
    ``jax.sharding.Sharding``). Verifies ``SHA256SUMS`` first unless ``verified``."""
    from nif_zoo.models.model import Model

    if not os.path.isdir(folder):
        raise FileNotFoundError(f"no pretrained folder at {folder}")
    if not verified:
        verify(folder)
    return Model._from_pretrained(folder, devices=devices)


def write_model_files(model, folder: str) -> None:
    """The model's own files: ``config.json`` (its current format) and ``weights/`` (orbax)."""
    import jax
    import orbax.checkpoint as ocp

    write_json(os.path.join(folder, CONFIG), model.config.to_dict())
    checkpointer = ocp.StandardCheckpointer()
    checkpointer.save(os.path.join(folder, WEIGHTS), jax.device_get(model.variables))
    checkpointer.wait_until_finished()
    checkpointer.close()


def read_model_files(folder: str, devices=None):
    """(config of any format version, migrated; variables restored onto ``devices``)."""
    import jax
    import orbax.checkpoint as ocp

    from nif_zoo.models.config import ModelConfig
    from nif_zoo.models.factory import abstract_variables, module_from_config

    config = ModelConfig.from_dict(read_json(folder, CONFIG))
    module = module_from_config(config)
    sharding = weights_sharding(devices)
    target = jax.tree.map(lambda s: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=sharding),
                          abstract_variables(config, module))
    path = os.path.join(os.path.abspath(folder), WEIGHTS)
    checkpointer = ocp.StandardCheckpointer()
    try:
        check_stored_shapes(folder, config, target, checkpointer.metadata(path))
        variables = checkpointer.restore(path, target)
    finally:
        checkpointer.close()
    return config, module, variables


def parameter_shapes(tree):
    """{"params/glow/...": shape} of a tree of arrays or array metadata."""
    import jax

    def name(path):
        return "/".join(str(getattr(k, "key", getattr(k, "idx", k))) for k in path)
    return {name(path): tuple(leaf.shape)
            for path, leaf in jax.tree_util.tree_leaves_with_path(tree)}


def check_stored_shapes(folder: str, config, target, metadata):
    """ValueError naming every parameter whose shape from ``config.json`` differs from the
    stored weights' (or that only one of them has), before orbax is asked to restore."""
    stored = parameter_shapes(getattr(metadata, "item_metadata", metadata))
    wanted = parameter_shapes(target)
    problems = [f"{name}: {wanted[name]} from config.json, {stored[name]} stored"
                for name in sorted(set(wanted) & set(stored)) if wanted[name] != stored[name]]
    problems += [f"{name}: in config.json's model, not stored" for name in sorted(set(wanted) - set(stored))]
    problems += [f"{name}: stored, not in config.json's model" for name in sorted(set(stored) - set(wanted))]
    if problems:
        sizes = ", ".join(f"{k}={config.get(k)!r}" for k in
                          ("kind", "image_shape", "levels", "steps", "width", "latent_dim")
                          if config.get(k) is not None)
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise ValueError(f"{folder}: config.json ({sizes}) does not match the stored weights: "
                         f"{shown}")
