"""Which devices nif-zoo computes on by default: the whole machine.

XLA:CPU runs a program as one device. One device per core, with every batch split over
them (data parallel, :mod:`nif_zoo.train.sharding` for training, ``Model`` for sampling,
evaluation, embedding and refits), is faster on a multi-core CPU (``BENCHMARKS.md``), so
``import nif_zoo`` asks JAX for as many CPU devices as this process may use cores
(``os.sched_getaffinity``: ``taskset -c 0`` gives one), before JAX's backends start:

* through the environment variable ``JAX_NUM_CPU_DEVICES`` when JAX is not imported yet
  (JAX reads it once, on import; nif-zoo then removes it again, so child processes choose
  their own devices; a child started before this process imported JAX inherits it, marked
  as nif-zoo's by ``NIF_ZOO_SET_JAX_NUM_CPU_DEVICES``, and its own ``import nif_zoo``
  drops it rather than taking it for the user's choice), or
* through ``jax.config.update("jax_num_cpu_devices", n)`` when it is imported but has not
  run anything yet.

Nothing is changed when the user already chose (``JAX_NUM_CPU_DEVICES``,
``jax_num_cpu_devices`` or ``XLA_FLAGS=--xla_force_host_platform_device_count=...``), or
when JAX's backends already run (then the devices are what they are).
``NIF_ZOO_HOST_DEVICES=1`` (or ``0``/``off``) keeps one CPU device; ``NIF_ZOO_HOST_DEVICES=N``
asks for N. Results do not depend on the device count: every random draw comes from the
example's own key (``fold_in(key, index)``), only float rounding may differ (~1e-6).

On GPU / TPU this changes nothing: the accelerators are the devices, and a model's weights
are replicated over all local ones (``NIF_ZOO_DATA_PARALLEL=0``: the first one only).

This module imports no JAX.
"""
from __future__ import annotations

import os
import sys

HOST_DEVICES_ENV = "NIF_ZOO_HOST_DEVICES"
DATA_PARALLEL_ENV = "NIF_ZOO_DATA_PARALLEL"
FORCE_FLAG = "--xla_force_host_platform_device_count"
OFF = ("0", "off", "false", "no")
# set beside JAX_NUM_CPU_DEVICES when nif-zoo sets it: the value is nif-zoo's, not the user's
REQUEST_MARK_ENV = "NIF_ZOO_SET_JAX_NUM_CPU_DEVICES"


def usable_cores() -> int:
    """Cores this process may run on (its affinity mask; ``os.cpu_count()`` elsewhere)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def requested_host_devices() -> int:
    """How many CPU devices nif-zoo asks for: ``NIF_ZOO_HOST_DEVICES`` or the usable cores."""
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
    if os.environ.get("JAX_NUM_CPU_DEVICES") or FORCE_FLAG in os.environ.get("XLA_FLAGS", ""):
        return True
    jax = sys.modules.get("jax")
    return jax is not None and jax.config.jax_num_cpu_devices != -1


def drop_request(value: str):
    """Remove nif-zoo's request for ``value`` CPU devices (the variable and its mark) where
    the environment still holds it."""
    for key in ("JAX_NUM_CPU_DEVICES", REQUEST_MARK_ENV):
        if os.environ.get(key) == value:
            del os.environ[key]


def forget_inherited_request():
    """Drop a ``JAX_NUM_CPU_DEVICES`` that a parent nif-zoo set (it carries the mark) and
    this process inherited before JAX read it: the choice is this process's to make."""
    value = os.environ.get("JAX_NUM_CPU_DEVICES")
    if "jax" not in sys.modules and value is not None and os.environ.get(REQUEST_MARK_ENV) == value:
        drop_request(value)


def configure_host_devices() -> int:
    """Ask for one CPU device per usable core (see the module docstring) unless the user
    chose or JAX already runs. Returns the count asked for (0: nothing changed)."""
    forget_inherited_request()
    if user_chose_host_devices():
        return 0
    count = requested_host_devices()
    jax = sys.modules.get("jax")
    if jax is None:
        os.environ["JAX_NUM_CPU_DEVICES"] = os.environ[REQUEST_MARK_ENV] = str(count)
        sys.meta_path.insert(0, ForgetOnceJaxReadIt(str(count)))
        return count
    from jax._src import xla_bridge  # no public query; the config's own validator uses it

    if xla_bridge.backends_are_initialized():
        return 0
    jax.config.update("jax_num_cpu_devices", count)
    return count


class ForgetOnceJaxReadIt:
    """An import-system finder that finds nothing: at the first import after JAX has read
    ``JAX_NUM_CPU_DEVICES`` (its option exists), it removes the variable it was given and
    itself, so nif-zoo's choice stays in this process."""

    def __init__(self, value: str):
        self.value = value

    def find_spec(self, fullname, path=None, target=None):
        bridge = sys.modules.get("jax._src.xla_bridge")
        if bridge is not None and hasattr(bridge, "num_cpu_devices"):
            drop_request(self.value)
            if self in sys.meta_path:
                sys.meta_path.remove(self)
        return None


def data_parallel() -> bool:
    """Whether models split batches over all local devices (``NIF_ZOO_DATA_PARALLEL``)."""
    return os.environ.get(DATA_PARALLEL_ENV, "1").strip().lower() not in OFF


def default_devices():
    """The devices a loaded or fresh model computes on: every local device of JAX's default
    backend (data parallel), or the first alone with ``NIF_ZOO_DATA_PARALLEL=0``."""
    import jax

    devices = jax.local_devices()
    return devices if data_parallel() else devices[:1]
