"""Finding a pretrained folder: bundled checkpoints, the Hugging Face cache, a download.

:func:`load` resolves a registry name or a hub repo id, in order,

1. a bundled checkpoint: ``$NIF_ZOO_CHECKPOINTS/NAME``, the copy installed with the
   package, or ``checkpoints/NAME`` of a source checkout;
2. the Hugging Face cache (``HF_HOME`` / ``HF_HUB_CACHE``), for the pinned ``revision``;
3. a download with ``huggingface_hub`` from ``HF_ENDPOINT`` (default huggingface.co),
   unless ``HF_HUB_OFFLINE=1``.

The hub repo's ``SHA256SUMS`` names every file, so it is fetched first and drives the
download; every file is checked against it. A failed or corrupt download leaves nothing
of that revision in the cache (no half-written entry), so the next call starts clean.
"""
from __future__ import annotations

import os
from typing import List, Optional

from nif_zoo.models import pretrained
from nif_zoo.zoo import registry

PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class HubError(RuntimeError):
    """The model could not be found or fetched (the message says why and what to do)."""


def bundled_roots() -> List[str]:
    """Folders searched for bundled checkpoints, first match wins."""
    roots = []
    if os.environ.get("NIF_ZOO_CHECKPOINTS"):
        roots.append(os.environ["NIF_ZOO_CHECKPOINTS"])
    roots.append(os.path.join(PACKAGE_DIR, "bundled"))  # installed copy (setup.cfg)
    roots.append(os.path.join(os.path.dirname(PACKAGE_DIR), "checkpoints"))  # source tree
    return roots


def bundled_folder(name: str) -> Optional[str]:
    for root in bundled_roots():
        folder = os.path.join(root, name)
        if os.path.isfile(os.path.join(folder, pretrained.MANIFEST)):
            return folder
    return None


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


def _fetch_files(repo_id: str, revision: Optional[str], local_only: bool, cache_dir):
    """Download (or find in the cache) SHA256SUMS and every file it lists; returns the
    snapshot folder. Raises huggingface_hub's errors; verifies nothing."""
    from huggingface_hub import hf_hub_download

    manifest_path = hf_hub_download(repo_id, pretrained.MANIFEST, revision=revision,
                                     cache_dir=cache_dir, local_files_only=local_only)
    snapshot = os.path.dirname(manifest_path)
    commit = os.path.basename(snapshot)  # the resolved commit: a moving branch cannot mix files
    fetched = [manifest_path]
    try:
        with open(manifest_path) as fh:
            manifest = pretrained.parse_manifest(fh.read())
        for rel in manifest:
            fetched.append(hf_hub_download(repo_id, rel, revision=commit, cache_dir=cache_dir,
                                           local_files_only=local_only))
    except BaseException:
        if not local_only:
            _evict(snapshot, fetched)
        raise
    return snapshot, fetched


