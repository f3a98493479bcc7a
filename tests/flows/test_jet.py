"""The Jet trunk's parts (:mod:`nif_zoo.flows.jet`); its round trip and log-det are in the
shared layer table (tests/flows/test_layer_table.py)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nif_zoo import rng
from nif_zoo.flows.actnorm import ActNorm
from nif_zoo.flows.jet import Jet, channel_half, checkerboard, patchify, unpatchify
from nif_zoo.flows.reshape import space_to_depth


def test_patches_are_the_squeeze_ordering_and_unpatchify_inverts():
    x = rng.normal(jax.random.key(0), (2, 6, 4, 3))
    tokens = patchify(x, 2)
    assert tokens.shape == (2, 6, 12)
    # token (i, j) of the 3 x 2 grid is the squeezed pixel (i, j)
    np.testing.assert_array_equal(tokens[:, 1 * 2 + 1], space_to_depth(x, 2)[:, 1, 1])
    np.testing.assert_array_equal(unpatchify(tokens, (3, 2), 2), x)


def test_checkerboard_colours_split_the_grid_and_alternate():
    even, odd = checkerboard((7, 7), 0), checkerboard((7, 7), 1)
    np.testing.assert_array_equal(even + odd, np.ones(49))
    assert float(even.sum()) == 25 and float(odd.sum()) == 24
    grid = np.asarray(even).reshape(7, 7)
    assert grid[0, 0] == 1 and grid[0, 1] == 0 and grid[1, 0] == 0  # neighbours differ


def test_channel_half_is_a_random_half():
    a, b = channel_half(jax.random.key(0), 16), channel_half(jax.random.key(1), 16)
    assert float(a.sum()) == float(b.sum()) == 8 and not np.array_equal(a, b)
    assert float(channel_half(jax.random.key(0), 5).sum()) == 2


def test_jet_starts_as_its_actnorm_with_a_random_half_per_pair():
    x = 1.5 * rng.normal(jax.random.key(0), (4, 8, 8, 1)) + 0.3
    jet = Jet(patch=4, steps=3, width=8, heads=2)
    v = jet.init(jax.random.key(1), x, method="forward")
    masks = np.asarray(v["constants"]["pairs"]["channel_mask"])
    assert masks.shape == (3, 16) and (masks.sum(axis=1) == 8).all()
    assert len({m.tobytes() for m in masks}) == 3  # every pair draws its own half
    assert "channel_mask" not in str(jax.tree.map(jnp.shape, v["params"]))  # not trained
    z, log_det = jet.apply(v, x, method="forward")
    # zero-initialised last projections: every coupling is the identity (scale 2 sigmoid 0)
    tokens, norm_log_det = ActNorm().apply({"params": v["params"]["actnorm"]}, patchify(x, 4))
    np.testing.assert_allclose(z, unpatchify(tokens, (2, 2), 4), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(log_det, norm_log_det, rtol=1e-6)


def test_jet_rejects_bad_shapes():
    jet = Jet(patch=4, steps=1, width=8, heads=2)
    with pytest.raises(ValueError, match="divisible by 4"):
        jet.init(jax.random.key(0), jnp.zeros((2, 6, 8, 1)), method="forward")
    with pytest.raises(ValueError, match="divisible by heads"):
        Jet(patch=2, steps=1, width=8, heads=3).init(jax.random.key(0), jnp.zeros((2, 4, 4, 1)),
                                                     method="forward")
