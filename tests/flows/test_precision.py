"""The matrix products where invertibility lives run at HIGHEST whatever JAX's global
default (nif_zoo.precision): checked in the lowered program's precision config."""
import re

import jax
import jax.numpy as jnp
import pytest

from nif_zoo import rng
from nif_zoo.flows import FlowStep, InvertibleConv1x1
from nif_zoo.nif.layers import DenseNIF, UpsampleNIF


def precisions(fn, *args):
    """The precision of every dot_general / convolution in ``jit(fn)``'s lowered program
    (and of its gradient's, when ``fn`` returns a scalar), traced under TF32 as the global
    default (what recent NVIDIA GPUs use)."""
    with jax.default_matmul_precision("tensorfloat32"):
        text = jax.jit(fn).lower(*args).as_text()
    found = re.findall(r"(?:dot_general|convolution).*?precision = \[(\w+), (\w+)\]", text)
    found += re.findall(r"convolution.*?precision (\w+)>, #stablehlo<precision (\w+)", text)
    assert found, text[:2000]
    return {p for pair in found for p in pair}


def x_of(shape):
    return 1.3 * rng.normal(jax.random.key(0), shape) + 0.2


@pytest.mark.parametrize("lu", [True, False])
def test_1x1_convolution_and_its_inverse_and_gradient(lu):
    layer = InvertibleConv1x1(lu=lu)
    x = x_of((2, 3, 3, 4))
    v = layer.init(jax.random.key(1), x, method="forward")
    assert precisions(lambda v, x: layer.apply(v, x, method="forward")[0], v, x) == {"HIGHEST"}
    assert precisions(lambda v, x: layer.apply(v, x, method="inverse")[0], v, x) == {"HIGHEST"}
    loss = lambda v, x: jnp.sum(layer.apply(v, x, method="inverse")[0] ** 2)  # noqa: E731
    assert precisions(jax.grad(loss), v, x) == {"HIGHEST"}


@pytest.mark.parametrize("make, shape", [
    (lambda: DenseNIF((3, 3, 2), 5), (4, 3, 3, 2)),
    (lambda: UpsampleNIF((4, 4, 2), 2, 3), (4, 4, 4, 2)),
])
def test_nif_solves_marginal_decode_and_gradients(make, shape):
    layer = make()
    x = x_of(shape)
    v = layer.init(jax.random.key(1), x, method="log_marginal")
    marginal = lambda v, x: jnp.sum(layer.apply(v, x, method="log_marginal"))  # noqa: E731
    assert precisions(marginal, v, x) == {"HIGHEST"}
    assert precisions(jax.grad(marginal), v, x) == {"HIGHEST"}
    z = layer.apply(v, x, method="stochastic_inverse")
    assert precisions(lambda v, x: layer.apply(v, x, method="stochastic_inverse"), v, x) == {
        "HIGHEST"}
    assert precisions(lambda v, z: layer.apply(v, z, method="decode"), v, z) == {"HIGHEST"}


def test_the_conditioner_keeps_the_global_precision():
    """Only the exact parts are pinned: a flow step's conditioner convolutions follow the
    global default (HIGH = TF32 here), its 1x1 convolution is HIGHEST."""
    step = FlowStep(width=8, conv="lax")
    x = x_of((2, 4, 4, 4))
    v = step.init(jax.random.key(1), x, method="forward")
    assert precisions(lambda v, x: step.apply(v, x, method="forward")[0], v, x) == {
        "HIGHEST", "HIGH"}


def test_the_compiled_program_carries_it():
    layer = InvertibleConv1x1()
    x = x_of((2, 3, 3, 4))
    v = layer.init(jax.random.key(1), x, method="forward")
    with jax.default_matmul_precision("tensorfloat32"):
        compiled = jax.jit(lambda v, x: layer.apply(v, x, method="inverse")[0]).lower(
            v, x).compile().as_text()
    assert "operand_precision={highest,highest}" in compiled, compiled[:3000]
