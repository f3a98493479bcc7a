"""Properties every bijection shares: round trip and log-det == brute-force Jacobian.

A new layer is tested by adding one line to CASES.
"""
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nif_zoo import rng
from nif_zoo.flows import ActNorm, AffineCoupling, FlowStep, Glow, InvertibleConv1x1, Squeeze
from nif_zoo.flows.logit import Logit
from nif_zoo.flows.mlp_flow import MLPCoupling, MLPFlow, Reverse

CASES = {
    "actnorm_image": (lambda: ActNorm(), (2, 4, 4, 3)),
    "actnorm_vector": (lambda: ActNorm(), (3, 5)),
    "conv1x1_lu": (lambda: InvertibleConv1x1(lu=True), (2, 3, 3, 4)),
    "conv1x1_plain": (lambda: InvertibleConv1x1(lu=False), (2, 3, 3, 4)),
    "affine_coupling": (lambda: AffineCoupling(width=8), (2, 4, 4, 4)),
    "additive_coupling": (lambda: AffineCoupling(width=8, additive=True), (2, 4, 4, 4)),
    "squeeze": (lambda: Squeeze(2), (2, 4, 4, 2)),
    "flow_step": (lambda: FlowStep(width=8), (2, 4, 4, 4)),
    "glow_scan": (lambda: Glow(levels=2, steps=2, width=8, scan=True), (2, 8, 8, 1)),
    "glow_loop": (lambda: Glow(levels=2, steps=2, width=8, scan=False), (4, 4, 4, 2)),
    "glow_additive_plain_conv": (
        lambda: Glow(levels=2, steps=2, width=8, additive=True, lu=False), (4, 4, 4, 1)),
    "glow_3_levels": (lambda: Glow(levels=3, steps=1, width=8), (2, 8, 8, 1)),
    "mlp_coupling": (lambda: MLPCoupling(hidden=16, depth=2), (3, 5)),
    "reverse": (lambda: Reverse(), (3, 5)),
    "mlp_flow": (lambda: MLPFlow(layers=3, hidden=16, depth=2), (6, 4)),
    "logit": (lambda: Logit(0.05), (2, 3, 3, 2)),
    "logit_no_squeeze": (lambda: Logit(0.0), (3, 5)),
}
UNIT_INTERVAL = {"logit", "logit_no_squeeze"}  # layers defined on (0, 1): data squashed there


def data(shape, seed=0):
    # not standardised, so ActNorm's data-dependent init does something
    return 1.5 * rng.normal(jax.random.key(seed), shape) + 0.3


class Jitted:
    """A layer with jit-compiled init and apply (one XLA program each, not op by op)."""

    def __init__(self, layer):
        self.layer = layer
        self.apply = jax.jit(layer.apply, static_argnames="method")
        self.init = jax.jit(lambda key, x: layer.init(key, x, method="forward"))


def perturbed(variables, seed, scale=0.1):
    """Random perturbation of the trainable parameters (constants stay fixed)."""
    if seed == 0 or "params" not in variables:
        return variables
    leaves, tree = jax.tree.flatten(variables["params"])
    keys = jax.random.split(jax.random.key(seed), len(leaves))
    params = jax.tree.unflatten(
        tree, [p + scale * rng.normal(k, p.shape) for p, k in zip(leaves, keys)])
    return {**variables, "params": params}


@functools.lru_cache(maxsize=None)
def initialised(name):
    """One compiled layer per case, shared by every test and perturbation of it."""
    make, shape = CASES[name]
    layer = Jitted(make())
    x = jax.nn.sigmoid(data(shape)) if name in UNIT_INTERVAL else data(shape)
    return layer, layer.init(jax.random.key(1), x), x


