"""Finding a pretrained folder: bundled checkpoints, the Hugging Face cache, a download.

:func:`load` resolves a registry name or a hub repo id, in order,

1. a bundled checkpoint: ``$NIF_ZOO_CHECKPOINTS/NAME``, the copy installed with the
   package, or ``checkpoints/NAME`` of a source checkout;
2. the Hugging Face cache (``HF_HOME`` / ``HF_HUB_CACHE``), for the pinned ``revision``;
3. a download with ``huggingface_hub`` from ``HF_ENDPOINT`` (default huggingface.co),
   unless ``HF_HUB_OFFLINE=1``.

The download itself is :func:`nif_zoo.models.pretrained.fetch` (``Model.from_pretrained``
uses it for a repo id): the hub repo's ``SHA256SUMS`` names every file, so it is fetched
first and drives the download; every file is checked against it. A failed or corrupt
download leaves nothing of that revision in the cache, so the next call starts clean. This
module adds the zoo's names and bundled copies on top.
"""
from __future__ import annotations

import os
from typing import List, Optional

from nif_zoo.models import pretrained
from nif_zoo.models.pretrained import HubError, fetch  # noqa: F401  (the verified download)
from nif_zoo.zoo import registry

PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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


def resolve_name(name: str, *, revision: Optional[str] = None,
                 force_download: bool = False) -> str:
    """:func:`resolve` for a zoo name only (``KeyError`` for any other): the zoo's entry in
    the ``nif_zoo.model_names`` resolvers of ``Model.from_pretrained``."""
    if name not in registry.entries() and name not in registry.ALIASES:
        raise KeyError(name)
    return resolve(name, revision=revision, force_download=force_download)


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
    return load_pretrained(folder, devices=devices, verified=True)


def load_pretrained(folder: str, *, devices=None, verified: bool = False):
    """The :class:`~nif_zoo.Model` in a pretrained folder (as :func:`load`), its
    ``SHA256SUMS`` verified first unless ``verified``."""
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"no pretrained folder at {folder}")
    from nif_zoo.models.model import Model  # JAX: only when a model is loaded

    if not verified:
        pretrained.verify(folder)
    return Model.load_folder(folder, devices=devices)


def save_pretrained(model, folder: str, **kwargs) -> str:
    """``model.save_pretrained(folder, **kwargs)`` (card, metrics, training): a verified
    pretrained folder, written atomically."""
    return model.save_pretrained(folder, **kwargs)


def upload_folder(folder: str, repo_id: str, *, private: bool = False, token=None,
                  revision: Optional[str] = None, commit_message: Optional[str] = None,
                  api=None) -> str:
    """Upload a pretrained folder, verified against its ``SHA256SUMS`` first, to hub repo
    ``repo_id`` (created if missing); returns the commit URL."""
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"no pretrained folder at {folder}")
    pretrained.verify(folder)
    if api is None:
        from huggingface_hub import HfApi

        api = HfApi(token=token)
    api.create_repo(repo_id, private=private, exist_ok=True)
    info = api.upload_folder(repo_id=repo_id, folder_path=folder, revision=revision,
                             commit_message=commit_message or f"Upload {repo_id} (nif-zoo)")
    return str(getattr(info, "commit_url", info))


def push_to_hub(model, repo_id: str, *, private: bool = False, token=None,
                revision: Optional[str] = None, commit_message: Optional[str] = None,
                card: Optional[str] = None, metrics=None, training=None, api=None) -> str:
    """Upload ``model`` as a pretrained folder (``Model.save_pretrained``, with the zoo's
    ``card``, ``metrics`` and ``training`` record) to hub repo ``repo_id`` (created if
    missing); returns the commit URL. ``Model.push_to_hub`` (huggingface_hub's) uploads the
    same folder with the library's own card."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        folder = model.save_pretrained(os.path.join(tmp, "model"), card=card, metrics=metrics,
                                       training=training)
        return upload_folder(folder, repo_id, private=private, token=token, revision=revision,
                             commit_message=commit_message, api=api)
