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
    sample.add_argument("--kind", choices=["nf", "nif"], default="nif", help="model kind (nif)")
    sample.add_argument("--image-shape", type=parse_shape, default=(32, 32, 1),
                        help="H,W,C (32,32,1)")
    sample.add_argument("--levels", type=int, default=3, help="Glow levels L (3)")
    sample.add_argument("--steps", type=int, default=4, help="flow steps K per level (4)")
    sample.add_argument("--width", type=int, default=64, help="coupling network width (64)")
    sample.add_argument("--latent-dim", type=int, default=64, help="NIF latent size M (64)")
    sample.add_argument("--prior", choices=["dense", "upsample"], default="dense",
                        help="NIF prior form (dense)")
    sample.add_argument("--num", type=int, default=16, help="number of images (16)")
    sample.add_argument("--temperature", "-t", type=float, default=0.7,
                        help="prior temperature t (0.7)")
    sample.add_argument("--s", type=float, default=0.0,
                        help="noise scale s: 0 = on the manifold, 1 = trained model (0)")
    sample.add_argument("--seed", type=int, default=0, help="random seed (0)")
    sample.add_argument("--scale", type=int, default=4, help="upscale factor for viewing (4)")
    sample.add_argument("--out", default="samples.png", help="output PNG (samples.png)")
    return parser


def run_sample(args) -> str:
    import nif_zoo
    from nif_zoo.evaluate.images import image_grid, save_png

    options = {} if args.kind == "nf" else dict(latent_dim=args.latent_dim, prior=args.prior)
    model = nif_zoo.create_model(args.kind, image_shape=args.image_shape, levels=args.levels,
                                 steps=args.steps, width=args.width, seed=args.seed, **options)
    print(f"note: {model} has untrained weights (no pretrained model bundled yet)",
          file=sys.stderr)
    images = model.sample(args.num, temperature=args.temperature, s=args.s, seed=args.seed)
    path = save_png(args.out, image_grid(images, n_bits=model.n_bits, scale=args.scale))
    print(f"wrote {args.num} samples (t={args.temperature}, s={args.s}) to {path}")
    return path


COMMANDS = {"sample": run_sample}


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
