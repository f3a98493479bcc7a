"""Which devices nif-zoo computes on, and the one call that gives it the whole CPU.

``import nif_zoo`` changes nothing: JAX runs a CPU as one device (its threads spread over the
cores), as it would without nif-zoo. XLA:CPU is faster on a multi-core CPU with one device per
core and every batch split over them (data parallel: :mod:`nif_zoo.train.sharding` for
training, ``Model`` for sampling, evaluation, embedding and refits): training 2.01x one core
against 1.76x for one device on the same 2 cores (``python -m benchmarks.host_devices``,
BENCHMARKS.md). :func:`use_all_cores` asks JAX for that; call it before JAX runs anything::

    import nif_zoo
    nif_zoo.use_all_cores()      # one CPU device per usable core (taskset -c 0: one)

The ``nif-zoo`` command calls it when it starts (``NIF_ZOO_HOST_DEVICES=N`` asks for N,
``=1`` or ``off`` keeps one device); benchmarks and the test suite call it themselves.
A count the user chose for JAX (``JAX_NUM_CPU_DEVICES``, ``XLA_FLAGS=--xla_force_host_
platform_device_count=...``) wins. Results do not depend on the device count: every random
draw comes from the example's own key (``fold_in(key, index)``), only float rounding may
differ (~1e-6).

On GPU / TPU the accelerators are the devices, and a model's weights are replicated over all
local ones (``NIF_ZOO_DATA_PARALLEL=0``: the first one only).

This module imports no JAX until :func:`use_all_cores` runs.
"""
from __future__ import annotations

import os
from typing import Optional

HOST_DEVICES_ENV = "NIF_ZOO_HOST_DEVICES"
DATA_PARALLEL_ENV = "NIF_ZOO_DATA_PARALLEL"
FORCE_FLAG = "--xla_force_host_platform_device_count"
OFF = ("0", "off", "false", "no")


def usable_cores() -> int:
    """Cores this process may run on (its affinity mask; ``os.cpu_count()`` elsewhere)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def describe_hardware(devices) -> str:
    """What a computation over ``devices`` (JAX devices, every process's) runs on, in words:
    ``"1 CPU core (x86_64)"`` (the cores this process may use: one CPU device per core or
    one device for all of them), ``"8 x NVIDIA H100 80GB HBM3"``; the process count where
    there are several."""
    import platform

    devices = list(devices)
    processes = len({d.process_index for d in devices})
    if devices[0].platform == "cpu":
        cores = usable_cores() * processes
        text = f"{cores} CPU core{'s' if cores > 1 else ''} ({platform.machine()})"
    else:
        text = f"{len(devices)} x {devices[0].device_kind}"
    return text + (f", {processes} processes" if processes > 1 else "")


def requested_host_devices() -> int:
    """How many CPU devices :func:`use_all_cores` asks for by default:
    ``NIF_ZOO_HOST_DEVICES`` or the usable cores."""
    value = os.environ.get(HOST_DEVICES_ENV, "").strip().lower()
    if not value:
        return usable_cores()
    if value in OFF:
        return 1
    try:
        count = int(value)
    except ValueError:
        count = 0
    if count < 1:
        raise ValueError(f"{HOST_DEVICES_ENV} must be a positive integer or 'off'; got "
                         f"{os.environ[HOST_DEVICES_ENV]!r}")
    return count


def user_chose_host_devices() -> bool:
    """Whether the environment already tells JAX how many CPU devices to make."""
    return bool(os.environ.get("JAX_NUM_CPU_DEVICES")) or FORCE_FLAG in os.environ.get(
        "XLA_FLAGS", "")


def use_all_cores(count: Optional[int] = None) -> int:
    """Ask JAX for ``count`` CPU devices (default: :func:`requested_host_devices`, one per
    usable core) and return the number asked for; 0 when the environment already chose
    (that choice stands). Calling it again with the same count is harmless.

    Raises:
        ValueError: ``count`` is not a positive integer.
        RuntimeError: JAX already runs with another number of CPU devices (it fixes them
            when it first computes): call this before any JAX operation.
    """
    if count is None:
        count = requested_host_devices()
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"count must be a positive integer; got {count!r}")
    if user_chose_host_devices():
        return 0
    import jax

    try:
        jax.config.update("jax_num_cpu_devices", count)
    except AttributeError:  # a JAX without the option (before 0.4.38): the XLA flag
        return force_host_device_count(count)
    except RuntimeError as err:  # the backends already run
        already_running(count, err)
    return count


def already_running(count: int, err: Optional[Exception] = None) -> None:
    """Return if JAX's running CPU backend has ``count`` devices, else a clear error."""
    import jax

    running = len(jax.local_devices(backend="cpu"))
    if running == count:
        return
    raise RuntimeError(
        f"nif_zoo.use_all_cores({count}): JAX already runs on {running} CPU device(s), "
        "which it fixed when it first computed; call use_all_cores() before any JAX "
        "operation (right after the imports)") from err


def force_host_device_count(count: int) -> int:
    """:func:`use_all_cores` on a JAX without ``jax_num_cpu_devices``: XLA's
    ``--xla_force_host_platform_device_count`` flag in ``XLA_FLAGS`` (read when the CPU
    backend starts, so only before it has; child processes inherit it)."""
    from jax._src import xla_bridge

    if xla_bridge.backends_are_initialized():
        already_running(count)
        return count
    flags = os.environ.get("XLA_FLAGS", "")
    os.environ["XLA_FLAGS"] = f"{flags} {FORCE_FLAG}={count}".strip()
    return count


DATA_AXIS = "data"  # the batch axis of every mesh nif-zoo builds


def batch_mesh(devices):
    """The 1-D mesh of the batch axis over ``devices`` (the one mesh builder: training,
    models and restored weights all use it)."""
    import jax
    import numpy as np

    return jax.sharding.Mesh(np.asarray(list(devices)), (DATA_AXIS,))


def replicated_sharding(devices):
    """Every array whole on each of ``devices``."""
    import jax

    return jax.sharding.NamedSharding(batch_mesh(devices), jax.sharding.PartitionSpec())


def batch_sharding(devices):
    """Arrays split along their first axis over ``devices``."""
    import jax

    return jax.sharding.NamedSharding(batch_mesh(devices), jax.sharding.PartitionSpec(DATA_AXIS))


def data_parallel() -> bool:
    """Whether models split batches over all local devices (``NIF_ZOO_DATA_PARALLEL``)."""
    return os.environ.get(DATA_PARALLEL_ENV, "1").strip().lower() not in OFF


def default_devices():
    """The devices a loaded or fresh model computes on: every local device of JAX's default
    backend (data parallel), or the first alone with ``NIF_ZOO_DATA_PARALLEL=0``."""
    import jax

    devices = jax.local_devices()
    return devices if data_parallel() else devices[:1]
