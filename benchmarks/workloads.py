"""What the benchmarks time, built one way: a fresh model and its jitted training step."""
from __future__ import annotations

import jax
import jax.numpy as jnp

import nif_zoo
from nif_zoo.models.factory import abstract_variables, model_config, module_from_config
from nif_zoo.recipe import DEFAULTS
from nif_zoo.train.loop import initial_state, make_optimizer, make_train_step


def training_step(kind: str, batch, *, levels: int, steps: int, width: int, **options):
    """(model, run): a model of ``kind`` for ``batch``'s image shape (seed 0, ActNorm
    initialised on the first 16 images) and ``run()``, one blocking training step
    (dequantise, loss, gradient, clipped Adam with the default optimiser; state donated;
    the batch split over the training run's devices)."""
    from nif_zoo.train import sharding

    model = nif_zoo.create_model(kind, image_shape=batch.shape[1:], levels=levels, steps=steps,
                                 width=width, seed=0, init_images=batch[:16], **options)
    optimizer = make_optimizer(DEFAULTS["train"])
    step = make_train_step(model.module, optimizer, 8, 0)
    # as nif_zoo.train.train runs it: the batch split over the run's devices (on a CPU one
    # per core, nif_zoo.devices), the state replicated (and donated: its own copy)
    mesh = sharding.data_mesh(None, len(batch))
    holder = {"state": sharding.replicate(
        initial_state(jax.tree.map(jnp.copy, model.variables), optimizer), mesh)}
    device_batch = sharding.shard_batch(batch, mesh)

    def run():
        holder["state"], metrics = step(holder["state"], device_batch)
        jax.block_until_ready(metrics["loss_bpd"])

    return model, run


def abstract_training_step(kind: str, *, image_shape, batch_size: int, **config_options):
    """(module, abstract variables, lower): ``lower()`` traces and lowers the jitted training
    step on abstract shapes (no weights are initialised), ready for ``.compile()`` or
    ``.cost_analysis()``."""
    config = model_config(kind, image_shape=image_shape, **config_options)
    module = module_from_config(config)
    variables = abstract_variables(config, module)
    optimizer = make_optimizer(DEFAULTS["train"])
    state = jax.eval_shape(lambda v: initial_state(v, optimizer), variables)
    batch = jax.ShapeDtypeStruct((batch_size,) + tuple(image_shape), jnp.uint8)
    return module, variables, lambda: make_train_step(module, optimizer, 8, 0).lower(state, batch)
