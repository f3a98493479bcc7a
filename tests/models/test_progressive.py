"""The progressive model (paper sec. 4.1): latent image -> Glow -> x2 upsampling NIF -> ... ->
image, through the public API, deterministic by seed, saved and loaded like every kind."""
import numpy as np
import pytest

import nif_zoo

KW = dict(image_shape=(8, 8, 1), latent_shape=(2, 2, 1), steps=1, width=8, seed=1,
          iw_samples=8)


@pytest.fixture(scope="module")
def model():
    init = np.random.default_rng(0).integers(0, 256, (16, 8, 8, 1)).astype(np.uint8)
    return nif_zoo.create_model("progressive", init_images=init, **KW), init


def test_layers_shapes_and_capabilities(model):
    m, _ = model
    chain = m.module
    assert chain.layer_names == ("pre", "glow_0", "nif_0", "glow_1", "nif_1", "glow_2")
    assert chain.event_shapes == ((8, 8, 1), (8, 8, 1), (8, 8, 1), (4, 4, 1), (4, 4, 1),
                                  (2, 2, 1), (2, 2, 1))
    assert m.latent_dim == 4 and m.config["latent_shape"] == [2, 2, 1]
    assert m.config["levels"] == 1  # the default: one Glow level per stage
    assert not m.exact and m.has_noise_model and m.likelihood == "IW bound K=8"
    assert m.architecture.tag == "prognif"


def test_sample_decode_embed_and_bounds(model):
    m, images = model
    x = images[:5]
    z = m.embed(x)
    assert z.shape == (5, 4) and z.dtype == np.float32
    on = m.decode(z, s=0.0)
    assert on.shape == (5, 8, 8, 1)
    np.testing.assert_allclose(m.embed(on), z, atol=1e-3)  # a projection
    noisy = m.decode(z, s=0.5, seed=3)
    assert not np.allclose(noisy, on)
    # the same draws whatever the batch (per-example keys); float rounding may differ when
    # batches are split over several devices
    np.testing.assert_allclose(noisy, m.decode(z, s=0.5, seed=3, batch_size=2), rtol=1e-5,
                               atol=1e-5)
    samples = m.sample(6, temperature=0.8, s=0.2, seed=4)
    assert samples.shape == (6, 8, 8, 1) and samples.dtype == np.uint8
    other = m.sample(6, temperature=0.8, s=0.2, seed=4, batch_size=4)
    diff = np.abs(samples.astype(int) - other)
    assert diff.max() <= 1 and np.mean(diff != 0) < 0.01  # a rounding boundary at most
    # ELBO <= IW_K on average over seeds; log_prob is the IW bound with K = iw_samples
    elbo = np.mean([m.elbo(x, seed=k) for k in range(10)], axis=0)
    iw = np.mean([m.iw_bound(x, num_samples=32, seed=k) for k in range(10)], axis=0)
    assert np.mean(elbo) <= np.mean(iw)
    np.testing.assert_allclose(m.log_prob(x), m.iw_bound(x, num_samples=8), rtol=1e-6)
    np.testing.assert_allclose(m.log_prob(x), m.log_prob(x, batch_size=2), rtol=1e-6)
    assert np.isfinite(m.bits_per_dim(x, key=0))


def test_save_and_load(model, tmp_path):
    m, images = model
    folder = m.save_pretrained(str(tmp_path / "prog"))
    loaded = nif_zoo.load(folder)
    assert loaded.kind == "progressive" and loaded.latent_dim == 4
    np.testing.assert_array_equal(loaded.sample(3, s=0.3, seed=1), m.sample(3, s=0.3, seed=1))
    np.testing.assert_allclose(loaded.log_prob(images[:3]), m.log_prob(images[:3]), rtol=1e-6)


@pytest.mark.parametrize("change, message", [
    (dict(latent_shape=None), "needs latent_shape"),
    (dict(latent_shape=(3, 3, 1)), "must divide image_shape"),
    (dict(latent_shape=(2, 4, 1)), "same power of 2"),
    (dict(latent_shape=(4, 4, 5)), "c_z <= 4 c"),
    (dict(levels=2), "every stage's H and W must be divisible by 4"),
    (dict(latent_dim=5), "prod\\(latent_shape\\)"),
    (dict(prior="dense"), "do not apply to kind='progressive'"),
])
def test_clear_errors(change, message):
    kw = {**KW, **change}
    if kw["latent_shape"] is None:
        kw.pop("latent_shape")
    with pytest.raises(ValueError, match=message):
        nif_zoo.create_model("progressive", **kw)


def test_trains_from_a_recipe_and_refuses_a_refit_it_cannot_do(tmp_path):
    from nif_zoo.train import load_trained, train

    config = {"model": {"kind": "progressive", "latent_shape": [2, 2, 1], "steps": 1,
                        "width": 8, "iw_samples": 4},
              "data": {"dataset": "lfw_faces", "image_shape": [8, 8, 1], "n_bits": 5,
                       "fit": "resize", "eval_split": "test"},
              "train": {"batch_size": 10, "steps": 3, "checkpoint_every": 3, "eval_every": 3}}
    result = train(config, str(tmp_path / "run"), progress=False)
    assert result.final_step == 3 and result.model.kind == "progressive"
    assert np.isfinite([h["loss_bpd"] for h in result.history if "loss_bpd" in h]).all()
    again = load_trained(str(tmp_path / "run"))
    assert again.config == result.model.config
    config["train"]["refit_every"] = 2
    with pytest.raises(ValueError, match="2 noisy layers"):
        train(config, str(tmp_path / "refit"), progress=False)
