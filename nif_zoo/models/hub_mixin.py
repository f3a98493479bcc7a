"""``Model``'s huggingface_hub side: :class:`PretrainedMixin`, a ``ModelHubMixin`` on the
folder format of :mod:`nif_zoo.models.pretrained` (its hooks ``_save_pretrained`` /
``_from_pretrained``, ``from_pretrained``, an atomic ``save_pretrained`` with a card and
SHA256SUMS, the library's card). It never imports ``Model``."""
from __future__ import annotations

import os

from huggingface_hub import ModelHubMixin

from nif_zoo.models import metadata
from nif_zoo.models.pretrained import (
    fetch, read_model_files, verify, write_card_files, write_folder, write_model_files,
)


MODEL_CARD_TEMPLATE = """---
{{ card_data }}
---

# {{ title }}

{{ description }}

```python
import nif_zoo
model = nif_zoo.Model.from_pretrained("path/to/this/folder")  # or a hub repo id owner/name
images = model.sample(16, temperature=0.7, s=0.0, seed=0)
```
{{ measured }}
"""


NAME_RESOLVERS = "nif_zoo.model_names"
"""The entry-point group of name resolvers: ``resolve(name, revision=, force_download=)``
-> a verified pretrained folder, or a ``LookupError`` (``KeyError``) for a name it does not
know. nif-zoo's own zoo registers ``nif_zoo.zoo.hub:resolve_name`` (setup.cfg); another
package can add its names the same way."""


def resolve_model_name(name: str, revision=None, force_download: bool = False) -> str:
    """The pretrained folder of a model *name* (not a folder, not a repo id) from the first
    installed resolver that knows it (``NAME_RESOLVERS``), as ``from_pretrained("gpt2")``
    in transformers. ``ValueError`` when none does."""
    from importlib.metadata import entry_points

    resolvers = sorted(entry_points(group=NAME_RESOLVERS), key=lambda ep: ep.name != "zoo")
    for ep in resolvers:
        try:
            return ep.load()(name, revision=revision, force_download=force_download)
        except LookupError:
            continue
    known = "" if resolvers else " (no zoo is installed: pip install nif-zoo)"
    raise ValueError(f"{name!r} is neither a pretrained folder, a hub repo id (owner/name) "
                     f"nor a zoo model name{known}; nif_zoo.list_models() lists the names")


def mixin_card_options():
    """ModelHubMixin's card options for this library; ``paper_url`` only where the installed
    huggingface_hub takes it (0.30 and later: older ones have no such option, and the card
    names the paper itself)."""
    import inspect

    options = dict(library_name=metadata.LIBRARY_NAME, license=metadata.LICENSE,
                   pipeline_tag=metadata.PIPELINE_TAG, tags=list(metadata.TAGS),
                   model_card_template=MODEL_CARD_TEMPLATE)
    if "paper_url" in inspect.signature(ModelHubMixin.__init_subclass__).parameters:
        options["paper_url"] = metadata.PAPER_URL
    return options


