"""The CelebA figures of the results page that `nif-zoo compare` does not draw (issue 38),
rerunnable:

    python scripts/celeba_figures.py --out docs/results/celeba64-3bit

1. ``reconstructions.png``: the first ``--faces`` test faces (top row) above their NIF-64
   reconstructions, decode(embed(x), s = 0): the projection onto the learned 64-dimensional
   manifold (an NF's reconstruction is the face itself, so it has no row).
2. ``interpolations.png``: for three pairs of test faces, the path between their latents
   (``--steps`` images, the ends being the faces' reconstructions), on the manifold (s = 0):
   per pair a row of NIF-64 (linear), NIF-64 (slerp) and the NF (linear, in its 12288
   dimensions).

Test faces are those of the models' split (the recipe's ``random_80_10_10``, seed 0), in the
split's order; nothing is sampled, so the figures are the same on every run.
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

PAIRS = ((0, 1), (2, 3), (4, 5))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/results/celeba64-3bit")
    parser.add_argument("--nif", default="nif64-celeba64-3bit")
    parser.add_argument("--nf", default="nf-celeba64-3bit")
    parser.add_argument("--faces", type=int, default=10, help="test faces reconstructed (10)")
    parser.add_argument("--steps", type=int, default=8, help="images per interpolation (8)")
    parser.add_argument("--scale", type=int, default=2, help="upscale factor (2)")
    args = parser.parse_args(argv)
    import nif_zoo
    from nif_zoo.data import quantize
    from nif_zoo.evaluate.images import image_grid, save_png
    from nif_zoo.evaluate.likelihood import evaluation_data
    from nif_zoo.zoo import registry

    nif, nf = nif_zoo.load(args.nif), nif_zoo.load(args.nf)
    data = registry.get_entry(args.nif).config["data"]
    if registry.get_entry(args.nf).config["data"] != data:
        raise SystemExit(f"{args.nif} and {args.nf} were not trained on the same data")
    n_bits = data["n_bits"]
    test = evaluation_data(data, "test", max(args.faces, 2 * len(PAIRS)))
    faces = test.images[: args.faces]
    os.makedirs(args.out, exist_ok=True)

    rows = [faces, nif.reconstruct(faces)]  # integer images in, quantised images out
    path = os.path.join(args.out, "reconstructions.png")
    save_png(path, image_grid(np.concatenate(rows), n_bits=n_bits, cols=len(faces),
                              scale=args.scale))
    print(f"wrote {path}: {len(faces)} test faces above their {args.nif} reconstructions")

    strips = []
    for a, b in PAIRS:
        x, y = test.images[a], test.images[b]
        strips += [nif.interpolate(x, y, args.steps, path="linear"),
                   nif.interpolate(x, y, args.steps, path="slerp"),
                   nf.interpolate(x, y, args.steps, path="linear")]
    path = os.path.join(args.out, "interpolations.png")
    save_png(path, image_grid(np.concatenate([quantize.quantize(s, n_bits) for s in strips]),
                              n_bits=n_bits, cols=args.steps, scale=args.scale))
    print(f"wrote {path}: test pairs {PAIRS}, rows per pair: {args.nif} linear, slerp, "
          f"{args.nf} linear")


if __name__ == "__main__":
    main()
