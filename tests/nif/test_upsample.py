"""The O(dim z) upsampling NIF equals the dense Gaussian NIF with the explicit A."""
import jax
import numpy as np
import pytest

from nif_zoo.nif import gaussian, upsample

H, W_, F = 2, 3, 2  # latent 2 x 3, factor 2 -> image 4 x 6


def explicit_matrix(W, factor, h, w, c_x):
    """A (N, M) by the indexing rule of SPEC section 3, written out with loops."""
    c_z = W.shape[1]
    A = np.zeros((factor * h * factor * w * c_x, h * w * c_z), np.float32)
    for i in range(h):
        for j in range(w):
            for di in range(factor):
                for dj in range(factor):
                    for c in range(c_x):
                        row = ((i * factor + di) * (w * factor) + (j * factor + dj)) * c_x + c
                        for k in range(c_z):
                            A[row, (i * w + j) * c_z + k] = W[(di * factor + dj) * c_x + c, k]
    return A


def problem(c_x, c_z, batch=3, seed=0):
    r = np.random.default_rng(seed)
    # a well-conditioned W (singular values in [0.5, 2]) so float32 error stays ~1e-6
    q, _ = np.linalg.qr(r.normal(size=(F * F * c_x, c_z)))
    rot, _ = np.linalg.qr(r.normal(size=(c_z, c_z)))
    W = (q * r.uniform(0.5, 2.0, size=c_z)) @ rot
    W = W.astype(np.float32)
    shape = (F * H, F * W_, c_x)
    b = r.normal(size=shape).astype(np.float32)
    log_var = (0.4 * r.normal(size=shape)).astype(np.float32)
    x = r.normal(size=(batch,) + shape).astype(np.float32)
    A = explicit_matrix(W, F, H, W_, c_x)
    return x, W, b, log_var, A


CHANNELS = [(1, 1), (1, 3), (2, 5), (3, 12)]


@pytest.mark.parametrize("c_x,c_z", CHANNELS)
def test_densities_equal_dense_formulas(c_x, c_z):
    x, W, b, lv, A = problem(c_x, c_z)
    dense = (x.reshape(len(x), -1), A, b.ravel(), lv.ravel())
    for fn in ("log_marginal", "manifold_term"):
        np.testing.assert_allclose(getattr(upsample, fn)(x, W, b, lv, F),
                                   getattr(gaussian, fn)(*dense), rtol=1e-5, atol=1e-3)


@pytest.mark.parametrize("c_x,c_z", CHANNELS)
def test_embeddings_and_decoding_equal_dense_formulas(c_x, c_z):
    x, W, b, lv, A = problem(c_x, c_z)
    n = len(x)
    dense = (x.reshape(n, -1), A, b.ravel(), lv.ravel())
    for fn in ("stochastic_inverse_mode", "posterior_mean"):
        np.testing.assert_allclose(
            np.asarray(getattr(upsample, fn)(x, W, b, lv, F)).reshape(n, -1),
            getattr(gaussian, fn)(*dense), rtol=1e-4, atol=1e-4)
    z = np.random.default_rng(1).normal(size=(n, H, W_, c_z)).astype(np.float32)
    np.testing.assert_allclose(
        np.asarray(upsample.decode_mean(z, W, b, F)).reshape(n, -1),
        gaussian.decode_mean(z.reshape(n, -1), A, b.ravel()), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        upsample.log_stochastic_inverse(z, x, W, b, lv, F),
        gaussian.log_stochastic_inverse(z.reshape(n, -1), *dense), rtol=1e-4, atol=1e-3)


def test_sampling_shapes_and_on_manifold_round_trip():
    x, W, b, lv, _ = problem(2, 3)
    z = upsample.sample_stochastic_inverse(jax.random.key(0), x, W, b, lv, F)
    assert z.shape == (3, H, W_, 3)
    x_on = upsample.generate(jax.random.key(1), z, W, b, lv, F, s=0.0)
    np.testing.assert_allclose(upsample.stochastic_inverse_mode(x_on, W, b, lv, F), z, atol=1e-4)
    x_noisy = upsample.generate(jax.random.key(1), z, W, b, lv, F, s=1.0)
    assert x_noisy.shape == x.shape and not np.allclose(x_noisy, x_on)


def test_bad_shapes_are_clear():
    x, W, b, lv, _ = problem(1, 2)
    with pytest.raises(ValueError, match=r"W must have shape"):
        upsample.log_marginal(x, W[:3], b, lv, F)
    with pytest.raises(ValueError, match="c_z <= f"):
        upsample.log_marginal(x, np.ones((4, 5), np.float32), b, lv, F)
    with pytest.raises(ValueError, match="shaped like one image"):
        upsample.log_marginal(x, W, b[:2], lv, F)
