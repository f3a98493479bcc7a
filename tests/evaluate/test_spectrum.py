"""The Nyquist share (nif_zoo.evaluate.spectrum) against hand-made images."""
import numpy as np
import pytest

from nif_zoo.evaluate.spectrum import checkerboard, nyquist_share


def test_known_images():
    h = w = 8
    i, j = np.mgrid[:h, :w]
    board = (-1.0) ** (i + j)
    smooth = np.exp(-((i - 3.5) ** 2 + (j - 3.5) ** 2) / 8.0)
    noise = np.random.default_rng(0).standard_normal((4000, h, w))
    shares = nyquist_share(np.stack([board, smooth, np.ones((h, w)), board + 5.0]))
    assert shares[0] == pytest.approx(h * w) and shares[3] == pytest.approx(h * w)
    assert shares[1] < 1e-3 and shares[2] == 0.0
    assert nyquist_share(noise).mean() == pytest.approx(h * w / (h * w - 1), rel=0.05)
    # a dense numpy reference of the same definition
    x = np.random.default_rng(1).uniform(size=(3, 6, 4, 3))
    g = x.mean(-1)
    for k in range(3):
        coef = np.sum(g[k] * (-1.0) ** np.add.outer(np.arange(6), np.arange(4)))
        centred = g[k] - g[k].mean()
        assert nyquist_share(x)[k] == pytest.approx(coef ** 2 / np.sum(centred ** 2), rel=1e-9)


def test_summary_and_bad_shapes():
    out = checkerboard(np.zeros((5, 4, 4, 1), np.uint8))
    assert out == {"nyquist_share": 0.0, "nyquist_share_sem": 0.0, "images": 5}
    with pytest.raises(ValueError, match="even H and W"):
        nyquist_share(np.zeros((2, 5, 4)))
    with pytest.raises(ValueError, match="expected images"):
        nyquist_share(np.zeros((4, 4)))


def test_prior_fit_diagnostics_carry_the_checkerboard():
    """eval --diagnostics and publish read the Nyquist share of samples at t = 0.7, s = 0 and
    of the held-out images beside the prior fit; the card shows it."""
    import nif_zoo
    from nif_zoo.data.sources import load_dataset
    from nif_zoo.evaluate.prior_fit import describe, prior_fit
    from nif_zoo.zoo.cards import prior_fit_rows

    model = nif_zoo.load("nif32-lfw24")
    faces = load_dataset("lfw_faces", "test", image_shape=(24, 24, 1), n_bits=5).images
    stats = prior_fit(model, faces, num_samples=50, seed=2)
    samples = model.sample(50, temperature=0.7, s=0.0, seed=2)
    assert stats["nyquist_share"] == pytest.approx(nyquist_share(samples).mean())
    assert stats["nyquist_share_heldout"] == pytest.approx(nyquist_share(faces).mean())
    assert "checkerboard (Nyquist share) of samples at t = 0.7" in describe(stats)
    assert prior_fit_rows(stats)[-1].endswith(f"| {stats['nyquist_share']:.3f} |")
