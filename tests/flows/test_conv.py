"""Convolutions as matrix products (nif_zoo.flows.conv) against XLA's convolution op."""
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nif_zoo.flows.conv import (
    Conv, conv_auto, conv_by_patches, conv_by_shifted_products, conv_lax, conv_same, convolve,
)


def reference_conv(x, kernel):
    return jax.lax.conv_general_dilated(x, kernel, (1, 1), "SAME",
                                        dimension_numbers=("NHWC", "HWIO", "NHWC"))


def inputs(shape, kernel_shape, seed=0):
    kx, kk = jax.random.split(jax.random.key(seed))
    return jax.random.normal(kx, shape), jax.random.normal(kk, kernel_shape)


@pytest.mark.parametrize("conv", [conv_by_patches, conv_by_shifted_products, conv_same, conv_lax,
                                  conv_auto])
@pytest.mark.parametrize("x_shape,kernel_shape", [
    ((2, 5, 4, 3), (3, 3, 3, 7)),      # C_in < C_out (patches side)
    ((2, 6, 6, 9), (3, 3, 9, 2)),      # C_in > C_out (shifted-products side)
    ((1, 7, 5, 2), (5, 5, 2, 2)),      # k = 5, non-square image
])
def test_matches_xla_convolution_and_its_gradients(conv, x_shape, kernel_shape):
    check_against_xla(conv, x_shape, kernel_shape)


def test_1x1_is_a_plain_product():
    check_against_xla(conv_same, (3, 4, 4, 4), (1, 1, 4, 6))


def check_against_xla(conv, x_shape, kernel_shape):
    x, kernel = inputs(x_shape, kernel_shape)
    np.testing.assert_allclose(conv(x, kernel), reference_conv(x, kernel), atol=1e-5, rtol=1e-5)
    weights = jax.random.normal(jax.random.key(9), reference_conv(x, kernel).shape)

    def loss(fn):
        return lambda x, k: jnp.sum(weights * jnp.tanh(fn(x, k)))

    got = jax.grad(loss(conv), argnums=(0, 1))(x, kernel)
    want = jax.grad(loss(reference_conv), argnums=(0, 1))(x, kernel)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, atol=1e-4, rtol=1e-4)


def test_leading_batch_axes_broadcast():
    x, kernel = inputs((2, 3, 4, 4, 6), (3, 3, 6, 2))
    want = reference_conv(x.reshape(6, 4, 4, 6), kernel).reshape(2, 3, 4, 4, 2)
    np.testing.assert_allclose(conv_same(x, kernel), want, atol=1e-5)


def test_conv_module_has_nn_conv_parameters_and_outputs():
    """Checkpoints written with nn.Conv load into Conv and give the same outputs."""
    x = jax.random.normal(jax.random.key(1), (2, 6, 6, 3))
    for k, features in ((3, 8), (3, 2), (1, 5)):
        ours = Conv(features, k)
        theirs = nn.Conv(features, (k, k), padding="SAME")
        variables = theirs.init(jax.random.key(0), x)
        assert (jax.tree.map(jnp.shape, ours.init(jax.random.key(0), x))
                == jax.tree.map(jnp.shape, variables))
        # the same initial values too (same parameter names, order and initialisers)
        for a, b in zip(jax.tree.leaves(ours.init(jax.random.key(0), x)),
                        jax.tree.leaves(variables)):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(ours.apply(variables, x), theirs.apply(variables, x),
                                   atol=1e-5)


def test_bad_shapes_are_named():
    x, kernel = inputs((1, 4, 4, 3), (2, 2, 3, 3))
    with pytest.raises(ValueError, match="odd square kernel"):
        conv_same(x, kernel)
    with pytest.raises(ValueError, match="input has 3 channels, kernel expects 5"):
        conv_same(x, jnp.zeros((3, 3, 5, 2)))


def test_the_forms_agree_with_leading_axes_and_bad_forms_are_refused():
    x, kernel = inputs((2, 3, 5, 4, 3), (3, 3, 3, 6))  # two leading axes
    expected = conv_same(x, kernel)
    for form in ("auto", "matmul", "lax"):
        np.testing.assert_allclose(convolve(x, kernel, form), expected, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="conv must be one of"):
        convolve(x, kernel, "cudnn")


def test_auto_lowers_only_its_platform_form():
    """On CPU, "auto" is the matmul form inside the compiled program: no convolution op."""
    x, kernel = inputs((2, 6, 6, 3), (3, 3, 3, 8))
    auto = jax.jit(conv_auto).lower(x, kernel).as_text()
    lax_form = jax.jit(conv_lax).lower(x, kernel).as_text()
    assert "stablehlo.convolution" in lax_form
    assert "stablehlo.convolution" not in auto and "dot_general" in auto
    # and for a GPU target the lax branch is the one taken (cross-platform lowering)
    exported = jax.export.export(jax.jit(conv_auto), platforms=("cpu", "cuda"))(x, kernel)
    text = exported.mlir_module()
    assert "stablehlo.convolution" in text and "dot_general" in text


def test_lax_on_a_cpu_warns_once(monkeypatch):
    from nif_zoo.flows import conv as conv_module

    monkeypatch.setattr(conv_module, "_warned_lax_on_cpu", [])
    x, kernel = jnp.ones((1, 4, 4, 2)), jnp.ones((3, 3, 2, 2))
    with pytest.warns(RuntimeWarning, match="15x slower"):
        convolve(x, kernel, "lax")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        convolve(x, kernel, "lax")  # once per process
        convolve(x, kernel, "matmul")
