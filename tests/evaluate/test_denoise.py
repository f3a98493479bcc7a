"""Denoising by projection (nif_zoo.evaluate.denoise) against hand computations."""
import numpy as np
import pytest

from nif_zoo.evaluate.denoise import PCA, denoising_rows, noisy_versions, psnr


def test_psnr_and_pca():
    clean = np.full((2, 4, 4, 1), 0.5)
    assert psnr(clean, clean + 0.1)[0] == pytest.approx(20.0)
    r = np.random.default_rng(0)
    basis = np.linalg.qr(r.standard_normal((16, 3)))[0]
    train = 0.5 + 0.1 * (r.standard_normal((200, 3)) @ basis.T)
    pca = PCA(train.reshape(200, 4, 4, 1), 3)
    x = train[:5].reshape(5, 4, 4, 1)
    np.testing.assert_allclose(pca.project(x), x, atol=1e-9)  # in the span: unchanged
    off = x + 0.05 * (np.eye(16)[0] - basis @ (basis.T @ np.eye(16)[0])).reshape(1, 4, 4, 1)
    np.testing.assert_allclose(pca.project(off), x, atol=1e-9)  # the orthogonal part removed
    with pytest.raises(ValueError, match="PCA dim"):
        PCA(train, 17)


def test_rows_and_the_noise_draws(tiny_models):
    model = tiny_models["nif"]
    r = np.random.default_rng(1)
    test = r.integers(0, 256, (6, 8, 8, 1), dtype=np.uint8)
    train = r.integers(0, 256, (30, 8, 8, 1), dtype=np.uint8)
    rows = denoising_rows({"nif": model}, test, train, 8, sigmas=(0.1, 0.4))
    assert [row["method"] for row in rows] == ["noisy input", "nif", "PCA-4"]
    assert rows[0][0.1] > rows[0][0.4]  # more noise, lower PSNR
    np.testing.assert_array_equal(noisy_versions(np.zeros((2, 2)), 0.1, 3),
                                  noisy_versions(np.zeros((2, 2)), 0.1, 3))
    assert noisy_versions(np.zeros((50, 2)), 0.4).min() == 0.0  # clipped to the data range
