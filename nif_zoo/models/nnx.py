"""A zoo model inside Flax NNX code (``flax.nnx.bridge``).

nif-zoo's modules are Flax Linen modules. An NNX user gets any model, pretrained or fresh,
as an ``nnx.Module`` that holds its weights (``params`` as ``nnx.Param``, the other
collections as their bridge variable types) and computes what the Linen module computes::

    import nif_zoo
    from nif_zoo.models.nnx import to_nnx

    model = nif_zoo.load("nif32-lfw24")
    flow = to_nnx(model)                          # an nnx.Module (flax.nnx.bridge.ToNNX)
    log_p = flow(y, method="log_density")         # y: (n, H, W, C) floats in the data scale
    x = flow(z, 0.0, method="decode")             # latents (n, M) -> images, on the manifold
    graphdef, state = nnx.split(flow)             # nnx.jit, nnx.grad, optimisers: as any NNX module

The methods are the Linen chain's (:class:`nif_zoo.flows.base.Chain`): ``log_density``,
``log_prob``, ``embed``, ``decode``, ``manifold_term``...; a method that draws takes
``rngs`` (``flow(y, method="elbo", rngs=nnx.Rngs(posterior=0))``). Data scale and
quantisation are the :class:`~nif_zoo.models.model.Model`'s: ``model.log_prob(images)``
is ``flow(y, method="log_density")`` at bin centres minus N log 2^n_bits.
"""
from __future__ import annotations

import jax.numpy as jnp


def to_nnx(model, rngs=None):
    """``model`` (a :class:`~nif_zoo.models.model.Model`) as an NNX module holding its
    weights: ``flax.nnx.bridge.ToNNX`` of its Linen module, initialised lazily on one
    image, then given the model's variables."""
    from flax import nnx
    from flax.nnx import bridge

    flow = bridge.ToNNX(model.module, rngs=rngs if rngs is not None else nnx.Rngs(0))
    example = jnp.full((1,) + tuple(model.image_shape), 0.5, jnp.float32)
    bridge.lazy_init(flow, example, method="log_density")
    for name, value in bridge.variables.linen_vars_to_nnx_attrs(
            dict(model.variables)).items():
        setattr(flow, name, value)
    return flow
