"""Checkpoints of earlier config formats load and compute what they computed when saved.

``fixtures/v1/``: small models of every kind, scan on and off, saved by the release with
format 1 (``scripts/make_format_fixtures.py``) with their outputs then: decode(z, s = 0),
embeddings, log P and bits/dim with dequantisation noise, samples with s > 0.
"""
import glob
import json
import os

import numpy as np
import pytest

import nif_zoo
from nif_zoo.models.config import FORMAT_VERSION, ModelConfig, migrate

pytestmark = pytest.mark.lowest  # also run at the lowest versions (.ci/lowest)

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
FIXTURES = sorted(p[:-4] for p in glob.glob(os.path.join(HERE, "v*", "*.npz")))


def test_there_is_a_fixture_of_every_kind_and_both_glow_forms():
    names = {os.path.basename(p) for p in FIXTURES}
    assert {"nf-scan", "nf-loop", "nif-dense-scan", "nif-dense-loop", "nif-upsample-scan",
            "deepnif-dense-scan", "deepnif-dense-loop", "deepnif-upsample-scan"} <= names


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: "/".join(p.split(os.sep)[-2:]))
def test_an_old_checkpoint_loads_and_gives_the_same_outputs(path):
    with open(os.path.join(path, "config.json")) as fh:
        raw = json.load(fh)
    model = nif_zoo.load(path)
    assert model.config.format_version == FORMAT_VERSION
    assert model.config.scan == raw.get("scan", False)
    expected = np.load(path + ".npz")
    images, z = expected["images"], expected["z"]
    np.testing.assert_allclose(model.decode(z, s=0.0), expected["decode_s0"], atol=1e-5)
    np.testing.assert_allclose(model.embed(images), expected["embed"], atol=1e-4)
    np.testing.assert_allclose(model.log_prob(images, key=0), expected["log_prob"], rtol=1e-6)
    assert model.bits_per_dim(images, key=0) == pytest.approx(float(expected["bits_per_dim"]),
                                                              rel=1e-6)
    np.testing.assert_array_equal(model.sample(3, temperature=0.8, s=0.3, seed=2),
                                  expected["sample"])


def test_migration_of_format_1():
    v1 = {"kind": "deep_nif", "image_shape": [8, 8, 1], "levels": 2, "steps": 1, "width": 8,
          "n_bits": 8, "seed": 0, "additive": False, "lu": True, "latent_dim": 4,
          "nif": "dense", "prior_layers": 2, "prior_hidden": 8, "prior_depth": 1,
          "elbo_samples": 1, "iw_samples": 4, "format_version": 1}
    migrated = migrate(v1)
    assert migrated["nif_form"] == "dense" and "nif" not in migrated
    assert migrated["scan"] is False  # written before the scanned Glow: trained unrolled
    assert migrated["format_version"] == FORMAT_VERSION and v1["format_version"] == 1
    config = ModelConfig.from_dict(v1)
    assert config.option("nif_form") == "dense" and config["prior_layers"] == 2
    assert ModelConfig.from_dict(config.to_dict()) == config  # the JSON form round-trips
    nif = dict(v1, kind="nif", prior="upsample", upsample_factor=2)
    for key in ("nif", "prior_layers", "prior_hidden", "prior_depth", "elbo_samples",
                "iw_samples"):
        nif.pop(key)
    assert migrate(nif)["nif_form"] == "upsample"
    with pytest.raises(ValueError, match="newer than this nif-zoo"):
        migrate(dict(v1, format_version=FORMAT_VERSION + 1))
    with pytest.raises(ValueError, match="format_version"):
        migrate({k: v for k, v in v1.items() if k != "format_version"})


def test_configs_are_typed_and_frozen():
    model = nif_zoo.create_model("nif", image_shape=(8, 8, 1), levels=2, steps=1, width=8,
                                 latent_dim=4)
    config = model.config
    assert isinstance(config, ModelConfig) and config.latent_dim == 4
    with pytest.raises(Exception):
        config.latent_dim = 5
    with pytest.raises(TypeError):
        config["latent_dim"] = 5
    with pytest.raises(ValueError, match="must be of type int"):
        ModelConfig.from_dict(dict(config.to_dict(), upsample_factor="2"))
    with pytest.raises(ValueError, match="does not apply to kind='nif'"):
        ModelConfig.from_dict(dict(config.to_dict(), prior_layers=3))
    with pytest.warns(FutureWarning, match="prior= is now nif_form="):
        old = nif_zoo.create_model("nif", image_shape=(8, 8, 1), levels=2, steps=1, width=8,
                                   latent_dim=4, prior="dense")
    assert old.config == config
