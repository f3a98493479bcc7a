"""Data parallelism with ``jax.sharding``: a 1-D mesh over devices, the batch split on it,
everything else replicated. The same code runs on 1 CPU, both cores of a CPU (one XLA device per core,
:mod:`nif_zoo.devices`), 8 GPUs or several hosts.

Multi-host (JAX's multi-controller runtime): start the same command once per host (or per
GPU) with

    JAX_COORDINATOR_ADDRESS=host0:1234   # one reachable address, the same for all
    JAX_NUM_PROCESSES=2                  # how many processes in all
    JAX_PROCESS_ID=0                     # 0 .. JAX_NUM_PROCESSES - 1, one per process

:func:`maybe_initialize_distributed` then calls ``jax.distributed.initialize`` (CPU
processes exchange collectives over gloo). The mesh spans every process's devices; each
process reads only its own rows of every global batch (:func:`local_rows`,
:func:`shard_local_batch`); checkpoints go to one folder that every process sees (a shared
filesystem or bucket), written once by orbax's multi-process protocol.
"""
from __future__ import annotations

import os
import warnings

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from nif_zoo.devices import DATA_AXIS, batch_mesh


def maybe_initialize_distributed() -> bool:
    """``jax.distributed.initialize`` when launched multi-host (``JAX_COORDINATOR_ADDRESS``
    or ``NIF_ZOO_DISTRIBUTED`` set); True when this is a multi-process run."""
    address = os.environ.get("JAX_COORDINATOR_ADDRESS")
    if not (address or os.environ.get("NIF_ZOO_DISTRIBUTED")):
        return False
    if not jax.distributed.is_initialized():
        kwargs = {}
        if address:
            kwargs["coordinator_address"] = address
        for env, key in (("JAX_NUM_PROCESSES", "num_processes"),
                         ("JAX_PROCESS_ID", "process_id")):
            if os.environ.get(env):
                kwargs[key] = int(os.environ[env])
        # the CPU backend's cross-process collectives (no effect on GPU / TPU backends)
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        jax.distributed.initialize(**kwargs)
    return jax.process_count() > 1


def is_primary() -> bool:
    """Whether this process writes logs and configs (process 0)."""
    return jax.process_index() == 0


def data_mesh(devices=None, batch_size=None) -> Mesh:
    """The 1-D mesh of the batch axis: ``devices``, or by default every device (on a CPU one
    per core, :mod:`nif_zoo.devices`). A one-process run whose ``batch_size`` the default
    devices do not divide uses the most of them that do (with a warning); given devices
    must divide it (:func:`check_divisible`)."""
    if devices is None:
        devices = jax.devices()
        if batch_size is not None and jax.process_count() == 1:
            devices = devices[:dividing_count(len(devices), batch_size)]
    return batch_mesh(devices)


def dividing_count(num_devices: int, batch_size: int) -> int:
    """The most of ``num_devices`` that divide ``batch_size`` (a warning when not all)."""
    count = max(d for d in range(1, num_devices + 1) if batch_size % d == 0)
    if count < num_devices:
        warnings.warn(f"batch size {batch_size} is not divisible by the {num_devices} "
                      f"devices; training on {count} of them", RuntimeWarning, stacklevel=3)
    return count


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, PartitionSpec())


def batch_sharded(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, PartitionSpec(DATA_AXIS))


def replicate(tree, mesh: Mesh):
    """Every leaf replicated over the mesh (the same host values on every process)."""
    sharding = replicated(mesh)

    def put(leaf):
        host = np.asarray(jax.device_get(leaf))
        return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])

    return jax.tree.map(put, tree)


def local_copy(tree):
    """A replicated tree usable by this process alone (evaluation, logging): unchanged in a
    single-process run, else each array's copy on this process's first device."""
    if jax.process_count() == 1:
        return tree
    return jax.tree.map(lambda a: a.addressable_data(0) if isinstance(a, jax.Array) else a, tree)


def check_divisible(batch_size: int, mesh: Mesh):
    if batch_size % mesh.size:
        raise ValueError(f"batch size {batch_size} is not divisible by the {mesh.size} "
                         "devices; choose a multiple")


def local_rows(mesh: Mesh, batch_size: int) -> slice:
    """The rows of a global batch that this process's devices hold (contiguous)."""
    check_divisible(batch_size, mesh)
    index = batch_sharded(mesh).addressable_devices_indices_map((batch_size,))
    starts = [s[0].indices(batch_size)[0] for s in index.values()]
    stops = [s[0].indices(batch_size)[1] for s in index.values()]
    rows = slice(min(starts), max(stops))
    if rows.stop - rows.start != len(index) * (batch_size // mesh.size):
        raise ValueError("this process's devices do not hold contiguous rows of the batch")
    return rows


def shard_local_batch(local_batch: np.ndarray, mesh: Mesh, batch_size: int) -> jax.Array:
    """This process's rows (:func:`local_rows`) as its part of the global batch array."""
    shape = (batch_size,) + tuple(local_batch.shape[1:])
    return jax.make_array_from_process_local_data(batch_sharded(mesh), local_batch, shape)


def shard_batch(batch: np.ndarray, mesh: Mesh) -> jax.Array:
    """The global batch (the same on every host) as one array split over the mesh."""
    check_divisible(batch.shape[0], mesh)
    return shard_local_batch(batch[local_rows(mesh, batch.shape[0])], mesh, batch.shape[0])
