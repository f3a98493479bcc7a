"""The public Model API on tiny NF / NIF models."""
import json
import math

import jax
import numpy as np
import pytest
from scipy import stats

import nif_zoo
from nif_zoo.models import Model

SHAPE = (8, 8, 1)
SIZES = dict(image_shape=SHAPE, levels=2, steps=2, width=8, seed=3)


def images(n=6, seed=0):
    """Smooth-ish uint8 images (a random gradient plus noise), not uniform noise."""
    r = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:8, 0:8] / 7.0
    a, b = r.uniform(-1, 1, size=(2, n, 1, 1))
    base = 128 + 90 * (a * yy + b * xx)[..., None] / 2
    return np.clip(base + r.normal(0, 20, size=(n,) + SHAPE), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def models():
    init = images(32, seed=1)
    return {
        "nf": nif_zoo.create_model("nf", init_images=init, **SIZES),
        "nif": nif_zoo.create_model("nif", latent_dim=8, init_images=init, **SIZES),
        "nif_upsample": nif_zoo.create_model("nif", latent_dim=8, nif_form="upsample",
                                             init_images=init, **SIZES),
        "deep_nif": nif_zoo.create_model("deep_nif", latent_dim=8, prior_layers=2,
                                         prior_hidden=16, init_images=init, **SIZES),
        "deep_nif_upsample": nif_zoo.create_model("deep_nif", latent_dim=8, nif_form="upsample",
                                                  prior_layers=2, prior_hidden=16,
                                                  init_images=init, **SIZES),
    }


def glow_latent(model, y):
    """The Glow's output and the log-dets up to it (the layers before the Glow's successor)."""
    i = model.module.index("glow")
    return model.module.apply(model.variables, y, 0, i + 1, method="forward_range")


def test_nf_and_nif_start_from_the_same_glow(models):
    for name in ("nif", "nif_upsample", "deep_nif"):
        for col in ("params", "constants"):
            a, b = models["nf"].variables[col]["glow"], models[name].variables[col]["glow"]
            assert jax.tree.structure(a) == jax.tree.structure(b)
            for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
                np.testing.assert_array_equal(u, v)


@pytest.mark.parametrize("name", ["nf", "nif"])
def test_log_prob_is_exact_against_a_dense_reference(models, name):
    model = models[name]
    x = images(4)
    y = (x.astype(np.float32) + 0.5) / 256
    z, log_det = glow_latent(model, y)
    z = np.asarray(z, np.float64).reshape(4, -1)
    n = z.shape[1]
    if name == "nf":
        ref = stats.multivariate_normal(np.zeros(n), np.eye(n)).logpdf(z)
    else:
        p = model.variables["params"]["prior"]
        A, b, lv = (np.asarray(p[k], np.float64) for k in ("A", "b", "log_var"))
        ref = stats.multivariate_normal(b, A @ A.T + np.diag(np.exp(lv))).logpdf(z)
    ref = ref + np.asarray(log_det) - n * 8 * math.log(2)
    np.testing.assert_allclose(model.log_prob(x), ref, rtol=1e-5, atol=1e-2)
    bpd = np.mean(-ref / (n * math.log(2)))
    assert model.bits_per_dim(x) == pytest.approx(bpd, rel=1e-5)


def test_log_prob_is_deterministic_and_dequantisation_noise_is_by_key(models):
    model, x = models["nif"], images(4)
    np.testing.assert_array_equal(model.log_prob(x), model.log_prob(x))
    np.testing.assert_array_equal(model.log_prob(x, key=1), model.log_prob(x, key=1))
    assert not np.allclose(model.log_prob(x, key=1), model.log_prob(x, key=2))
    assert not np.allclose(model.log_prob(x, key=1), model.log_prob(x))


def test_batches_do_not_change_results(models):
    model, x = models["nif"], images(7)
    np.testing.assert_allclose(model.log_prob(x, batch_size=3), model.log_prob(x), rtol=1e-6)
    np.testing.assert_allclose(model.embed(x, batch_size=2), model.embed(x), atol=1e-5)


@pytest.mark.parametrize("name", ["nif", "nif_upsample", "deep_nif", "deep_nif_upsample"])
def test_nif_projection_property_and_idempotent_reconstruction(models, name):
    model = models[name]
    z = model.embed(images(5))
    assert z.shape == (5, 8) and z.dtype == np.float32
    x_on = model.decode(z, s=0.0)
    assert x_on.shape == (5,) + SHAPE and x_on.dtype == np.float32
    assert x_on.min() >= 0 and x_on.max() <= 1  # needed to feed it back in
    np.testing.assert_allclose(model.embed(x_on), z, atol=1e-3)
    rec = model.reconstruct(x_on)
    np.testing.assert_allclose(model.reconstruct(rec), rec, atol=1e-3)
    if name.startswith("deep"):
        return
    posterior = model.embed(images(5), estimate="posterior_mean")
    assert np.all(np.linalg.norm(posterior, axis=1) <= np.linalg.norm(z, axis=1) + 1e-5)


def test_nf_embed_then_decode_is_the_identity(models):
    model = models["nf"]
    x = images(3)
    z = model.embed(x)
    assert z.shape == (3, 64)
    y = (x.astype(np.float32) + 0.5) / 256
    np.testing.assert_allclose(model.decode(z), y, atol=1e-4)
    np.testing.assert_array_equal(model.reconstruct(x), x)


@pytest.mark.parametrize("name", ["nf", "nif", "nif_upsample", "deep_nif"])
def test_sampling_is_seeded_finite_and_respects_t_and_s(models, name):
    model = models[name]
    a = model.sample(5, temperature=0.7, s=0.5, seed=4)
    assert a.shape == (5,) + SHAPE and a.dtype == np.uint8
    np.testing.assert_array_equal(a, model.sample(5, temperature=0.7, s=0.5, seed=4))
    assert not np.array_equal(a, model.sample(5, temperature=0.7, s=0.5, seed=5))
    for t, s in [(0.0, 0.0), (0.0, 1.0), (1.0, 0.0)]:
        y = model.decode(t * np.ones((2, model.latent_dim), np.float32), s=s)
        assert np.all(np.isfinite(y))
    zero_t = model.sample(3, temperature=0.0, s=0.0, seed=1)
    np.testing.assert_array_equal(zero_t, model.sample(3, temperature=0.0, s=0.0, seed=2))
    z = np.random.default_rng(0).normal(size=(3, model.latent_dim)).astype(np.float32)
    on, noisy = model.decode(z, s=0.0, seed=0), model.decode(z, s=1.0, seed=0)
    if name == "nf":  # no noise model
        np.testing.assert_array_equal(on, noisy)
        return
    assert not np.allclose(on, noisy)
    # learned Sigma (here made non-identity) vs the authors' isotropic noise
    variables = jax.tree.map(lambda a: a, model.variables)
    nif = variables["params"]["nif" if name.startswith("deep") else "prior"]
    nif["log_var"] = nif["log_var"] - 1.0
    other = model.with_variables(variables)
    noisy = other.decode(z, s=1.0, seed=0)
    iso = other.decode(z, s=1.0, seed=0, isotropic=True)
    assert not np.allclose(noisy, iso)
    np.testing.assert_array_equal(iso, other.decode(z, s=1.0, seed=0, noise_form="isotropic"))
    # the authors' form: noise of standard deviation s, the same draws as N(0, s I) scaled
    on = other.decode(z, s=0.0)
    authors = other.decode(z, s=0.25, seed=0, noise_form="authors")
    quarter = other.decode(z, s=0.0625, seed=0, noise_form="isotropic")  # sqrt(0.0625) = 0.25
    np.testing.assert_allclose(authors, quarter, atol=1e-5)
    assert not np.allclose(authors, on)
    with pytest.raises(ValueError, match="noise_form must be one of"):
        other.decode(z, s=1.0, noise_form="gaussian")
    with pytest.raises(ValueError, match="disagree"):
        other.decode(z, s=1.0, isotropic=True, noise_form="authors")


def test_config_is_json_and_rebuilds_the_same_model(models):
    model = models["nif_upsample"]
    config = json.loads(json.dumps(model.config.to_dict()))  # the JSON form
    assert json.loads(json.dumps(dict(model.config))) == config  # a mapping of the same keys
    clone = Model(config, model.variables)
    np.testing.assert_allclose(clone.log_prob(images(2)), model.log_prob(images(2)), rtol=1e-6)
    assert config["upsample_factor"] == 4 and model.latent_dim == 8


BAD_INPUTS = [
    ("log_prob", (np.zeros((2, 8, 8, 3), np.uint8),), "3 channels but the model expects 1"),
    ("log_prob", (np.zeros((2, 16, 16, 1), np.uint8),), "must be 8x8"),
    ("log_prob", (np.zeros((8, 8, 1), np.uint8),), r"shape \(n, H, W, C\)"),
    ("log_prob", (np.full((1, 8, 8, 1), np.nan, np.float32),), "non-finite"),
    ("log_prob", (np.full((1, 8, 8, 1), 255.0, np.float32),),
     r"float images must lie in the data scale \[0, 1\].*0\.\.255 floats"),
    ("embed", (np.full((1, 8, 8, 1), -2.5, np.float32),), r"accepted: \[-2, 3\]"),
    ("log_prob", (np.full((1, 8, 8, 1), 256, np.int32),), r"\[0, 256\)"),
    ("log_prob", (np.full((1, 8, 8, 1), -1, np.int32),), r"\[0, 256\)"),
    ("log_prob", (np.zeros((0, 8, 8, 1), np.uint8),), "empty"),
    ("embed", (np.zeros((1, 8, 8, 1), bool),), "integers or floats"),
    ("decode", (np.zeros((2, 7), np.float32),), r"shape \(n, 8\)"),
    ("decode", (np.zeros(8, np.float32),), r"shape \(n, 8\)"),
    ("decode", (np.full((1, 8), np.inf, np.float32),), "non-finite"),
    ("sample", (4,), "temperature must be finite and >= 0", dict(temperature=-0.1)),
    ("sample", (4,), "s must be finite and >= 0", dict(s=-1.0)),
    ("decode", (np.zeros((1, 8), np.float32),), "s must be finite and >= 0", dict(s=-1.0)),
    ("sample", (0,), "num must be a positive integer"),
    ("embed", (np.zeros((1, 8, 8, 1), np.uint8),), "estimate must be", dict(estimate="mean")),
]


@pytest.mark.parametrize("name", ["nif", "deep_nif"])
@pytest.mark.parametrize("case", BAD_INPUTS, ids=[c[2][:30] for c in BAD_INPUTS])
def test_bad_input_raises_a_clear_value_error(models, case, name):
    method, args, match, *kw = case
    with pytest.raises(ValueError, match=match):
        getattr(models[name], method)(*args, **(kw[0] if kw else {}))


@pytest.mark.parametrize("kwargs,match", [
    (dict(kind="vae"), "kind must be one of"),
    (dict(kind="nif"), "needs latent_dim"),
    (dict(kind="nif", latent_dim=65), "latent_dim must be <= N"),
    (dict(kind="nf", latent_dim=8), "NF's latent is all"),
    (dict(kind="nif", latent_dim=8, colour=True), "unknown options"),
    (dict(kind="nif", latent_dim=8, levels=4), "divisible by 2\\^levels"),
    (dict(kind="nif", latent_dim=7, nif_form="upsample", image_shape=(24, 24, 1)),
     "no upsampling factor"),
    (dict(kind="nif", latent_dim=8, nif_form="upsample", upsample_factor=2), "does not fit"),
    (dict(kind="nif", latent_dim=8, nif_form="sparse"), "nif_form must be one of"),
    (dict(kind="nif", latent_dim=8, n_bits=9), "n_bits"),
])
def test_create_model_rejects_bad_configs(kwargs, match):
    args = {**SIZES, **kwargs}
    kind = args.pop("kind")
    with pytest.raises(ValueError, match=match):
        nif_zoo.create_model(kind, **args)


def test_sampling_warns_when_the_inverse_overflows(models):
    model = models["nf"]
    variables = jax.tree.map(lambda a: a, model.variables)
    actnorm = variables["params"]["glow"]["level_0"]["step"]["actnorm"]  # scanned: (K, C)
    actnorm["log_scale"] = actnorm["log_scale"] - 100.0  # the inverse scales by e^100
    with pytest.warns(RuntimeWarning, match="3 of 3 samples have non-finite pixels"):
        out = model.with_variables(variables).sample(3, temperature=1.0, seed=0)
    assert out.dtype == np.uint8


@pytest.mark.parametrize("kind", ["nf", "nif", "deep_nif"])
def test_randomness_is_per_example_not_per_batch(tiny_models, kind):
    """log_prob / elbo / iw_bound draws and the noise of samples at s > 0 come from a key per
    example: the same numbers whatever the batch size."""
    model = (tiny_models[kind] if kind in tiny_models else nif_zoo.create_model(
        "nf", image_shape=(8, 8, 1), levels=2, steps=1, width=8, seed=3))
    images = np.random.default_rng(0).integers(0, 256, (7, 8, 8, 1), dtype=np.uint8)
    close = dict(rtol=2e-5, atol=2e-4)
    np.testing.assert_allclose(model.log_prob(images, key=1, batch_size=2),
                               model.log_prob(images, key=1, batch_size=7), **close)
    np.testing.assert_allclose(model.sample(5, s=0.5, seed=2, batch_size=2).astype(int),
                               model.sample(5, s=0.5, seed=2, batch_size=5).astype(int), atol=1)
    if kind == "deep_nif":
        for method in (model.elbo, model.iw_bound):
            np.testing.assert_allclose(method(images, seed=4, batch_size=3),
                                       method(images, seed=4, batch_size=7), **close)


def test_with_variables_reuses_the_compiled_functions(tiny_models):
    """Training evaluates model.with_variables(state) periodically: no retrace, no recompile."""
    model = tiny_models["nif"]
    images = np.random.default_rng(1).integers(0, 256, (5, 8, 8, 1), dtype=np.uint8)
    model.log_prob(images)
    model.embed(images)
    compiled = model._log_density
    size = compiled._cache_size()
    other = model.with_variables(jax.tree.map(lambda a: a * 1.0, model.variables))
    assert other._log_density is compiled and other._embed is model._embed
    other.log_prob(images)
    assert compiled._cache_size() == size
    # the other variables are really used
    assert not np.allclose(other.log_prob(images), model.with_variables(
        jax.tree.map(lambda a: a * 0.9, model.variables)).log_prob(images))


@pytest.mark.parametrize("name", ["nif64-mnist32", "nif64-mnist28-3bit"])
def test_what_decode_returns_every_method_accepts(name):
    """decode's output (data scale, neither clipped nor quantised) is valid input to embed,
    log_prob and reconstruct; embed undoes decode on the manifold. A logit model
    (nif64-mnist28-3bit) has density 0 outside its domain: log_prob says -inf there, embed
    still projects."""
    import nif_zoo

    model = nif_zoo.load(name)
    z = np.random.default_rng(0).standard_normal((6, model.latent_dim)).astype(np.float32)
    y = model.decode(z, s=0.0)
    if model.config.get("logit") is None:
        assert y.min() < 0.0 and y.max() > 1.0  # outside [0, 1]: the case at hand
    np.testing.assert_allclose(model.embed(y), z, atol=1e-3)
    assert np.all(np.isfinite(model.log_prob(y)))
    assert model.reconstruct(y).shape == y.shape
    if model.config.get("logit") is not None:
        outside = np.full((1,) + model.image_shape, -0.2, np.float32)
        assert model.log_prob(outside)[0] == -np.inf
        assert np.all(np.isfinite(model.embed(outside)))


@pytest.mark.parametrize("name", ["nf", "deep_nif_upsample"])
def test_decoding_reads_each_inverse_weight_from_the_cache(models, name):
    """The generative direction multiplies by a cached W^-1 per 1x1 convolution (built once
    per model): the same images as solving for it every call, and a model with other
    variables builds its own cache."""
    model = models[name]
    z = np.asarray(jax.random.normal(jax.random.key(0), (4, model.latent_dim)))
    cache = model._decode_variables["cache"]
    inverses = jax.tree.leaves(cache)
    assert inverses and all(w.shape[-1] == w.shape[-2] for w in inverses)
    solved = model.module.apply(model.variables, z, 0.0, method="decode")  # no cache: solves
    np.testing.assert_allclose(model.decode(z), solved, rtol=1e-5, atol=1e-5)
    assert model._decode_variables["cache"] is cache  # built once
    other = model.with_variables(jax.tree.map(lambda a: a * 1.01, model.variables))
    assert other._decode_variables["cache"] is not cache
    np.testing.assert_allclose(other.decode(z), other.module.apply(
        other.variables, z, 0.0, method="decode"), rtol=1e-5, atol=1e-5)
