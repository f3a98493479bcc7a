"""A config's Flax module and the shapes of its variables: what ``Model``, the factory and
the folder reader all build from a :class:`~nif_zoo.models.config.ModelConfig` (this module
imports neither of them, so every arrow points here).
"""
from __future__ import annotations

from typing import Any, Dict

import jax
import jax.numpy as jnp

from nif_zoo.flows.base import Chain
from nif_zoo.models.architectures import architecture


def module_from_config(config) -> Chain:
    """The Flax module of a config: the kind's named layers in a :class:`Chain`."""
    named = architecture(config["kind"]).layers(config)
    return Chain(layers=tuple(layer for _, layer in named),
                 names=tuple(name for name, _ in named),
                 event_shape=tuple(config["image_shape"]),
                 elbo_samples=config.get("elbo_samples", 1),
                 iw_samples=config.get("iw_samples", 64))


def abstract_variables(config: Dict[str, Any], module=None):
    """The variables' structure, shapes and dtypes (``jax.ShapeDtypeStruct``), no compute:
    the target a checkpoint is restored into."""
    module = module_from_config(config) if module is None else module
    y = jnp.zeros((1,) + tuple(config["image_shape"]), jnp.float32)
    return jax.eval_shape(lambda: module.init(
        {"params": jax.random.key(0), "posterior": jax.random.key(1)}, y, method="log_density"))
