"""The registry: model names -> the committed training config that defines each model.

Every YAML file in ``nif_zoo/configs/`` with a ``zoo`` section is a model of the zoo; its
file name is the model's name. Names follow ``[{trunk}-]{kind}{M}-{data}{H}``:

* trunk: absent for the Glow trunk (every name before the Jet), ``jet-`` for the Jet
  (:mod:`nif_zoo.flows.jet`), e.g. ``jet-nif64-mnist28-3bit``;
* kind: the architecture table's tag (:mod:`nif_zoo.models.architectures`) and M: ``nf``
  (Glow with a N(0, I) prior), ``nif{M}`` (the same Glow with a closed-form Gaussian NIF
  prior of latent size M), ``deepnif{M}`` (low-dimensional MLP flow -> Gaussian NIF ->
  Glow), ``prognif{M}`` (progressive: latent image -> Glow -> x2 upsampling NIF -> ...);
* data: ``mnist``, ``fmnist`` (Fashion-MNIST), ``cifar`` (CIFAR-10), ``celeba``, ``lfw``
  (the 100 LFW faces of scikit-image);
* H: the (square) training resolution;
* an optional ``-{b}bit`` suffix where the data are quantised to b bits, e.g. the authors'
  3-bit setting ``nif64-fmnist28-3bit`` (names without it are 8-bit, or say their bit depth
  in their card, as the 5-bit LFW models);
* an optional ``-noise{NN}`` suffix where the model was trained on data with Gaussian noise
  of standard deviation NN / 100 added (``data_noise``, TarFlow's recipe), e.g.
  ``nf-mnist28-3bit-noise05``: its samples are cleaned by one score step
  (``nif-zoo sample --denoise 0.05``).

Names that were replaced stay accepted: ``ALIASES`` maps them to their successor (with a
warning saying so).

e.g. ``nif64-mnist32``: NIF with M = 64 trained on MNIST padded to 32x32. ``status`` says
whether weights exist: ``bundled`` (shipped in ``checkpoints/``) or ``recipe`` (the config
and card only; loadable by name once weights are on the hub at ``hub_repo``).
"""
from __future__ import annotations

import dataclasses
import difflib
import fnmatch
import functools
import math
import os
import re
import warnings
from typing import Any, Dict, List, Optional

from nif_zoo.data.datasets import BY_TAG
from nif_zoo.models.architectures import TABLE

CONFIG_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                          "configs")
# the authors' setting of the paper's tables (nif-zoo reproduce), kept apart from the zoo's
# entries of the same names, which may be smaller recipes published with CPU-trained weights
PAPER_DIR = os.path.join(CONFIG_DIR, "paper")
TAGS = {a.tag: a.kind for a in TABLE.values()}  # name prefix -> kind
TRUNK_TAGS = {"jet": "jet"}  # name prefix -> trunk (no prefix: the Glow)
NAME_PATTERN = re.compile(
    r"^(?:(" + "|".join(TRUNK_TAGS) + r")-)?(" + "|".join(tag + (r"\d+" if TABLE[kind].noise_model else "")  # an NF's M is H W C
                     for tag, kind in sorted(TAGS.items(), key=lambda t: -len(t[0])))
    + r")-(" + "|".join(sorted(BY_TAG, key=len, reverse=True))
    + r")(\d+)(?:-(\d)bit)?(?:-noise(\d\d))?$")
ALIASES = {  # replaced name -> its successor (the 8-bit paper-scale recipes -> the authors' setting)
    **{f"{k}-fmnist32": f"{k}-fmnist28-3bit" for k in ("nf", "nif64", "nif128")},
    **{f"{k}-cifar32": f"{k}-cifar32-3bit" for k in ("nf", "nif64", "nif128")},
    **{f"{k}-celeba64": f"{k}-celeba64-3bit"
       for k in ("nf", "nif64", "nif128", "nif256", "nif512", "deepnif128")},
}
DATA_TAGS = BY_TAG  # name's data tag -> dataset (the dataset table's)
STATUSES = ("bundled", "recipe")


class UnknownModelError(KeyError):
    """A model name the registry does not know (the message lists the closest names)."""

    def __str__(self):  # KeyError would print the message in quotes
        return str(self.args[0])


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    """One model of the zoo: its name and its training config (sections model, data,
    train, zoo; see :mod:`nif_zoo.recipe`)."""

    name: str
    config: Dict[str, Any]
    config_path: str

    @property
    def status(self) -> str:
        return self.config["zoo"]["status"]

    @property
    def hub_repo(self) -> str:
        return self.config["zoo"]["hub_repo"] or f"nif-zoo/{self.name}"

    @property
    def summary(self) -> str:
        return self.config["zoo"]["summary"]

    @property
    def kind(self) -> str:
        return self.config["model"]["kind"]

    @property
    def dataset(self) -> str:
        return self.config["data"]["dataset"]

    @property
    def image_shape(self):
        return tuple(self.config["data"]["image_shape"])

    @property
    def latent_dim(self) -> int:
        return latent_dim_of(self.config["model"], self.config["data"])

    @property
    def train_command(self) -> str:
        rel = os.path.relpath(self.config_path, os.path.dirname(os.path.dirname(CONFIG_DIR)))
        return f"nif-zoo train --config {rel} --out runs/{self.name}"


