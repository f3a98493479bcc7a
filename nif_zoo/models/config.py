"""``ModelConfig``: a model's typed, frozen configuration, its JSON form and its migration.

Common fields are typed attributes; the kind's own options (the architecture table's
:class:`~nif_zoo.models.architectures.Option` list: the NIF form, the deep NIF's flow sizes,
the progressive latent shape, ...) are in ``options``, checked against their declared types.
A ``ModelConfig`` is also a read-only mapping (``config["latent_dim"]``, ``config.get``), the
same keys as its JSON form :meth:`ModelConfig.to_dict`.

Format versions (``format_version`` in every ``config.json``):

* 1 (releases up to 0.1.0): the NIF form under ``"prior"`` (kind nif) or ``"nif"`` (deep
  NIF); ``scan`` absent in configs written before the scanned Glow existed (they were trained
  unrolled).
* 2 (this release): the NIF form is ``"nif_form"`` for every kind that has one; ``scan`` is
  always present.

:func:`migrate` lifts any earlier version to the current one; ``tests/models/fixtures/``
holds small models saved by version 1 whose outputs the current code must reproduce.
"""
from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from typing import Any, Dict, Optional, Tuple

FORMAT_VERSION = 2
COMMON = ("kind", "image_shape", "levels", "steps", "width", "n_bits", "seed", "latent_dim",
          "additive", "lu", "scan", "logit", "conv", "remat", "data_noise", "trunk",
          "patch_size", "heads", "vit_depth", "format_version")
# written only when they differ from these (configs without them load as these)
OMITTED_DEFAULTS = {"logit": None, "conv": "auto", "remat": False, "data_noise": 0.0,
                    "trunk": "glow", "patch_size": None, "heads": None, "vit_depth": None}


def migrate(raw: Dict[str, Any]) -> Dict[str, Any]:
    """A config dict of any known format -> the current format (a new dict)."""
    config = dict(raw)
    version = config.get("format_version")
    if not isinstance(version, int):
        raise ValueError(f"a model config needs an integer format_version; got {version!r}")
    if version > FORMAT_VERSION:
        raise ValueError(f"config format_version {version} is newer than this nif-zoo reads "
                         f"({FORMAT_VERSION}): upgrade nif-zoo")
    if version < 1:
        raise ValueError(f"unknown config format_version {version}")
    if version == 1:
        key = {"nif": "prior", "deep_nif": "nif"}.get(config.get("kind"))
        if key is not None and key in config:
            config["nif_form"] = config.pop(key)
        config.setdefault("scan", False)  # written before nn.scan existed: trained unrolled
        config["format_version"] = version = 2
    return config


def check_data_noise(sigma, logit=None) -> float:
    """A training noise sigma >= 0; with the logit transform its domain must reach 6 sigma
    past [0, 1] (noisy data beyond it would have no density)."""
    if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or not sigma >= 0:
        raise ValueError(f"data_noise must be a float >= 0; got {sigma!r}")
    if sigma and logit is not None:
        margin = logit / (1.0 - 2.0 * logit)  # nif_zoo.flows.logit.domain
        if margin < 6.0 * sigma:
            raise ValueError(
                f"data_noise={sigma} with logit={logit}: the logit transform is defined on "
                f"({-margin:.3f}, {1 + margin:.3f}), which noisy data leave; use logit >= "
                f"{6 * sigma / (1 + 12 * sigma):.3f} (a domain 6 sigma past [0, 1]) or none")
    return float(sigma)


def _hashable(value):
    return tuple(_hashable(v) for v in value) if isinstance(value, (list, tuple)) else value


@dataclasses.dataclass(frozen=True)
class ModelConfig(Mapping):
    kind: str
    image_shape: Tuple[int, int, int]
    levels: int
    steps: int
    width: int
    n_bits: int
    seed: int
    latent_dim: int
    additive: bool = False
    lu: bool = True
    scan: bool = True
    logit: Optional[float] = None
    conv: str = "auto"
    remat: bool = False
    data_noise: float = 0.0
    trunk: str = "glow"                # or "jet" (then levels is 0 and the next three are set)
    patch_size: Optional[int] = None
    heads: Optional[int] = None
    vit_depth: Optional[int] = None
    options: Tuple[Tuple[str, Any], ...] = ()  # the kind's options, sorted by name
    format_version: int = FORMAT_VERSION

    def __post_init__(self):
        from nif_zoo.models.architectures import TRUNKS, architecture

        from nif_zoo.flows.conv import check_conv_form

        arch = architecture(self.kind)
        check_conv_form(self.conv)
        if not isinstance(self.remat, bool):
            raise ValueError(f"remat must be a bool; got {self.remat!r}")
        check_data_noise(self.data_noise, self.logit)
        jet = (self.patch_size, self.heads, self.vit_depth)
        if self.trunk == "jet":
            if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in jet):
                raise ValueError(f"a Jet trunk needs positive int patch_size, heads, vit_depth; "
                                 f"got {jet}")
        elif self.trunk not in TRUNKS:
            raise ValueError(f"trunk must be one of {TRUNKS}; got {self.trunk!r}")
        elif any(v is not None for v in jet):
            raise ValueError("patch_size, heads and vit_depth are the Jet trunk's")
        declared = {o.name: o for o in arch.options}
        for name, value in self.options:
            if name not in declared:
                raise ValueError(f"option {name!r} does not apply to kind={self.kind!r}")
            expected = declared[name].type
            ok = (isinstance(value, tuple) if expected is tuple else
                  isinstance(value, (int, float)) and not isinstance(value, bool)
                  if expected is float else
                  isinstance(value, expected) and not (expected is int and isinstance(value, bool)))
            if value is not None and not ok:
                raise ValueError(f"option {name}={value!r} must be of type {expected.__name__}")

    # ------------------------------------------------------------ JSON form
    def to_dict(self) -> Dict[str, Any]:
        """The JSON form: common fields and options at the top level (``logit``, ``conv``,
        ``remat``, ``data_noise`` and the trunk's only when not their defaults), tuples as
        lists (a new dict each call)."""
        return {k: list(v) if isinstance(v, list) else v for k, v in self._as_dict.items()}

    @functools.cached_property
    def _as_dict(self) -> Dict[str, Any]:  # built once: the mapping reads it on every lookup
        out = {f: getattr(self, f) for f in COMMON}
        out["image_shape"] = list(self.image_shape)
        for name, default in OMITTED_DEFAULTS.items():
            if out[name] == default and type(out[name]) is type(default):
                del out[name]
        for name, value in self.options:
            out[name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_dict(cls, raw: Dict[str, Any]) -> "ModelConfig":
        """A config dict of any format version (migrated first)."""
        config = migrate(raw)
        missing = [f for f in COMMON if f not in config
                   and f not in ("additive", "lu", *OMITTED_DEFAULTS)]
        if missing:
            raise ValueError(f"model config lacks {missing}")
        common = {f: config[f] for f in COMMON if f in config}
        common["image_shape"] = tuple(int(d) for d in common["image_shape"])
        options = tuple(sorted((k, _hashable(v)) for k, v in config.items() if k not in COMMON))
        return cls(**common, options=options)

    # ------------------------------------------------------------ read-only mapping
    def __getitem__(self, key):
        value = self._as_dict[key]
        return list(value) if isinstance(value, list) else value  # never the cached list

    def __iter__(self):
        return iter(self._as_dict)

    def __len__(self):
        return len(self._as_dict)

    def option(self, name: str, default=None):
        return dict(self.options).get(name, default)
