"""Options and helpers shared by the ``nif-zoo`` commands: argument types, the flags several
commands take (defined once here), and how a command's model argument becomes a Model."""
from __future__ import annotations

import argparse
import json
import os
from typing import Any, Dict, Optional, Tuple


# ------------------------------------------------------------ argument types
def parse_shape(text: str):
    try:
        shape = tuple(int(v) for v in text.replace("x", ",").split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"image shape must look like 32,32,1; got {text!r}")
    if len(shape) != 3:
        raise argparse.ArgumentTypeError(f"image shape needs H,W,C; got {text!r}")
    return shape


def parse_bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected on/off (true/false, yes/no, 1/0); got {text!r}")


def parse_floats(text: str):
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers; got {text!r}")


# ------------------------------------------------------------ shared flags
MODEL_HELP = ("a zoo name (nif-zoo list), a Hugging Face repo id owner/name, a folder written "
              "by save_pretrained or nif-zoo export, or a training run's folder (nif-zoo train "
              "--out: its moving-average weights)")


def add_model_argument(sub, metavar: str = "MODEL"):
    sub.add_argument("model", metavar=metavar, help=MODEL_HELP)
    sub.add_argument("--revision", default=None,
                     help="hub branch, tag or commit (skips the bundled copy)")


def add_image_file_arguments(sub, out: str):
    """How image files are read (--fit) and the PNG written (--scale, --out)."""
    sub.add_argument("--fit", default="resize", help="pad, crop, resize (default) or "
                                                     "stride_crop to the model's image shape")
    sub.add_argument("--scale", type=int, default=4, help="upscale factor for viewing (4)")
    sub.add_argument("--out", default=out, help=f"output PNG ({out})")


def add_dataset_arguments(sub):
    from nif_zoo.data.sources import SOURCES

    sub.add_argument("--dataset", default=None,
                     help=f"{', '.join(SOURCES)} (default: the model's training data)")
    sub.add_argument("--data-dir", default=None, help="folder of images (--dataset folder, "
                                                      "or any dataset without TensorFlow)")
    sub.add_argument("--split", default="test", help="split (test)")
    sub.add_argument("--limit", type=int, default=None, help="first N images of the split")


def add_closed_form_fit_arguments(sub, what: str):
    """The flags of a closed-form fit on the training split (refit-prior, nifify)."""
    sub.add_argument("--out", required=True, help=f"folder for {what}")
    sub.add_argument("--iterations", type=int, default=100, help="most EM steps (100)")
    sub.add_argument("--tol", type=float, default=1e-3,
                     help="stop when an EM step gains less (nats/image; 1e-3)")
    sub.add_argument("--train-limit", type=int, default=None,
                     help="first N training images (default: all)")
    sub.add_argument("--test-limit", type=int, default=1000,
                     help="held-out images for the before/after numbers (1000)")
    sub.add_argument("--seed", type=int, default=0, help="dequantisation noise seed (0)")


def add_fid_arguments(sub, default_samples: int):
    sub.add_argument("--num-samples", type=int, default=default_samples,
                     help=f"generated images per reported (test) FID ({default_samples})")
    sub.add_argument("--sweep-samples", type=int, default=None,
                     help="generated images per FID of the s sweep (default: --num-samples)")
    sub.add_argument("--s-grid", type=parse_floats, default=None,
                     help="s values to sweep, comma separated (the authors': 15 values in "
                          "0..1.2, used as s of N(0, s Sigma))")
    sub.add_argument("--temperature", "-t", type=float, default=1.0,
                     help="sampling temperature for FID (1.0, as the authors)")
    sub.add_argument("--train-ref", type=int, default=2000,
                     help="training images for the s sweep's reference (2000)")
    sub.add_argument("--test-ref", type=int, default=2000,
                     help="test images for the reported FIDs (2000)")
    sub.add_argument("--seed", type=int, default=0, help="sweep seed; test samples use +1")
    sub.add_argument("--device", default="cpu", help="torch device for Inception (cpu)")


