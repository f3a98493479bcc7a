"""nif-zoo reconstruct: image files projected onto the learned manifold."""
from nif_zoo.cli.options import add_image_file_arguments, add_model_argument, load_model, read_image_files

NAME = "reconstruct"


def add_parser(sub):
    p = sub.add_parser(
        "reconstruct", help="project images onto the learned manifold",
        description="Reconstruct image files: decode(embed(x), s=0), the projection onto the "
                    "learned manifold for a NIF (the identity for an NF). Writes a PNG with "
                    "the inputs (top row) above their reconstructions.")
    add_model_argument(p)
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files (PNG, JPEG, ...)")
    add_image_file_arguments(p, "reconstructions.png")
    return p


def run(args):
    import numpy as np

    from nif_zoo.evaluate.images import image_grid, save_png

    model, _ = load_model(args.model, args.revision)
    images, _ = read_image_files(args.images, model, args.fit)
    recon = model.reconstruct(images)
    grid = image_grid(np.concatenate([images, recon]), n_bits=model.n_bits, cols=len(images),
                      scale=args.scale)
    path = save_png(args.out, grid)
    print(f"wrote {len(images)} images (top) and their reconstructions (bottom) to {path}")
