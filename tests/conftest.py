import pytest

import nif_zoo


@pytest.fixture(scope="session")
def tiny_models():
    """Two small models of different kinds (fresh weights, seed 3)."""
    kw = dict(image_shape=(8, 8, 1), levels=2, steps=1, width=8, seed=3)
    return {"nif": nif_zoo.create_model("nif", latent_dim=4, **kw),
            "deep_nif": nif_zoo.create_model("deep_nif", latent_dim=4, prior_layers=2,
                                             prior_hidden=8, prior_depth=1, iw_samples=4, **kw)}


@pytest.fixture(scope="session")
def tiny_folder(tiny_models, tmp_path_factory):
    """A pretrained folder of the tiny NIF (with training.json naming LFW-like data)."""
    folder = tmp_path_factory.mktemp("pretrained") / "tiny-nif"
    training = {"data": {"dataset": "lfw_faces", "image_shape": [8, 8, 1], "n_bits": 8,
                         "fit": "resize", "data_dir": None}}
    tiny_models["nif"].save_pretrained(str(folder), metrics={"test_bpd": 5.0, "images": 3},
                                       training=training)
    return str(folder)
