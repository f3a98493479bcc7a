"""Orbax checkpoints of a training run under ``out_dir/checkpoints/<step>``: the state
pytree (step, params, constants, optimiser state) and a JSON record of the run (its
config, the data position and how every random key derives from the seed and step). Orbax writes each checkpoint to a
temporary folder and renames it when complete, so a kill during a save leaves the
previous checkpoint intact; an unfinished one is ignored on restore. The run's config
(``config.json``), model config (``model.json``) and metrics log (``metrics.jsonl``)
sit next to it."""
from __future__ import annotations

import os

import jax
import orbax.checkpoint as ocp


ITEMS = ("state", "record")  # the arrays, and the run's JSON record


def manager(out_dir: str, keep: int = 2) -> ocp.CheckpointManager:
    options = ocp.CheckpointManagerOptions(max_to_keep=max(1, keep),
                                           enable_async_checkpointing=False, create=True)
    # the two items named: orbax < 0.7 otherwise takes a manager for one unnamed item
    return ocp.CheckpointManager(os.path.join(os.path.abspath(out_dir), "checkpoints"),
                                 options=options, item_names=ITEMS)


def save(mngr: ocp.CheckpointManager, step: int, state, record) -> None:
    mngr.save(step, args=ocp.args.Composite(state=ocp.args.StandardSave(state),
                                            record=ocp.args.JsonSave(record)), force=True)
    mngr.wait_until_finished()


def read_record(mngr: ocp.CheckpointManager, step=None):
    """The JSON record saved with the latest (or ``step``) checkpoint."""
    step = mngr.latest_step() if step is None else step
    return mngr.restore(step, args=ocp.args.Composite(record=ocp.args.JsonRestore()))["record"]


def abstract(tree):
    """Arrays -> ``jax.ShapeDtypeStruct`` with the same shape, dtype and sharding."""
    return jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=a.sharding),
                        tree)


def restore(mngr: ocp.CheckpointManager, target, step=None):
    """Restore the latest (or ``step``) state into ``target``'s structure, dtypes and
    shardings (a pytree of ``jax.ShapeDtypeStruct``, see :func:`abstract`)."""
    step = mngr.latest_step() if step is None else step
    if step is None:
        raise FileNotFoundError(f"no checkpoint in {mngr.directory}")
    return mngr.restore(step, args=ocp.args.Composite(
        state=ocp.args.StandardRestore(target)))["state"]
