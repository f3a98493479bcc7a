"""Data parallelism with ``jax.sharding``: a 1-D mesh over devices, the batch split on it,
everything else replicated. The same code runs on 1 CPU, 8 GPUs or a multi-host TPU pod
(``maybe_initialize_distributed`` first, when launched multi-host)."""
from __future__ import annotations

import os

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

DATA_AXIS = "data"


def maybe_initialize_distributed():
    """``jax.distributed.initialize()`` when launched multi-host (coordinator set in the env)."""
    if os.environ.get("JAX_COORDINATOR_ADDRESS") or os.environ.get("NIF_ZOO_DISTRIBUTED"):
        jax.distributed.initialize()


def data_mesh(devices=None) -> Mesh:
    devices = list(jax.devices() if devices is None else devices)
    return Mesh(np.asarray(devices), (DATA_AXIS,))


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, PartitionSpec())


def batch_sharded(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, PartitionSpec(DATA_AXIS))


def replicate(tree, mesh: Mesh):
    return jax.device_put(tree, replicated(mesh))


def shard_batch(batch: np.ndarray, mesh: Mesh) -> jax.Array:
    """The global batch (the same on every host) as one array split over the mesh."""
    if batch.shape[0] % mesh.size:
        raise ValueError(f"batch size {batch.shape[0]} is not divisible by the {mesh.size} "
                         "devices; choose a multiple")
    sharding = batch_sharded(mesh)
    return jax.make_array_from_callback(batch.shape, sharding, lambda index: batch[index])


def weights_sharding(devices=None) -> jax.sharding.Sharding:
    """Where model weights go: ``None`` -> the first JAX device; a ``Sharding`` -> itself; a
    sequence of devices -> replicated over them."""
    if devices is None:
        return jax.sharding.SingleDeviceSharding(jax.devices()[0])
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
    return replicated(data_mesh(devices))