class PretrainedMixin(ModelHubMixin, **mixin_card_options()):
    """What makes ``Model`` a ``huggingface_hub.ModelHubMixin`` on the folder format above:
    its hooks ``_save_pretrained`` / ``_from_pretrained``, ``from_pretrained``,
    ``save_pretrained`` (atomic, with a card and SHA256SUMS) and the library's card. A
    subclass has ``config``, ``variables``, ``kind``, ``latent_dim``, ``architecture`` and
    is built as ``cls(config, variables, module)``; this module never imports it.
    ``push_to_hub`` is the mixin's own."""

    def _save_pretrained(self, save_directory) -> None:
        """ModelHubMixin's hook: the model's own files, ``config.json`` and ``weights/``."""
        write_model_files(self, str(save_directory))

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, **kwargs) -> "PretrainedMixin":
        """huggingface_hub's ``from_pretrained``: a pretrained folder, a hub repo id
        (``owner/name``, ``revision=`` a branch, tag or commit), or a zoo model name
        (``nif_zoo.list_models()``: loaded as :func:`nif_zoo.load` loads it, bundled copy
        first), verified; ``devices=`` where the weights go."""
        name = os.fspath(pretrained_model_name_or_path)
        if not os.path.isdir(name) and name.count("/") != 1:
            folder = resolve_model_name(name, revision=kwargs.get("revision"),
                                        force_download=kwargs.get("force_download", False))
            return cls.load_folder(folder, devices=kwargs.get("devices"))
        return super().from_pretrained(name, **kwargs)

    @classmethod
    def _from_pretrained(cls, *, model_id: str, revision=None, cache_dir=None,
                         force_download: bool = False, local_files_only: bool = False,
                         token=None, config=None, devices=None, **unused) -> "PretrainedMixin":
        """ModelHubMixin's hook: ``model_id`` is a pretrained folder or a hub repo id
        (downloaded with every file checked against its ``SHA256SUMS``,
        :func:`~nif_zoo.models.pretrained.fetch`); the weights are restored onto
        ``devices``. Zoo names take :func:`resolve_model_name` in ``from_pretrained``."""
        if os.path.isdir(model_id):
            verify(model_id)
            folder = model_id
        elif model_id.count("/") == 1:
            folder = fetch(model_id, revision=revision, cache_dir=cache_dir,
                                      force_download=force_download, token=token,
                                      local_only=local_files_only)
        else:
            folder = resolve_model_name(model_id, revision, force_download)
        return cls.load_folder(folder, devices=devices)

    @classmethod
    def load_folder(cls, folder: str, *, devices=None) -> "PretrainedMixin":
        """The model whose ``config.json`` (any format version, migrated) and ``weights/``
        are in ``folder`` (not verified: ``from_pretrained`` and ``nif_zoo.load`` verify
        first), restored onto ``devices``."""
        config, module, variables = read_model_files(folder, devices)
        return cls(config, variables, module)

    def save_pretrained(self, save_directory, *, card=None, metrics=None, training=None,
                        config=None, repo_id=None, push_to_hub: bool = False,
                        model_card_kwargs=None, **push_to_hub_kwargs):
        """Write this model as a pretrained folder: ``config.json``, orbax ``weights/``,
        ``README.md`` (``card``, else :meth:`model_card`), ``metrics.json`` and
        ``training.json`` when given, ``SHA256SUMS``; written to a temporary sibling and
        renamed into place, so an existing folder is replaced only by a complete one.
        Returns the folder (with ``push_to_hub=True``, the commit URL of
        ``push_to_hub(repo_id)``). ``config`` is accepted for ModelHubMixin and ignored:
        the model's config is its own."""
        def fill(tmp):
            text = card if card is not None else self.model_card(metrics, **(model_card_kwargs or {}))
            write_card_files(tmp, text, metrics, training)
            ModelHubMixin.save_pretrained(self, tmp)  # _save_pretrained; the card is kept
        folder = write_folder(save_directory, fill)[0]
        if push_to_hub:
            return self.push_to_hub(repo_id or os.path.basename(folder), **push_to_hub_kwargs)
        return folder

    def model_card(self, metrics=None, **template_values) -> str:
        """The card of a folder saved without one: the library's metadata (ModelHubMixin's
        card data: library, license, paper, pipeline, tags, and this kind's tag), what the
        model is and how to load it (zoo models get their full card from
        :mod:`nif_zoo.zoo.cards`)."""
        from huggingface_hub import ModelCard, ModelCardData

        info = self._hub_mixin_info
        data = ModelCardData(**info.model_card_data.to_dict())
        c = self.config
        trunk = self.architecture.trunk(c)
        data.tags = sorted(set(data.tags or []) | {self.kind.replace("_", "-")}
                           | ({trunk} if trunk else set()))
        values = dict(
            title=f"A nif-zoo {c['kind']} model",
            description=(f"{self.architecture.describe(c)} {c['n_bits']}-bit images, latent "
                         f"size M = {self.latent_dim}. The full config is `config.json`. "
                         "Paper: " + metadata.PAPER_URL + "."),
            measured=(f"\nMeasured: {metrics['test_bpd']:.4f} bits/dim on {metrics.get('images')} "
                      f"held-out images ({metrics.get('bound', 'exact')}).\n"
                      if metrics and metrics.get("test_bpd") is not None else ""))
        values.update(template_values)
        return str(ModelCard.from_template(card_data=data, template_str=info.model_card_template,
                                           **values))
