"""Regenerate the README's sample figures from the bundled models (look at them before
committing):

    python scripts/readme_assets.py

docs/assets/faces.png         README command 1: nif64-celeba64-3bit, 16 samples, t = 1, s = 0.2,
                                seed 0, upscaled 2x
docs/assets/lfw_nf_vs_nif.png nf-lfw24 (left) and nif32-lfw24 (right); top t = 0.7, s = 0,
                                bottom t = 1, s = 1 (the trained density); seed 0
docs/assets/mnist28_3bit_nf_vs_nif.png  nf-mnist28-3bit (left) and nif64-mnist28-3bit
                                (right), 36 samples each at t = 1, s = 0, seed 0
"""
import os
import subprocess
import sys

import numpy as np

import nif_zoo
from nif_zoo.evaluate.images import image_grid, save_png

ASSETS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "assets")


def side_by_side(grids, gap=12):
    h, w, c = grids[0].shape
    figure = np.full((h, len(grids) * w + (len(grids) - 1) * gap, c), 255, np.uint8)
    for i, grid in enumerate(grids):
        figure[:, i * (w + gap): i * (w + gap) + w] = grid
    return figure


def main():
    subprocess.run(["nif-zoo", "sample", "nif64-celeba64-3bit", "--temperature", "1", "--s", "0.2",
                    "--scale", "2", "--out", os.path.join(ASSETS, "faces.png")], check=True)
    panels = {}
    for name in ("nf-lfw24", "nif32-lfw24"):
        model = nif_zoo.load(name)
        for t, s in ((0.7, 0.0), (1.0, 1.0)):
            panels[name, t] = image_grid(model.sample(16, temperature=t, s=s, seed=0),
                                         n_bits=model.n_bits, cols=4, scale=4)
    h, w, c = panels["nf-lfw24", 0.7].shape
    gap = 12
    figure = np.full((2 * h + gap, 2 * w + gap, c), 255, np.uint8)
    for row, t in enumerate((0.7, 1.0)):
        for col, name in enumerate(("nf-lfw24", "nif32-lfw24")):
            figure[row * (h + gap): row * (h + gap) + h,
                   col * (w + gap): col * (w + gap) + w] = panels[name, t]
    print(save_png(os.path.join(ASSETS, "lfw_nf_vs_nif.png"), figure))
    grids = []
    for name in ("nf-mnist28-3bit", "nif64-mnist28-3bit"):
        model = nif_zoo.load(name)
        grids.append(image_grid(model.sample(36, temperature=1.0, s=0.0, seed=0),
                                n_bits=model.n_bits, cols=6, scale=3))
    print(save_png(os.path.join(ASSETS, "mnist28_3bit_nf_vs_nif.png"), side_by_side(grids)))


if __name__ == "__main__":
    sys.exit(main())