def latent_dim_of(model: Dict[str, Any], data: Dict[str, Any]) -> int:
    """M of a config's model section: latent_dim, prod(latent_shape), or H W C (an NF)."""
    if model.get("latent_dim"):
        return int(model["latent_dim"])
    if model.get("latent_shape"):
        return int(math.prod(model["latent_shape"]))
    return int(math.prod(data["image_shape"]))


def check_entry(name: str, config: Dict[str, Any]) -> None:
    """The name follows the scheme and agrees with the config it names."""
    match = NAME_PATTERN.match(name)
    if not match:
        raise ValueError(f"model name {name!r} does not follow [{{trunk}}-]{{kind}}{{M}}-{{data}}"
                         f"{{H}}[-{{b}}bit][-noise{{NN}}] (e.g. nif64-mnist32); see "
                         f"nif_zoo.zoo.registry")
    trunk_tag, kind_tag, data_tag, height, bits, noise = match.groups()
    model, data = config["model"], config["data"]
    kind = TAGS[kind_tag.rstrip("0123456789")]
    problems = []
    if model.get("kind") != kind:
        problems.append(f"model.kind is {model.get('kind')!r}, the name says {kind!r}")
    if re.search(r"\d", kind_tag) and str(latent_dim_of(model, data)) != re.sub(r"\D", "", kind_tag):
        problems.append(f"model.latent_dim is {latent_dim_of(model, data)}, the name says "
                        f"{re.sub(r'[^0-9]', '', kind_tag)}")
    trunk = TRUNK_TAGS[trunk_tag] if trunk_tag else "glow"
    if (model.get("trunk") or "glow") != trunk:
        problems.append(f"model.trunk is {model.get('trunk') or 'glow'!r}, the name says {trunk!r}")
    if data.get("dataset") != DATA_TAGS[data_tag]:
        problems.append(f"data.dataset is {data.get('dataset')!r}, the name says "
                        f"{DATA_TAGS[data_tag]!r}")
    if str(data["image_shape"][0]) != height:
        problems.append(f"data.image_shape is {data['image_shape']}, the name says H={height}")
    if bits is not None and int(bits) != data["n_bits"]:
        problems.append(f"data.n_bits is {data['n_bits']}, the name says {bits}")
    sigma = int(noise) / 100 if noise else 0.0
    if abs(float(model.get("data_noise") or 0.0) - sigma) > 1e-9:
        problems.append(f"model.data_noise is {model.get('data_noise') or 0}, the name says "
                        f"{sigma:g}")
    if config["zoo"]["status"] not in STATUSES:
        problems.append(f"zoo.status must be one of {STATUSES}")
    if problems:
        raise ValueError(f"registry entry {name}: " + "; ".join(problems))


@functools.lru_cache(maxsize=None)
def _entries(config_dir: str) -> Dict[str, ModelEntry]:
    from nif_zoo.recipe import make_config, read_config_file

    entries = {}
    for filename in sorted(os.listdir(config_dir)):
        if not filename.endswith(".yaml"):
            continue
        path = os.path.join(config_dir, filename)
        raw = read_config_file(path)
        if not isinstance(raw, dict) or "zoo" not in raw:
            continue
        name = filename[: -len(".yaml")]
        config = make_config(raw)
        check_entry(name, config)
        entries[name] = ModelEntry(name, config, path)
    return entries


def entries() -> Dict[str, ModelEntry]:
    """All registered models, by name."""
    return dict(_entries(CONFIG_DIR))


def list_models(pattern: Optional[str] = None, pretrained_only: bool = False) -> List[str]:
    """Sorted model names, optionally filtered by a shell-style ``pattern`` (``"nif*"``,
    ``"*-mnist32"``) and to models with published weights (``pretrained_only``: bundled)."""
    names = []
    for name, entry in entries().items():
        if pattern is not None and not fnmatch.fnmatch(name, pattern):
            continue
        if pretrained_only and entry.status != "bundled":
            continue
        names.append(name)
    return sorted(names)


def paper_recipe(name: str) -> Dict[str, Any]:
    """The raw training config of ``name`` in the authors' setting (``configs/paper/``)."""
    from nif_zoo.recipe import read_config_file

    path = os.path.join(PAPER_DIR, name + ".yaml")
    if not os.path.exists(path):
        known = sorted(f[: -len(".yaml")] for f in os.listdir(PAPER_DIR) if f.endswith(".yaml"))
        raise UnknownModelError(f"no recipe of the authors' setting for {name!r}; there are: "
                                + ", ".join(known))
    return read_config_file(path)


def get_entry(name: str) -> ModelEntry:
    """The entry of ``name``; :class:`UnknownModelError` naming the closest names if none."""
    known = entries()
    if name in known:
        return known[name]
    if name in ALIASES:
        warnings.warn(f"{name} was replaced by {ALIASES[name]} (the authors' setting: 3-bit "
                      f"data, logit transform, their Glow levels); using it", FutureWarning,
                      stacklevel=2)
        return known[ALIASES[name]]
    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise UnknownModelError(f"unknown model {name!r}{hint} (nif-zoo list shows all "
                            f"{len(known)}; a Hugging Face repo id looks like owner/name)")