def setup(name, seed):
    layer, variables, x = initialised(name)
    return layer, perturbed(variables, seed), x


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("name", sorted(CASES))
def test_round_trip(name, seed):
    layer, variables, x = setup(name, seed)
    y, log_det = layer.apply(variables, x, method="forward")
    assert y.size == x.size and log_det.shape == x.shape[:1]
    x_back, log_det_inv = layer.apply(variables, y, method="inverse")
    assert float(jnp.max(jnp.abs(x_back - x))) < 1e-4
    np.testing.assert_allclose(log_det_inv, -log_det, rtol=1e-5, atol=1e-4)
    # and latent -> data -> latent
    z = rng.normal(jax.random.key(7), y.shape)
    x_gen = layer.apply(variables, z, method="inverse")[0]
    z_back, _ = layer.apply(variables, x_gen, method="forward")
    # relative to the generated data's scale (the inverse amplifies by 1 / coupling scale)
    scale = max(1.0, float(jnp.max(jnp.abs(x_gen))))
    assert float(jnp.max(jnp.abs(z_back - z))) < 1e-4 * scale


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("name", sorted(CASES))
def test_log_det_matches_brute_force_jacobian(name, seed):
    layer, variables, x = setup(name, seed)
    _, log_det = layer.apply(variables, x, method="forward")
    for i in range(2):
        def f(flat):
            batch = x.at[i].set(flat.reshape(x.shape[1:]))
            return layer.apply(variables, batch, method="forward")[0][i].ravel()
        jac = jax.jacfwd(f)(x[i].ravel())
        sign, brute = np.linalg.slogdet(np.asarray(jac, np.float64))
        assert sign != 0
        np.testing.assert_allclose(float(log_det[i]), brute, rtol=1e-5, atol=2e-4)


def test_coupling_starts_as_identity_and_lu_conv_starts_orthogonal():
    x = data((2, 4, 4, 4))
    coupling = AffineCoupling(width=8)
    v = coupling.init(jax.random.key(0), x, method="forward")
    y, log_det = coupling.apply(v, x, method="forward")
    # zero-initialised conditioner: shift 0, scale sigmoid(2) on the second half
    np.testing.assert_allclose(y[..., :2], x[..., :2])
    np.testing.assert_allclose(y[..., 2:], x[..., 2:] * jax.nn.sigmoid(2.0), rtol=1e-6)
    np.testing.assert_allclose(log_det, 4 * 4 * 2 * np.log(jax.nn.sigmoid(2.0)), rtol=1e-5)
    conv = InvertibleConv1x1()
    v = conv.init(jax.random.key(0), x, method="forward")
    _, log_det = conv.apply(v, x, method="forward")
    np.testing.assert_allclose(log_det, 0.0, atol=1e-4)  # |det| of a rotation is 1


def test_actnorm_data_dependent_init_standardises():
    x = data((64, 3, 3, 5))
    layer = ActNorm()
    v = layer.init(jax.random.key(0), x, method="forward")
    y, _ = layer.apply(v, x, method="forward")
    np.testing.assert_allclose(jnp.mean(y, axis=(0, 1, 2)), 0.0, atol=1e-5)
    np.testing.assert_allclose(jnp.std(y, axis=(0, 1, 2)), 1.0, atol=1e-4)


def test_glow_latent_has_image_shape_and_rejects_bad_shapes():
    glow = Glow(levels=2, steps=1, width=8)
    x = data((2, 8, 8, 3))
    v = glow.init(jax.random.key(0), x, method="forward")
    z, _ = glow.apply(v, x, method="forward")
    assert z.shape == x.shape
    with pytest.raises(ValueError, match="divisible by 4"):
        glow.apply(v, data((2, 6, 6, 3)), method="forward")
    for bad in ((2, 64), (8, 8, 3)):  # the rank is checked before the sizes
        with pytest.raises(ValueError, match=r"needs images \(n, H, W, C\)"):
            glow.apply(v, data(bad), method="forward")


def test_glow_scan_and_loop_compute_the_same_map():
    x = data((2, 8, 8, 1))
    scanned = Glow(levels=2, steps=3, width=8, scan=True)
    looped = Glow(levels=2, steps=3, width=8, scan=False)
    v = perturbed(scanned.init(jax.random.key(0), x, method="forward"), 3)

    def unstack(tree):  # {level: {step: stacked}} -> {level: {step_k: slice k}}
        return {lvl: {f"step_{k}": jax.tree.map(lambda a: a[k], sub["step"]) for k in range(3)}
                for lvl, sub in tree.items()}

    v_loop = {col: unstack(tree) for col, tree in v.items()}
    z1, ld1 = scanned.apply(v, x, method="forward")
    z2, ld2 = looped.apply(v_loop, x, method="forward")
    np.testing.assert_allclose(z1, z2, atol=1e-5)
    np.testing.assert_allclose(ld1, ld2, rtol=1e-5)
