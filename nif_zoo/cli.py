"""The ``nif-zoo`` command line: argument parsing only; the work is in the library.

Errors are one line on stderr and a non-zero exit; ``--debug`` shows the traceback.
"""
from __future__ import annotations

import argparse
import sys


def parse_shape(text: str):
    try:
        shape = tuple(int(v) for v in text.replace("x", ",").split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"image shape must look like 32,32,1; got {text!r}")
    if len(shape) != 3:
        raise argparse.ArgumentTypeError(f"image shape needs H,W,C; got {text!r}")
    return shape


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nif-zoo",
        description="Noisy injective flows (normalizing flows across dimensions) in JAX/Flax.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True)

    sample = sub.add_parser(
        "sample", help="sample images to a PNG grid",
        description="Sample images from a model at temperature t and noise scale s and save "
                    "them as a PNG grid. Until pretrained weights are bundled this builds a "
                    "freshly initialised (untrained) model from the size flags.")
    sample.add_argument("--kind", choices=["nf", "nif", "deep_nif"], default="nif",
                        help="model kind (nif)")
    sample.add_argument("--image-shape", type=parse_shape, default=(32, 32, 1),
                        help="H,W,C (32,32,1)")
    sample.add_argument("--levels", type=int, default=3, help="Glow levels L (3)")
    sample.add_argument("--steps", type=int, default=4, help="flow steps K per level (4)")
    sample.add_argument("--width", type=int, default=64, help="coupling network width (64)")
    sample.add_argument("--latent-dim", type=int, default=64, help="NIF latent size M (64)")
    sample.add_argument("--prior", choices=["dense", "upsample"], default="dense",
                        help="the Gaussian NIF's form (dense)")
    sample.add_argument("--num", type=int, default=16, help="number of images (16)")
    sample.add_argument("--temperature", "-t", type=float, default=0.7,
                        help="prior temperature t (0.7)")
    sample.add_argument("--s", type=float, default=0.0,
                        help="noise scale s: 0 = on the manifold, 1 = trained model (0)")
    sample.add_argument("--seed", type=int, default=0, help="random seed (0)")
    sample.add_argument("--scale", type=int, default=4, help="upscale factor for viewing (4)")
    sample.add_argument("--out", default="samples.png", help="output PNG (samples.png)")
    train = sub.add_parser(
        "train", help="train a model (NF, NIF) with checkpoints; resumable",
        description="Train per a JSON/YAML config (sections model, data, train; see "
                    "nif_zoo.train.config) with flags overriding it. Writes config.json, "
                    "model.json, metrics.jsonl and orbax checkpoints to --out.")
    train.add_argument("--config", help="JSON or YAML config file")
    train.add_argument("--out", default="runs/default", help="output folder (runs/default)")
    train.add_argument("--resume", action="store_true",
                       help="continue from the latest checkpoint in --out")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    for flag, section, key, typ, text in TRAIN_FLAGS:
        train.add_argument(flag, dest=f"{section}.{key}", type=typ, default=None,
                           metavar=flag[2:].upper().replace("-", "_"),
                           help=f"{text} (config {section}.{key})")
    return parser


TRAIN_FLAGS = [
    ("--kind", "model", "kind", str, "nf or nif"),
    ("--latent-dim", "model", "latent_dim", int, "NIF latent size M"),
    ("--prior", "model", "prior", str, "NIF prior: dense or upsample"),
    ("--levels", "model", "levels", int, "Glow levels L"),
    ("--flow-steps", "model", "steps", int, "flow steps K per level"),
    ("--width", "model", "width", int, "coupling network width"),
    ("--dataset", "data", "dataset", str, "mnist, lfw_faces, fashion_mnist, cifar10, celeba, folder"),
    ("--data-dir", "data", "data_dir", str, "folder of images (no TensorFlow needed)"),
    ("--image-shape", "data", "image_shape", parse_shape, "H,W,C"),
    ("--n-bits", "data", "n_bits", int, "bits per pixel value"),
    ("--fit", "data", "fit", str, "pad, crop, resize or stride_crop to image shape"),
    ("--limit", "data", "limit", int, "use the first N training images"),
    ("--flip", "data", "flip", lambda v: v.lower() in ("1", "true", "yes"), "flip augmentation"),
    ("--batch-size", "train", "batch_size", int, "global batch size"),
    ("--steps", "train", "steps", int, "training steps"),
    ("--lr", "train", "learning_rate", float, "Adam learning rate"),
    ("--warmup", "train", "warmup_steps", int, "linear warmup steps"),
    ("--seed", "train", "seed", int, "seed of init, data order and noise"),
    ("--checkpoint-every", "train", "checkpoint_every", int, "steps between checkpoints"),
    ("--eval-every", "train", "eval_every", int, "steps between test bits/dim (0: at the end)"),
]


def train_config_from_args(args):
    from nif_zoo.train.config import DEFAULTS, load_config

    config = load_config(args.config) if args.config else {k: dict(v) for k, v in DEFAULTS.items()}
    for _, section, key, _, _ in TRAIN_FLAGS:
        value = getattr(args, f"{section}.{key}")
        if value is not None:
            config[section][key] = list(value) if key == "image_shape" else value
    if config["model"].get("kind") == "nf" and getattr(args, "model.latent_dim") is None:
        config["model"].pop("latent_dim", None)  # the default M is a NIF's
    return config


def run_train(args):
    from nif_zoo.train import train

    result = train(train_config_from_args(args), args.out, resume=args.resume,
                   progress=not args.no_progress)
    evals = [h for h in result.history if "eval_bpd" in h]
    summary = f"; {evals[-1]['eval_split']} bits/dim {evals[-1]['eval_bpd']:.4f}" if evals else ""
    print(f"trained {result.model} to step {result.final_step} in {args.out}{summary}")


def run_sample(args) -> str:
    import nif_zoo
    from nif_zoo.evaluate.images import image_grid, save_png

    form_option = "prior" if args.kind == "nif" else "nif"
    options = {} if args.kind == "nf" else {"latent_dim": args.latent_dim, form_option: args.prior}
    model = nif_zoo.create_model(args.kind, image_shape=args.image_shape, levels=args.levels,
                                 steps=args.steps, width=args.width, seed=args.seed, **options)
    print(f"note: {model} has untrained weights (no pretrained model bundled yet)",
          file=sys.stderr)
    images = model.sample(args.num, temperature=args.temperature, s=args.s, seed=args.seed)
    path = save_png(args.out, image_grid(images, n_bits=model.n_bits, scale=args.scale))
    print(f"wrote {args.num} samples (t={args.temperature}, s={args.s}) to {path}")
    return path


COMMANDS = {"sample": run_sample, "train": run_train}


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        COMMANDS[args.command](args)
    except Exception as err:  # one clear line unless --debug
        if args.debug:
            raise
        print(f"nif-zoo {args.command}: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