def fetch(repo_id: str, *, revision: Optional[str] = None, cache_dir: Optional[str] = None,
          force_download: bool = False) -> str:
    """The verified local folder of hub repo ``repo_id`` at ``revision`` (a branch, tag or
    commit; default ``main``): from the Hugging Face cache, else downloaded."""
    from huggingface_hub.errors import (
        EntryNotFoundError, LocalEntryNotFoundError, RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    at = f"{repo_id}@{revision or 'main'}"
    if not force_download:
        try:
            snapshot, files = _fetch_files(repo_id, revision, True, cache_dir)
            try:
                pretrained.verify(snapshot)
                return snapshot
            except pretrained.IntegrityError:
                _evict(snapshot, files)  # a damaged cache entry: drop it and download again
        except (LocalEntryNotFoundError, FileNotFoundError, pretrained.IntegrityError):
            pass
    if _offline():
        raise HubError(f"{at} is not in the Hugging Face cache and HF_HUB_OFFLINE=1 forbids a "
                       "download: unset HF_HUB_OFFLINE (and set HF_ENDPOINT for a mirror) to "
                       "fetch it, or copy a pretrained folder to $NIF_ZOO_CHECKPOINTS/NAME")
    try:
        snapshot, files = _fetch_files(repo_id, revision, False, cache_dir)
    except LocalEntryNotFoundError:  # (a subclass of EntryNotFoundError): no connection
        raise HubError(f"{at}: cannot reach {_endpoint()} and it is not in the Hugging Face "
                       "cache; check the connection or HF_ENDPOINT (a mirror)") from None
    except RevisionNotFoundError:
        raise HubError(f"{at}: revision {revision!r} not found at {_endpoint()}") from None
    except (RepositoryNotFoundError, EntryNotFoundError) as err:
        raise HubError(f"{at}: no nif-zoo model there (repository or its {pretrained.MANIFEST} "
                       f"not found at {_endpoint()}): {type(err).__name__}") from None
    except pretrained.IntegrityError as err:
        raise HubError(f"{at}: {err}") from None
    try:
        pretrained.verify(snapshot)
    except pretrained.IntegrityError as err:
        _evict(snapshot, files)
        raise HubError(f"{at}: download failed verification, removed from the cache: "
                       f"{err}") from None
    return snapshot


def _endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co")


def resolve(name_or_repo: str, *, revision: Optional[str] = None,
            force_download: bool = False) -> str:
    """The verified local pretrained folder for a registry name, a hub repo id
    (``owner/name``) or a local folder path. A bare zoo name always means the zoo's model,
    even where a file or folder of that name exists (write ``./NAME`` for the folder)."""
    is_zoo_name = name_or_repo in registry.entries() or name_or_repo in registry.ALIASES
    looks_like_path = (name_or_repo.startswith((".", "~", os.sep))
                       or (os.path.exists(name_or_repo) and not is_zoo_name)
                       or name_or_repo.count("/") > 1)
    if looks_like_path:
        folder = os.path.expanduser(name_or_repo)
        if not os.path.isdir(folder):
            raise FileNotFoundError(f"no pretrained folder at {name_or_repo}")
        pretrained.verify(folder)  # IntegrityError if it is not one
        return folder
    if "/" in name_or_repo:
        from huggingface_hub.utils import HFValidationError, validate_repo_id

        try:
            validate_repo_id(name_or_repo)
        except HFValidationError as err:
            raise HubError(f"{name_or_repo!r} is neither a zoo name, a folder nor a valid "
                           f"Hugging Face repo id: {err}") from None
        return fetch(name_or_repo, revision=revision, force_download=force_download)
    entry = registry.get_entry(name_or_repo)
    folder = None if (revision or force_download) else bundled_folder(entry.name)
    if folder is not None:
        pretrained.verify(folder)
        return folder
    try:
        return fetch(entry.hub_repo, revision=revision, force_download=force_download)
    except HubError as err:
        if entry.status == "recipe":
            raise HubError(f"{entry.name} is a recipe: weights not published yet ({err}). "
                           f"Train it: {entry.train_command}") from None
        raise


def load(name_or_repo: str, *, revision: Optional[str] = None, devices=None,
         force_download: bool = False):
    """A pretrained :class:`~nif_zoo.Model` by registry name (``nif_zoo.list_models()``),
    Hugging Face repo id (``owner/name``, optionally at ``revision``) or local folder.

    Weights are restored by orbax onto ``devices``: ``None`` (replicated over every local
    device, :mod:`nif_zoo.devices`), a list of devices (replicated) or a
    ``jax.sharding.Sharding``. Every file is verified against
    the folder's SHA256SUMS first. ``revision`` (or ``force_download``) skips the bundled
    copy and asks the hub."""
    folder = resolve(name_or_repo, revision=revision, force_download=force_download)
    return pretrained.load_pretrained(folder, devices=devices, verified=True)


def push_to_hub(model, repo_id: str, *, private: bool = False, token=None,
                revision: Optional[str] = None, commit_message: Optional[str] = None,
                card: Optional[str] = None, metrics=None, training=None, api=None) -> str:
    """Upload ``model`` as a pretrained folder (:func:`~nif_zoo.models.pretrained.save_pretrained`)
    to hub repo ``repo_id`` (created if missing); returns the commit URL."""
    import tempfile

    if api is None:
        from huggingface_hub import HfApi

        api = HfApi(token=token)
    with tempfile.TemporaryDirectory() as tmp:
        folder = pretrained.save_pretrained(model, os.path.join(tmp, "model"), card=card,
                                            metrics=metrics, training=training)
        api.create_repo(repo_id, private=private, exist_ok=True)
        info = api.upload_folder(repo_id=repo_id, folder_path=folder, revision=revision,
                                 commit_message=commit_message or f"Upload {repo_id} (nif-zoo)")
    return str(getattr(info, "commit_url", info))
