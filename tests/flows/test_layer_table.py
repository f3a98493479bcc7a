"""The shared test table of the layer protocol (:mod:`nif_zoo.flows.base`), both families.

Bijections (CASES): round trip both ways, log-det == a brute-force Jacobian, declared event
shapes. Noisy injective layers (NOISY): projection (the mode of the stochastic inverse
undoes decode at s = 0), the manifold term, the posterior and (closed-form layers) the
marginal against brute-force quadrature over z of p(x | z) read off the layer's own decode
and noise variances, draws centred on the mode, declared event shapes.

A new layer is tested by adding one line to CASES or NOISY.
"""
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nif_zoo import rng
from nif_zoo.flows import ActNorm, AffineCoupling, FlowStep, Glow, InvertibleConv1x1, Squeeze
from nif_zoo.flows.base import Reshape
from nif_zoo.flows.jet import Jet
from nif_zoo.flows.center import Center
from nif_zoo.flows.logit import Logit
from nif_zoo.flows.mlp_flow import MLPCoupling, MLPFlow, Reverse
from nif_zoo.flows.shuffle import ChannelShuffle
from nif_zoo.nif.layers import DenseNIF, UpsampleNIF
from nif_zoo.nif.stochastic_coupling import StochasticCoupling

pytestmark = pytest.mark.lowest  # also run at the lowest versions (.ci/lowest)

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
    # the convolution forms (nif_zoo.flows.conv) and rematerialised steps
    "affine_coupling_lax": (lambda: AffineCoupling(width=8, conv="lax"), (2, 4, 4, 4)),
    "affine_coupling_matmul": (lambda: AffineCoupling(width=8, conv="matmul"), (2, 4, 4, 4)),
    "glow_scan_lax": (lambda: Glow(levels=2, steps=2, width=8, conv="lax"), (2, 8, 8, 1)),
    "glow_remat": (lambda: Glow(levels=2, steps=2, width=8, remat=True), (2, 8, 8, 1)),
    "glow_loop_remat_lax": (
        lambda: Glow(levels=2, steps=2, width=8, scan=False, remat=True, conv="lax"),
        (4, 4, 4, 2)),
    # the Jet trunk: an odd token grid (3 x 3: the checkerboard splits 5 / 4), and colour
    # images with two ViT blocks per coupling, rematerialised
    "jet": (lambda: Jet(patch=2, steps=2, width=8, heads=2), (2, 6, 6, 1)),
    "jet_rgb_remat": (lambda: Jet(patch=2, steps=3, width=8, heads=2, depth=2, remat=True),
                      (2, 4, 4, 3)),
    "mlp_coupling": (lambda: MLPCoupling(hidden=16, depth=2), (3, 5)),
    "reverse": (lambda: Reverse(), (3, 5)),
    "mlp_flow": (lambda: MLPFlow(layers=3, hidden=16, depth=2), (6, 4)),
    "logit": (lambda: Logit(0.05), (2, 3, 3, 2)),
    "logit_no_squeeze": (lambda: Logit(0.0), (3, 5)),
    "center": (lambda: Center(), (2, 3, 3, 1)),
    "reshape": (lambda: Reshape((2, 2, 3), (12,)), (3, 2, 2, 3)),
    "channel_shuffle": (lambda: ChannelShuffle(), (2, 3, 3, 5)),
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
    """Random perturbation of the trainable parameters (constants stay fixed). Drawn by NumPy:
    op by op, a jax.random draw and sum compile for every leaf's shape, about 20 s of the
    table's run on a CPU."""
    if seed == 0 or "params" not in variables:
        return variables
    r = np.random.default_rng(seed)
    params = jax.tree.map(lambda p: np.asarray(p) + np.asarray(
        scale * r.standard_normal(p.shape), p.dtype), variables["params"])
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
    assert y.shape[1:] == layer.layer.output_shape(x.shape[1:])
    assert layer.layer.input_shape(y.shape[1:]) == x.shape[1:]
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


# ---------------------------------------------------------------- noisy injective layers
# name: (layer, data shape, noisy slice of a flattened example: the part p(x | z) models,
#        latent slice integrated over, how to read the layer's log-variances at x)
def coupling_log_var(layer, variables, x):
    return layer.apply(variables, x[:, :2], method="noise_model")[2]


def params_log_var(layer, variables, x):
    return jnp.broadcast_to(variables["params"]["log_var"].ravel(), (x.shape[0], x[0].size))


NOISY = {
    "dense_nif": (lambda: DenseNIF((3,), 2), (4, 3), slice(None), slice(None), params_log_var),
    "dense_nif_image": (lambda: DenseNIF((2, 1, 2), 1), (4, 2, 1, 2), slice(None), slice(None),
                        params_log_var),
    "upsample_nif": (lambda: UpsampleNIF((2, 4, 1), 2, 1), (4, 2, 4, 1), slice(None),
                     slice(None), params_log_var),
    "stochastic_coupling": (lambda: StochasticCoupling(split=2, data_dim=2, latent_dim=1,
                                                       hidden=8), (4, 4), slice(2, None),
                            slice(2, None), coupling_log_var),
}


@functools.lru_cache(maxsize=None)
def noisy_setup(name):
    make, shape, *_ = NOISY[name]
    layer = make()
    x = data(shape, seed=4)
    variables = layer.init({"params": jax.random.key(1), "posterior": jax.random.key(2)}, x)
    return layer, perturbed(variables, 5, scale=0.3), x


