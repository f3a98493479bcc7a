import glob
import json
import os

import pytest

import nif_zoo
from nif_zoo.models.factory import model_config as make_model_config
from nif_zoo.train import load_config
from nif_zoo.recipe import make_config

CONFIGS = sorted(glob.glob(os.path.join(os.path.dirname(nif_zoo.__file__), "configs", "*.yaml")))


@pytest.mark.parametrize("path", CONFIGS, ids=os.path.basename)
def test_bundled_configs_are_valid(path):
    config = load_config(path)
    data = config["data"]
    make_model_config(image_shape=data["image_shape"], n_bits=data["n_bits"],
                      seed=config["train"]["seed"], **config["model"])


def test_bundled_mnist_configs_differ_only_in_the_prior():
    # the comparison set shares the Glow trunk (the progressive model has its own stages)
    configs = {os.path.basename(p): load_config(p) for p in CONFIGS
               if "-mnist32" in p and not os.path.basename(p).startswith("prognif")}
    faces = [load_config(p) for p in CONFIGS if "-lfw24" in p]
    assert len(faces) == 2 and faces[0]["data"] == faces[1]["data"] and faces[0]["train"] == faces[1]["train"]
    assert len(configs) >= 3
    stripped = [json.dumps({**c, "zoo": None,
                            "model": {k: v for k, v in c["model"].items()
                                      if k in ("levels", "steps", "width")}},
                           sort_keys=True)
                for c in configs.values()]
    assert len(set(stripped)) == 1


def test_json_config_and_clear_errors(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"train": {"steps": 5}, "model": {"kind": "nf"}}))
    config = load_config(str(path))
    assert config["train"]["steps"] == 5 and config["train"]["batch_size"] == 32
    with pytest.raises(ValueError, match="unknown train keys"):
        make_config({"train": {"epochs": 3}})
    with pytest.raises(ValueError, match="unknown config section"):
        make_config({"optim": {}})
    with pytest.raises(ValueError, match="train.batch_size must be a positive integer"):
        make_config({"train": {"batch_size": 0}})