def add_progress_argument(sub):
    """``--no-progress`` after the command (also accepted before it, for every command)."""
    sub.add_argument("--no-progress", action="store_true", default=argparse.SUPPRESS,
                     help="no progress bars (tfds' included)")


def progress(args) -> bool:
    """Whether the command shows progress bars (not with ``--no-progress``)."""
    return not getattr(args, "no_progress", False)


def s_values(args):
    from nif_zoo.evaluate.compare import PAPER_S_GRID

    values = PAPER_S_GRID if args.s_grid is None else args.s_grid
    if not values or any(not v >= 0 for v in values):
        raise ValueError(f"--s-grid needs values >= 0; got {values}")
    return values


# ------------------------------------------------------------ a command's model
def is_training_run(path: str) -> bool:
    """A ``nif-zoo train --out`` folder: its config.json, model.json and checkpoints/."""
    return (os.path.isfile(os.path.join(path, "config.json"))
            and os.path.isfile(os.path.join(path, "model.json"))
            and os.path.isdir(os.path.join(path, "checkpoints")))


def load_model(name: str, revision: Optional[str] = None) -> Tuple[Any, Optional[Dict[str, Any]]]:
    """(Model, its training record or None) for a zoo name, hub repo id, pretrained folder
    (verified; the record is its training.json) or training run folder (the moving average of
    its latest checkpoint; the record is the run's config)."""
    from nif_zoo.cache import enable_compilation_cache
    from nif_zoo.models import pretrained

    enable_compilation_cache()
    if os.path.isdir(name) and is_training_run(name):
        from nif_zoo.train import load_trained

        with open(os.path.join(name, "config.json")) as fh:
            return load_trained(name), json.load(fh)
    from nif_zoo.zoo import hub

    folder = hub.resolve(name, revision=revision)
    return (hub.load_pretrained(folder, verified=True),
            pretrained.read_json(folder, pretrained.TRAINING))


def zoo_defaults(training: Optional[Dict[str, Any]]):
    """(temperature, s, denoise) the model's training record recommends (its ``zoo``
    section), else the recipe defaults (0.7, 0, no score step)."""
    from nif_zoo.recipe import DEFAULTS

    zoo = {**DEFAULTS["zoo"], **((training or {}).get("zoo") or {})}
    return zoo["temperature"], zoo["s"], zoo["denoise"]


def model_data_config(name: str, model, training, dataset=None, data_dir=None):
    """The data section to evaluate/embed on: ``dataset``, else the training record's."""
    if dataset is None and training is None:
        raise ValueError(f"{name} does not record its training data; pass --dataset")
    data = dict(training["data"]) if training else {"fit": None, "data_dir": None}
    data.update(image_shape=list(model.image_shape), n_bits=model.n_bits)
    if dataset is not None:
        data.update(dataset=dataset, data_dir=data_dir, fit=None)
    return data


def read_image_files(paths, model, fit):
    from nif_zoo.data.preprocess import reduce_bits
    from nif_zoo.data.sources import read_images

    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        raise FileNotFoundError(f"no such image file: {missing[0]}")
    images, kept = read_images(paths, model.image_shape, fit)
    return reduce_bits(images, model.n_bits), [paths[i] for i in kept]


def chunked(model_fn, images, what: str, chunk: int = 1024, show: bool = True):
    """``model_fn`` over chunks of ``images`` with a progress bar (``show``); results
    concatenated."""
    import numpy as np
    from tqdm.auto import tqdm

    outs = []
    with tqdm(total=len(images), unit="img", desc=what,
              disable=not show or len(images) <= chunk) as bar:
        for start in range(0, len(images), chunk):
            outs.append(model_fn(images[start: start + chunk]))
            bar.update(len(outs[-1]))
    return np.concatenate(outs)
