"""What a training step and a sampling call cost, known before anything trains: memory per
device (XLA's memory analysis of the compiled program), FLOPs per image (XLA's cost
analysis), parameters. Nothing is initialised: the programs are compiled on abstract shapes.

    cost = training_step_cost(config)              # a recipe (nif_zoo.recipe.make_config)
    cost.peak_bytes, cost.flops_per_image
    check_fits(cost, devices)                      # ValueError naming the numbers if not

Memory is per device for the run's mesh: the step is compiled for the devices it will run on
(batch split over them, everything else replicated), so on a GPU it is the GPU's own buffer
assignment, on a CPU the host's (an estimate of a GPU's: fusion differs). The peak is
arguments + outputs - donated (aliased) + temporaries.

FLOPs: XLA's cost analysis counts a loop body once, so a scanned Glow's K steps would count
as one; they are measured on the unrolled program at K = 1 and K = 2 (lowered, not
compiled: cheap) and extrapolated, exact because the cost is linear in K.
"""
from __future__ import annotations

import dataclasses
import math
import os
from typing import Any, Dict, Optional, Sequence

import jax
import jax.numpy as jnp

GiB = float(2 ** 30)


@dataclasses.dataclass(frozen=True)
class ProgramCost:
    what: str                 # "training step" or "sampling"
    batch_size: int           # the global batch
    devices: int              # the batch is split over this many
    params: int
    argument_bytes: int       # per device
    output_bytes: int
    alias_bytes: int          # arguments donated to outputs (the training state)
    temp_bytes: int
    flops_per_image: Optional[float] = None

    @property
    def peak_bytes(self) -> int:
        return self.argument_bytes + self.output_bytes - self.alias_bytes + self.temp_bytes

    def describe(self) -> str:
        return (f"{self.what} of batch {self.batch_size} on {self.devices} device(s): "
                f"{self.peak_bytes / GiB:.2f} GiB per device (arguments "
                f"{self.argument_bytes / GiB:.2f}, outputs {self.output_bytes / GiB:.2f}, "
                f"donated {self.alias_bytes / GiB:.2f}, temporaries {self.temp_bytes / GiB:.2f})")


def model_config_of(config: Dict[str, Any], **changes):
    """The ModelConfig of a recipe's model (``changes`` override model options)."""
    from nif_zoo.models.factory import model_config

    d, t = config["data"], config["train"]
    options = {**config["model"], **changes}
    return model_config(image_shape=tuple(d["image_shape"]), n_bits=d["n_bits"],
                        seed=t["seed"], **options)


def abstract_training(config: Dict[str, Any], **changes):
    """(module, abstract variables, optimizer, abstract state) of a recipe, no compute."""
    from nif_zoo.models.factory import abstract_variables, module_from_config
    from nif_zoo.train.loop import initial_state, make_optimizer

    model_cfg = model_config_of(config, **changes)
    module = module_from_config(model_cfg)
    variables = abstract_variables(model_cfg, module)
    optimizer = make_optimizer(config["train"])
    ema = bool(config["train"].get("ema_decay"))
    state = jax.eval_shape(lambda v: initial_state(v, optimizer, ema), variables)
    return module, variables, optimizer, state


def placed(tree, sharding):
    return jax.tree.map(lambda s: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=sharding), tree)


def mesh_shardings(devices, batch_size=None):
    """(replicated, batch-split, device count) over ``devices`` (default: the training run's
    mesh for ``batch_size``, :func:`nif_zoo.train.sharding.data_mesh`)."""
    from nif_zoo.train import sharding

    mesh = sharding.data_mesh(devices, batch_size)
    return sharding.replicated(mesh), sharding.batch_sharded(mesh), mesh.size


def lowered_training_step(config: Dict[str, Any], devices=None, batch_size=None, **changes):
    """The run's jitted training step lowered on abstract shapes over ``devices``."""
    from nif_zoo.train.loop import make_train_step

    module, _, optimizer, state = abstract_training(config, **changes)
    batch_size = batch_size or config["train"]["batch_size"]
    replicated, split, _ = mesh_shardings(devices, batch_size)
    batch = jax.ShapeDtypeStruct((batch_size,) + tuple(config["data"]["image_shape"]),
                                 jnp.uint8, sharding=split)
    step = make_train_step(module, optimizer, config["data"]["n_bits"], config["train"]["seed"],
                           config["train"].get("ema_decay", 0.0),
                           float(config["model"].get("data_noise") or 0.0))
    return step.lower(placed(state, replicated), batch)


def flops_per_image(lower_at_steps, steps: int, batch_size: int) -> float:
    """FLOPs per image of a program whose cost is linear in the Glow's K: ``lower_at_steps(k)``
    lowers it unrolled with K = k (see the module docstring)."""
    one = lower_at_steps(1).cost_analysis()["flops"]
    two = lower_at_steps(2).cost_analysis()["flops"]
    return (one + (steps - 1) * (two - one)) / batch_size


