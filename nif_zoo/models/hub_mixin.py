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


class PretrainedMixin(ModelHubMixin,
                      library_name=metadata.LIBRARY_NAME,
                      license=metadata.LICENSE,
                      paper_url=metadata.PAPER_URL,
                      pipeline_tag=metadata.PIPELINE_TAG,
                      tags=list(metadata.TAGS),
                      model_card_template=MODEL_CARD_TEMPLATE):
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
        """huggingface_hub's ``from_pretrained``: a pretrained folder, or a hub repo id
        (``owner/name``, ``revision=`` a branch, tag or commit), verified; ``devices=`` where
        the weights go (see :func:`nif_zoo.zoo.load`, which also takes the zoo's names)."""
        name = os.fspath(pretrained_model_name_or_path)
        if not os.path.isdir(name) and name.count("/") != 1:
            raise ValueError(f"{name!r} is neither a pretrained folder nor a hub repo id "
                             "(owner/name); zoo names load with nif_zoo.load(name)")
        return super().from_pretrained(name, **kwargs)

    @classmethod
    def _from_pretrained(cls, *, model_id: str, revision=None, cache_dir=None,
                         force_download: bool = False, local_files_only: bool = False,
                         token=None, config=None, devices=None, **unused) -> "PretrainedMixin":
        """ModelHubMixin's hook: ``model_id`` is a pretrained folder or a hub repo id
        (downloaded with every file checked against its ``SHA256SUMS``,
        :func:`~nif_zoo.models.pretrained.fetch`); the weights are restored onto
        ``devices``. Zoo names are ``nif_zoo.load``'s."""
        if os.path.isdir(model_id):
            verify(model_id)
            folder = model_id
        elif model_id.count("/") == 1:
            folder = fetch(model_id, revision=revision, cache_dir=cache_dir,
                                      force_download=force_download, token=token,
                                      local_only=local_files_only)
        else:
            raise ValueError(f"{model_id!r} is neither a pretrained folder nor a hub repo id "
                             "(owner/name); zoo names load with nif_zoo.load(name)")
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
                         "Paper: " + info.paper_url + "."),
            measured=(f"\nMeasured: {metrics['test_bpd']:.4f} bits/dim on {metrics.get('images')} "
                      f"held-out images ({metrics.get('bound', 'exact')}).\n"
                      if metrics and metrics.get("test_bpd") is not None else ""))
        values.update(template_values)
        return str(ModelCard.from_template(card_data=data, template_str=info.model_card_template,
                                           **values))
