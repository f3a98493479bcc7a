"""Save small models of every kind (scan on and off) with the installed nif-zoo, and their
outputs, as fixtures of its config format: ``tests/models/fixtures/v{format_version}/``.
Later releases must load them and reproduce the outputs (tests/models/test_migration.py).

    python scripts/make_format_fixtures.py            # with the release whose format to freeze

Uses only the public API of every release since format 1 (``prior=`` / ``nif=`` were the NIF
form's option names in format 1; later releases accept them with a FutureWarning).
"""
from __future__ import annotations

import json
import os
import sys
import warnings

import jax
import numpy as np

import nif_zoo

HERE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                    "tests", "models", "fixtures")
SIZES = dict(image_shape=(8, 8, 1), levels=2, steps=2, width=8, seed=7)
DEEP = dict(prior_layers=2, prior_hidden=8, prior_depth=1, iw_samples=4)
CASES = {
    "nf-scan": dict(kind="nf", scan=True),
    "nf-loop": dict(kind="nf", scan=False),
    "nif-dense-scan": dict(kind="nif", latent_dim=6, prior="dense", scan=True),
    "nif-dense-loop": dict(kind="nif", latent_dim=6, prior="dense", scan=False),
    "nif-upsample-scan": dict(kind="nif", latent_dim=16, prior="upsample", scan=True),
    "nif-logit-loop": dict(kind="nif", latent_dim=6, scan=False, logit=0.05),
    "deepnif-dense-scan": dict(kind="deep_nif", latent_dim=4, nif="dense", scan=True, **DEEP),
    "deepnif-dense-loop": dict(kind="deep_nif", latent_dim=4, nif="dense", scan=False, **DEEP),
    "deepnif-upsample-scan": dict(kind="deep_nif", latent_dim=16, nif="upsample", scan=True,
                                  **DEEP),
}


def perturbed(model, seed):
    """Non-trivial weights (couplings and flows start as the identity)."""
    leaves, tree = jax.tree.flatten(model.variables["params"])
    rng = np.random.default_rng(seed)
    params = jax.tree.unflatten(tree, [p + 0.05 * rng.standard_normal(p.shape).astype(p.dtype)
                                       for p in leaves])
    return model.with_variables({**model.variables, "params": params})


def outputs(model, images, z):
    out = {"decode_s0": model.decode(z, s=0.0), "embed": model.embed(images),
           "log_prob": model.log_prob(images, key=0),
           "bits_per_dim": np.float64(model.bits_per_dim(images, key=0)),
           "sample": model.sample(3, temperature=0.8, s=0.3, seed=2)}
    return out


def main():
    images = np.random.default_rng(0).integers(0, 256, (4, 8, 8, 1)).astype(np.uint8)
    version = None
    for i, (name, case) in enumerate(CASES.items()):
        case = dict(case)
        kind = case.pop("kind")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            model = perturbed(nif_zoo.create_model(kind, init_images=images, **SIZES, **case), i)
        version = model.config["format_version"]
        folder = os.path.join(HERE, f"v{version}", name)
        z = np.random.default_rng(1).standard_normal((3, model.latent_dim)).astype(np.float32)
        model.save_pretrained(folder, card=f"A format-{version} fixture ({name}).\n")
        np.savez(os.path.join(HERE, f"v{version}", f"{name}.npz"), images=images, z=z,
                 **outputs(model, images, z))
        print(name, "->", folder, file=sys.stderr)
    with open(os.path.join(HERE, f"v{version}", "VERSION.json"), "w") as fh:
        json.dump({"format_version": version, "nif_zoo": nif_zoo.__version__,
                   "jax": jax.__version__}, fh, indent=1)


if __name__ == "__main__":
    main()
