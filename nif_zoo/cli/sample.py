"""nif-zoo sample: images at temperature t and noise scale s to a PNG grid (and .npy)."""
import math
import os
import shutil

from nif_zoo.cli.options import add_model_argument, load_model, zoo_defaults

NAME = "sample"
MAX_GRID_IMAGES = 4096
SAMPLE_CHUNK = 1024


def add_parser(sub):
    p = sub.add_parser(
        "sample", help="sample images to a PNG grid",
        description="Sample images at temperature t (z = t eps) and noise scale s (s = 0: on "
                    "the learned manifold; s = 1: the trained density) and save a PNG grid, "
                    "each image upscaled for viewing.")
    add_model_argument(p)
    p.add_argument("--num", type=int, default=16, help="number of images (16)")
    p.add_argument("--temperature", "-t", type=float, default=None,
                   help="prior temperature t (the model card's recommendation)")
    p.add_argument("--s", type=float, default=None,
                   help="noise scale s (the model card's recommendation)")
    p.add_argument("--noise-form", choices=["paper", "isotropic", "authors"], default=None,
                   help="how noise of scale s is drawn: paper N(0, s Sigma) (default), "
                        "isotropic N(0, s I), authors s eps (standard deviation s, "
                        "isotropic: the authors' code's sampling)")
    p.add_argument("--isotropic", action="store_true", help="the same as --noise-form isotropic")
    p.add_argument("--denoise", type=float, default=None, metavar="SIGMA",
                   help="one score step x + SIGMA^2 grad log p(x) with the model's own "
                        "density before quantising (Tweedie; a model trained with data "
                        "noise SIGMA, TarFlow's recipe; default: the card's recommendation; 0: "
                        "none)")
    p.add_argument("--seed", type=int, default=0, help="random seed (0)")
    p.add_argument("--scale", type=int, default=4, help="upscale factor for viewing (4)")
    p.add_argument("--out", default="samples.png", help="output PNG (samples.png)")
    p.add_argument("--npy", default=None, help="also save the uint8 images as .npy")
    return p


def run(args) -> str:
    import numpy as np

    from nif_zoo.evaluate.images import image_grid, save_png

    model, training = load_model(args.model, args.revision)
    t_default, s_default, denoise_default = zoo_defaults(training)
    t = t_default if args.temperature is None else args.temperature
    s = s_default if args.s is None else args.s
    denoise = denoise_default if args.denoise is None else (args.denoise or None)
    if args.num < 1:
        raise ValueError(f"--num must be >= 1; got {args.num}")
    if args.num > MAX_GRID_IMAGES and not args.npy:
        raise ValueError(f"{args.num} images are too many for one PNG grid (at most "
                         f"{MAX_GRID_IMAGES}); save them all with --npy PATH (written in "
                         f"pieces of {SAMPLE_CHUNK}; the PNG then shows the first "
                         f"{MAX_GRID_IMAGES})")
    shown = min(args.num, MAX_GRID_IMAGES)
    store = None
    if args.npy:
        needed = args.num * math.prod(model.image_shape)
        free = shutil.disk_usage(os.path.dirname(os.path.abspath(args.npy))).free
        if needed > free:
            raise ValueError(f"{args.num} images need {needed / 2**30:.1f} GiB for {args.npy}; "
                             f"{free / 2**30:.1f} GiB are free there")
        store = np.lib.format.open_memmap(args.npy, mode="w+", dtype=np.uint8,
                                          shape=(args.num,) + model.image_shape)
    first = None
    for start in range(0, args.num, SAMPLE_CHUNK):
        count = min(SAMPLE_CHUNK, args.num - start)
        images = model.sample(count, temperature=t, s=s, seed=args.seed,
                              isotropic=args.isotropic, noise_form=args.noise_form,
                              denoise=denoise,
                              first_index=start)
        if store is not None:
            store[start: start + count] = images
        if start < shown:
            first = images if first is None else np.concatenate([first, images])
    if store is not None:
        store.flush()
        del store
    path = save_png(args.out, image_grid(first[:shown], n_bits=model.n_bits, scale=args.scale))
    extra = f" (the first {shown} of {args.num})" if shown < args.num else ""
    step = f", denoise={denoise:g}" if denoise else ""
    print(f"wrote {shown} samples of {args.model} (t={t}, s={s}{step}, seed={args.seed}) to "
          f"{path}{extra}" + (f"; all {args.num} to {args.npy}" if args.npy else ""))
    return path