def memory_of(compiled):
    stats = compiled.memory_analysis()
    return dict(argument_bytes=int(stats.argument_size_in_bytes),
                output_bytes=int(stats.output_size_in_bytes),
                alias_bytes=int(stats.alias_size_in_bytes),
                temp_bytes=int(stats.temp_size_in_bytes))


def one_device(devices):
    """FLOPs are counted on the whole batch on one device (before any partitioning)."""
    return [list(devices)[0] if devices else jax.devices()[0]]


def count_params(variables) -> int:
    return sum(math.prod(v.shape) for v in jax.tree.leaves(variables["params"]))


def training_step_cost(config: Dict[str, Any], devices=None, *, flops: bool = True,
                       batch_size: Optional[int] = None, **changes) -> ProgramCost:
    """Memory per device of the recipe's training step over ``devices`` (default: the run's,
    every device) and, with ``flops``, its FLOPs per image. ``changes``: model options
    (e.g. ``remat=True``)."""
    _, variables, _, _ = abstract_training(config, **changes)
    batch_size = batch_size or config["train"]["batch_size"]
    compiled = lowered_training_step(config, devices, batch_size, **changes).compile()
    per_image = None
    if flops:
        steps = config["model"]["steps"]
        per_image = flops_per_image(
            lambda k: lowered_training_step(config, one_device(devices), batch_size,
                                            **{**changes, "steps": k, "scan": False}),
            steps, batch_size)
    return ProgramCost("training step", batch_size, mesh_shardings(devices, batch_size)[2],
                       count_params(variables), **memory_of(compiled),
                       flops_per_image=per_image)


def lowered_sampling(config: Dict[str, Any], devices=None, batch_size: int = 256, **changes):
    """``Model.sample``'s decode at s = 0 (the latent -> image program) on abstract shapes."""
    from nif_zoo.models.model import Model

    model_cfg = model_config_of(config, **changes)
    _, variables, _, _ = abstract_training(config, **changes)
    model = Model(model_cfg, None)
    replicated, split, _ = mesh_shardings(devices, batch_size)
    latent = jax.ShapeDtypeStruct((batch_size, model.latent_dim), jnp.float32, sharding=split)
    return model._decode_on_manifold.lower(placed(variables, replicated), latent)


def sampling_cost(config: Dict[str, Any], devices=None, *, batch_size: int = 256,
                  flops: bool = True, **changes) -> ProgramCost:
    """Memory per device and FLOPs per image of sampling ``batch_size`` images (the default
    batch of ``Model.sample``)."""
    _, variables, _, _ = abstract_training(config, **changes)
    compiled = lowered_sampling(config, devices, batch_size, **changes).compile()
    per_image = None
    if flops:
        per_image = flops_per_image(
            lambda k: lowered_sampling(config, one_device(devices), batch_size,
                                       **{**changes, "steps": k, "scan": False}),
            config["model"]["steps"], batch_size)
    return ProgramCost("sampling", batch_size, mesh_shardings(devices, batch_size)[2],
                       count_params(variables), **memory_of(compiled), flops_per_image=per_image)


def device_memory(device) -> Optional[int]:
    """Bytes one device can hold: an accelerator's ``bytes_limit``; a CPU device its share
    of the host's physical memory (CPU devices share it); None when unknown."""
    stats = None
    try:
        stats = device.memory_stats()
    except Exception:  # noqa: BLE001 - backends without memory stats raise various errors
        stats = None
    if stats and stats.get("bytes_limit"):
        return int(stats["bytes_limit"])
    if device.platform == "cpu":
        try:
            host = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError, AttributeError):
            return None
        return host // max(1, len([d for d in jax.local_devices() if d.platform == "cpu"]))
    return None


def run_devices(batch_size: int):
    """The devices a training run of ``batch_size`` uses by default."""
    from nif_zoo.train import sharding

    return list(sharding.data_mesh(None, batch_size).devices.flat)


def check_fits(cost: ProgramCost, devices: Sequence, name: str = "the model",
               headroom: float = 0.9) -> Optional[int]:
    """Raise ``ValueError`` naming the numbers when ``cost`` needs more than ``headroom`` of
    the smallest of ``devices``' memory; returns that memory (None: unknown, not checked)."""
    capacities = [device_memory(d) for d in devices]
    if not capacities or any(c is None for c in capacities):
        return None
    capacity = min(capacities)
    if cost.peak_bytes > headroom * capacity:
        raise ValueError(
            f"{name}: a {cost.describe()}; the devices here ({devices[0].device_kind}) have "
            f"{capacity / GiB:.1f} GiB each ({headroom:.0%} usable). Use a smaller "
            f"train.batch_size, model.remat=true (recompute each Glow step's activations), "
            f"or more devices")
    return capacity
