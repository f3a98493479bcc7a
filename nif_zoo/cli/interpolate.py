"""nif-zoo interpolate: a path between two images' embeddings, decoded to a PNG strip."""
from nif_zoo.cli.options import add_image_file_arguments, add_model_argument, load_model, read_image_files

NAME = "interpolate"


def add_parser(sub):
    p = sub.add_parser(
        "interpolate", help="decode a path between two images' embeddings to a PNG strip",
        description="Embed two image files and decode --steps points on the path between "
                    "their latents (linear or slerp), on the manifold (s = 0) unless --s; "
                    "the ends are the images' reconstructions.")
    add_model_argument(p)
    p.add_argument("images", nargs=2, metavar="IMAGE", help="the two image files")
    p.add_argument("--steps", type=int, default=8, help="images on the path (8)")
    p.add_argument("--path", choices=["linear", "slerp"], default="linear")
    p.add_argument("--s", type=float, default=0.0, help="noise scale s (0: on the manifold)")
    p.add_argument("--seed", type=int, default=0, help="noise seed when s > 0 (0)")
    add_image_file_arguments(p, "interpolation.png")
    return p


def run(args):
    from nif_zoo.data import quantize
    from nif_zoo.evaluate.images import image_grid, save_png

    model, _ = load_model(args.model, args.revision)
    images, _ = read_image_files(args.images, model, args.fit)
    if len(images) != 2:
        raise ValueError(f"could not read both images: {args.images}")
    strip = model.interpolate(images[0], images[1], args.steps, path=args.path, s=args.s,
                              seed=args.seed)
    grid = image_grid(quantize.quantize(strip, model.n_bits), n_bits=model.n_bits,
                      cols=args.steps, scale=args.scale)
    path = save_png(args.out, grid)
    print(f"wrote {args.steps} images from {args.images[0]} to {args.images[1]} ({args.path}, "
          f"s={args.s}) to {path}")
    return path
