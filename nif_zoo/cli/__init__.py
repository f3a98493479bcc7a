"""The ``nif-zoo`` command line: one module per command (its parser and its run), the shared
options in :mod:`nif_zoo.cli.options`; the work is in the library.

Errors are one line on stderr and a non-zero exit; ``--debug`` shows the traceback.
``--no-progress`` (before or after the command) silences every progress bar.

To add a command: a module here with ``NAME``, ``add_parser(sub)`` and ``run(args)``, and
its name in ``COMMAND_MODULES``.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from nif_zoo.cli.train import train_config_from_args  # noqa: F401  (a helper of the API)

COMMAND_MODULES = ("list_models", "info", "sample", "reconstruct", "embed", "evaluate",
                   "refit_prior", "nifify", "interpolate", "ood", "tune_s", "compare",
                   "separability", "demo", "train", "export", "push", "publish", "reproduce",
                   "cards")
NO_COMPUTE = ("list", "cards", "push")  # commands that run no JAX program


def command_modules():
    return [importlib.import_module(f"nif_zoo.cli.{name}") for name in COMMAND_MODULES]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nif-zoo",
        description="Noisy injective flows (normalizing flows across dimensions) in JAX/Flax: "
                    "pretrained models by name, sampling at temperature t and noise scale s, "
                    "reconstruction, embeddings, training and evaluation.",
        epilog="Models load from checkpoints/ (bundled), the Hugging Face cache or the hub "
               "(HF_ENDPOINT, HF_HOME, HF_HUB_OFFLINE are honoured); every command that takes "
               "a model also takes a training run's folder.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress bars (tfds' included)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in command_modules():
        module.add_parser(sub).set_defaults(command_run=module.run)
    return parser


def use_the_cores():
    """One CPU device per usable core (:func:`nif_zoo.devices.use_all_cores`,
    ``NIF_ZOO_HOST_DEVICES`` chooses), before any command computes; from Python after JAX
    started (``main([...])`` in a session), the devices stay the caller's. And the random
    bits of JAX >= 0.5 on any JAX (:func:`nif_zoo.rng.newer_jax_random_bits`): a seed gives
    the same samples, and the cards' numbers reproduce, whichever JAX is installed."""
    from nif_zoo.devices import use_all_cores
    from nif_zoo.rng import newer_jax_random_bits

    newer_jax_random_bits()

    try:
        use_all_cores()
    except RuntimeError:
        pass


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command not in NO_COMPUTE:
            use_the_cores()
        args.command_run(args)
    except Exception as err:  # one clear line unless --debug
        if args.debug:
            raise
        print(f"nif-zoo {args.command}: error: {err}", file=sys.stderr)
        return 1
    return 0
