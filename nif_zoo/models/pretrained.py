"""A pretrained model as a folder (the same on disk, in ``checkpoints/`` and on the hub):

    config.json    the model config (``Model.config``: kind, sizes, n_bits, seed, ...)
    weights/       the variables (params + constants), an orbax checkpoint
    README.md      the model card
    metrics.json   what was measured (optional; rendered into the card)
    training.json  the training config that produced the weights (optional)
    SHA256SUMS     sha256 of every other file (``sha256sum -c SHA256SUMS`` format)

``Model.save_pretrained`` (and :func:`save_measured`, whose metrics are measured on the
saved weights) writes the folder to a temporary sibling and renames it into place,
so a crash never leaves a half-written model; ``Model.from_pretrained`` (and
``nif_zoo.load``) verify every file against ``SHA256SUMS`` before any weights are read.
:func:`fetch` is the verified download of such a folder from a Hugging Face repo.

This module reads and writes folders for ``Model`` (its ``huggingface_hub`` side is
:mod:`nif_zoo.models.hub_mixin`); it imports neither, nor JAX until it restores weights.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from typing import Any, Callable, Dict, Optional


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


def save_measured(model, folder: str, measure: Callable[[Any], Dict[str, Any]],
                  card: Callable[[Dict[str, Any], Dict[str, Any]], str], *,
                  training: Optional[Dict[str, Any]] = None):
    """Write ``model`` as a pretrained folder whose metrics are measured on its weights as
    saved and restored (what a user who loads the folder measures), not on the model in
    memory: ``measure(restored model)`` -> metrics, ``card(config, metrics)`` -> README.
    Returns (folder, metrics)."""
    def fill(tmp):
        model._save_pretrained(tmp)
        saved = type(model).load_folder(tmp)
        metrics = measure(saved)
        write_card_files(tmp, card(saved.config, metrics), metrics, training)
        return metrics
    return write_folder(folder, fill)


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

    from nif_zoo.models.build import abstract_variables, module_from_config
    from nif_zoo.models.config import ModelConfig

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


# ------------------------------------------------------------ verified download from a hub repo
class HubError(RuntimeError):
    """The model could not be found or fetched (the message says why and what to do)."""


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")


def _evict(snapshot: str, paths) -> None:
    """Remove downloaded cache files (the snapshot's links and the blobs they point to),
    then the snapshot's folders left empty."""
    for path in paths:
        try:
            if os.path.islink(path):
                target = os.path.realpath(path)
                os.unlink(path)
                if os.path.isfile(target):
                    os.remove(target)
            elif os.path.isfile(path):
                os.remove(path)
        except OSError:
            pass
    for root, _, _ in sorted(os.walk(snapshot), key=lambda item: -len(item[0])):
        try:
            os.rmdir(root)  # only succeeds when empty
        except OSError:
            pass


def _fetch_files(repo_id: str, revision: Optional[str], local_only: bool, cache_dir, token=None):
    """Download (or find in the cache) SHA256SUMS and every file it lists; returns the
    snapshot folder. Raises huggingface_hub's errors; verifies nothing."""
    from huggingface_hub import hf_hub_download

    manifest_path = hf_hub_download(repo_id, MANIFEST, revision=revision, cache_dir=cache_dir,
                                    local_files_only=local_only, token=token)
    snapshot = os.path.dirname(manifest_path)
    commit = os.path.basename(snapshot)  # the resolved commit: a moving branch cannot mix files
    fetched = [manifest_path]
    try:
        with open(manifest_path) as fh:
            manifest = parse_manifest(fh.read())
        for rel in manifest:
            fetched.append(hf_hub_download(repo_id, rel, revision=commit, cache_dir=cache_dir,
                                           local_files_only=local_only, token=token))
    except BaseException:
        if not local_only:
            _evict(snapshot, fetched)
        raise
    return snapshot, fetched


def fetch(repo_id: str, *, revision: Optional[str] = None, cache_dir: Optional[str] = None,
          force_download: bool = False, token=None, local_only: bool = False) -> str:
    """The verified local folder of hub repo ``repo_id`` at ``revision`` (a branch, tag or
    commit; default ``main``): from the Hugging Face cache, else (not ``local_only``)
    downloaded."""
    from huggingface_hub.errors import (
        EntryNotFoundError, LocalEntryNotFoundError, RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    at = f"{repo_id}@{revision or 'main'}"
    if not force_download:
        try:
            snapshot, files = _fetch_files(repo_id, revision, True, cache_dir, token)
            try:
                verify(snapshot)
                return snapshot
            except IntegrityError:
                _evict(snapshot, files)  # a damaged cache entry: drop it and download again
        except (LocalEntryNotFoundError, FileNotFoundError, IntegrityError):
            pass
    if local_only:
        raise HubError(f"{at} is not in the Hugging Face cache (local_files_only=True)")
    if _offline():
        raise HubError(f"{at} is not in the Hugging Face cache and HF_HUB_OFFLINE=1 forbids a "
                       "download: unset HF_HUB_OFFLINE (and set HF_ENDPOINT for a mirror) to "
                       "fetch it, or copy a pretrained folder to $NIF_ZOO_CHECKPOINTS/NAME")
    try:
        snapshot, files = _fetch_files(repo_id, revision, False, cache_dir, token)
    except LocalEntryNotFoundError:  # (a subclass of EntryNotFoundError): no connection
        raise HubError(f"{at}: cannot reach {_endpoint()} and it is not in the Hugging Face "
                       "cache; check the connection or HF_ENDPOINT (a mirror)") from None
    except RevisionNotFoundError:
        raise HubError(f"{at}: revision {revision!r} not found at {_endpoint()}") from None
    except (RepositoryNotFoundError, EntryNotFoundError) as err:
        raise HubError(f"{at}: no nif-zoo model there (repository or its {MANIFEST} "
                       f"not found at {_endpoint()}): {type(err).__name__}") from None
    except IntegrityError as err:
        raise HubError(f"{at}: {err}") from None
    try:
        verify(snapshot)
    except IntegrityError as err:
        _evict(snapshot, files)
        raise HubError(f"{at}: download failed verification, removed from the cache: "
                       f"{err}") from None
    return snapshot


def _endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co")
