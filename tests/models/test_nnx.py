"""An NNX user's view of a zoo model (flax.nnx.bridge): the same likelihood, embeddings and
samples as the Linen model."""
import jax.numpy as jnp
import numpy as np
import pytest

import nif_zoo
from nif_zoo.models.nnx import to_nnx

pytestmark = pytest.mark.lowest


def test_a_zoo_model_in_nnx_gives_the_linen_models_numbers():
    from flax import nnx

    model = nif_zoo.load("nif32-lfw24")
    flow = to_nnx(model)
    assert isinstance(flow, nnx.Module)
    params = nnx.state(flow, nnx.Param)
    assert sum(np.size(v) for v in __import__("jax").tree.leaves(params)) == model.num_params
    images = model.sample(6, temperature=0.7, s=0.0, seed=3)
    y = jnp.asarray((images.astype(np.float32) + 0.5) / 2 ** model.n_bits)
    log_p = np.asarray(flow(y, method="log_density"))
    expected = model.log_prob(images) + model.num_dims * model.n_bits * np.log(2)
    np.testing.assert_allclose(log_p, expected, rtol=1e-5)
    z = np.asarray(flow(y, method="embed"))
    np.testing.assert_allclose(z, model.embed(images), rtol=1e-4, atol=1e-4)
    # the model's samples: its latent draws decoded by the NNX module, quantised as it does
    eps = np.random.default_rng(0).normal(size=(4, model.latent_dim)).astype(np.float32)
    decoded = np.asarray(flow(jnp.asarray(0.7 * eps), 0.0, method="decode"))
    np.testing.assert_allclose(decoded, model.decode(0.7 * eps, s=0.0), rtol=1e-5, atol=1e-5)


def test_nnx_gradients_reach_the_weights(tiny_models):
    from flax import nnx

    model = tiny_models["nif"]  # the bridge is the same for any model; a small one is quick
    flow = to_nnx(model)
    y = jnp.full((2,) + tuple(model.image_shape), 0.5)

    def loss(f):
        return -jnp.mean(f(y, method="log_density"))

    grads = nnx.jit(nnx.grad(loss))(flow)  # compiled: far quicker than op by op
    norms = [float(jnp.linalg.norm(g)) for g in __import__("jax").tree.leaves(grads)]
    assert len(norms) > 10 and all(np.isfinite(norms)) and max(norms) > 0