def apply(name, method, *args, **kwargs):
    layer, variables, _ = noisy_setup(name)
    return layer.apply(variables, *args, method=method, **kwargs)


@pytest.mark.parametrize("name", sorted(NOISY))
def test_noisy_layer_shapes_and_projection(name):
    layer, variables, x = noisy_setup(name)
    z = apply(name, "stochastic_inverse", x)
    assert z.shape[1:] == layer.output_shape(x.shape[1:])
    assert layer.input_shape(z.shape[1:]) == x.shape[1:]
    assert z[0].size < x[0].size  # across dimensions
    x_on = apply(name, "decode", z, 0.0)
    assert x_on.shape == x.shape
    np.testing.assert_allclose(apply(name, "stochastic_inverse", x_on), z, atol=1e-4)
    # decode(mode(.)) is a projection: idempotent
    np.testing.assert_allclose(apply(name, "decode", apply(name, "stochastic_inverse", x_on), 0.0),
                               x_on, atol=1e-4)
    # the reverse direction's term is minus the manifold term at the decoded point
    x_back, term = layer.apply(variables, z, reverse=True)
    np.testing.assert_allclose(term, -apply(name, "manifold_term", x_back), rtol=1e-5)


def quadrature(name, i):
    """(grid of z, log p(x_i | z) on it, cell volume): brute force over the latent slice,
    the mean from the layer's own decode(z, s = 0), the variances from its parameters."""
    layer, variables, x = noisy_setup(name)
    _, _, noisy, latent, log_var_of = NOISY[name]
    mode = np.asarray(apply(name, "stochastic_inverse", x))[i]
    free = mode.ravel()[latent]
    m = free.size
    step = 0.02 if m == 1 else 0.06
    axis = np.arange(-9.0, 9.0, step)
    grid = np.stack(np.meshgrid(*([axis] * m), indexing="ij"), -1).reshape(-1, m) + free
    z = np.repeat(mode.ravel()[None], len(grid), 0)
    z[:, latent] = grid
    mean = np.asarray(apply(name, "decode", jnp.asarray(z.reshape((-1,) + mode.shape)), 0.0),
                      np.float64).reshape(len(grid), -1)[:, noisy]
    var = np.exp(np.asarray(log_var_of(layer, variables, x), np.float64)[i].ravel())
    target = np.asarray(x, np.float64)[i].ravel()[noisy]
    log_lik = -0.5 * np.sum((target - mean) ** 2 / var + np.log(2 * np.pi * var), axis=1)
    return z, grid, log_lik, step ** m


def log_integral(log_values, volume):
    top = np.max(log_values)
    return top + np.log(np.sum(np.exp(log_values - top)) * volume)


@pytest.mark.parametrize("name", sorted(NOISY))
def test_manifold_term_and_posterior_match_quadrature(name):
    _, _, x = noisy_setup(name)
    manifold = np.asarray(apply(name, "manifold_term", x))
    for i in range(2):
        z, grid, log_lik, volume = quadrature(name, i)
        brute = log_integral(log_lik, volume)
        np.testing.assert_allclose(manifold[i], brute, rtol=1e-5, atol=2e-3)  # float32 vs a float64 grid
        # q(z | x) = p(x | z) / int p(x | z') dz' at a few points of the grid
        near = np.flatnonzero(log_lik > log_lik.max() - 10)  # where q has its mass
        pick = near[np.linspace(0, len(near) - 1, 7).astype(int)]
        xi = np.repeat(np.asarray(x)[i:i + 1], len(pick), 0)
        log_q = apply(name, "log_stochastic_inverse", jnp.asarray(z[pick].reshape((len(pick),) + np.asarray(
            apply(name, "stochastic_inverse", x)).shape[1:])), jnp.asarray(xi))
        np.testing.assert_allclose(log_q, log_lik[pick] - brute, atol=2e-3)


@pytest.mark.parametrize("name", sorted(n for n in NOISY if NOISY[n][0]().closed_form))
def test_closed_form_marginal_matches_quadrature(name):
    _, _, x = noisy_setup(name)
    exact = np.asarray(apply(name, "log_marginal", x))
    for i in range(2):
        z, _, log_lik, volume = quadrature(name, i)
        log_prior = -0.5 * np.sum(z ** 2 + np.log(2 * np.pi), axis=1)
        np.testing.assert_allclose(exact[i], log_integral(log_lik + log_prior, volume),
                                   rtol=1e-5, atol=1e-3)


@pytest.mark.parametrize("name", sorted(NOISY))
def test_draws_are_keyed_and_centred_on_the_mode(name):
    _, _, x = noisy_setup(name)
    many = jnp.broadcast_to(x, (4000,) + x.shape)
    draws = np.asarray(apply(name, "stochastic_inverse", many, "sample",
                             rngs={"posterior": jax.random.key(3)}), np.float64)
    again = np.asarray(apply(name, "stochastic_inverse", many, "sample",
                             rngs={"posterior": jax.random.key(3)}))
    np.testing.assert_array_equal(draws, np.asarray(again, np.float64))
    mode = np.asarray(apply(name, "stochastic_inverse", x))
    spread = draws.std(axis=0)
    assert np.all(np.abs(draws.mean(axis=0) - mode) <= 5 * spread / np.sqrt(4000) + 1e-6)
    with pytest.raises(ValueError, match="estimate must be"):
        apply(name, "stochastic_inverse", x, "average")
