"""nif-zoo: noisy injective flows (normalizing flows across dimensions) in JAX / Flax.

    import nif_zoo
    nif_zoo.list_models()                    # names: nf-lfw24, nif64-mnist32, ...
    model = nif_zoo.load("nif32-lfw24")       # bundled, cached or downloaded; verified
    images = model.sample(16, temperature=0.7, s=0.0, seed=0)
    fresh = nif_zoo.create_model("nif", image_shape=(32, 32, 1), levels=3, steps=4,
                                 width=64, latent_dim=64)

Heavy imports (JAX, Flax) happen on first use, not on ``import nif_zoo``, which changes
nothing in JAX or the environment. On a multi-core CPU, ``nif_zoo.use_all_cores()`` before
any JAX operation gives JAX one device per core, every batch split over them
(:mod:`nif_zoo.devices`; the ``nif-zoo`` command does it by itself).
"""
from __future__ import annotations

__version__ = "0.1.0"

from nif_zoo.devices import use_all_cores  # noqa: E402  (imports no JAX)

__all__ = ["Model", "create_model", "list_models", "load", "load_pretrained", "nifify",
           "push_to_hub", "save_pretrained", "use_all_cores", "__version__"]


def __getattr__(name):
    if name in ("Model", "create_model"):
        from nif_zoo import models

        return getattr(models, name)
    if name == "nifify":
        from nif_zoo.train.nifify import nifify

        return nifify
    if name in ("list_models", "load", "load_pretrained", "push_to_hub", "save_pretrained"):
        from nif_zoo import zoo

        return getattr(zoo, name)
    raise AttributeError(f"module 'nif_zoo' has no attribute {name!r}")
