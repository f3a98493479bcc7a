"""The registry: names, lookups, configs that build, cards that match."""
import os

import pytest

import nif_zoo
from nif_zoo.models.factory import model_config as make_config
from nif_zoo.zoo import publish
from nif_zoo.zoo import cards, hub, registry
from nif_zoo.zoo.registry import UnknownModelError

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def model_config(entry):
    d = entry.config["data"]
    return make_config(image_shape=d["image_shape"], n_bits=d["n_bits"],
                       seed=entry.config["train"]["seed"], **entry.config["model"])


def test_names_follow_the_scheme_and_agree_with_their_configs():
    names = nif_zoo.list_models()
    assert {"nf-mnist32", "nif32-mnist32", "nif64-mnist32", "deepnif64-mnist32", "nf-lfw24",
            "nif32-lfw24", "nf-celeba64-3bit", "nif512-celeba64-3bit",
            "deepnif128-celeba64-3bit", "nif64-fmnist28-3bit"} <= set(names)
    for name in names:
        entry = registry.get_entry(name)
        assert registry.NAME_PATTERN.match(name)
        config = model_config(entry)
        assert config["latent_dim"] == entry.latent_dim


def test_list_models_filters():
    assert nif_zoo.list_models("*-lfw24") == ["nf-lfw24", "nif32-lfw24"]
    bundled = nif_zoo.list_models(pretrained_only=True)
    assert set(bundled) == {n for n in nif_zoo.list_models()
                            if registry.get_entry(n).status == "bundled"}
    assert "nif128-celeba64-3bit" not in bundled and "nf-celeba64-3bit" in bundled  # a recipe; published
    assert nif_zoo.list_models("nothing*") == []


def test_unknown_name_lists_the_closest():
    with pytest.raises(UnknownModelError, match="did you mean nif64-mnist32"):
        nif_zoo.load("nif64-mnist")
    with pytest.raises(UnknownModelError, match="unknown model 'xyz'"):
        registry.get_entry("xyz")


@pytest.mark.parametrize("bad, message", [
    ("nif64-mnist", "does not follow"),
    ("nif32-mnist32", "latent_dim is 64"),
    ("nf-mnist32", "kind is 'nif'"),
    ("nif64-lfw32", "dataset is 'mnist'"),
    ("nif64-mnist24", "H=24"),
    ("nif64-mnist32-noise05", "data_noise is 0, the name says 0.05"),
    ("jet-nif64-mnist32", "trunk is 'glow', the name says 'jet'"),
    ("vit-nif64-mnist32", "does not follow"),
])
def test_check_entry_catches_mismatched_names(bad, message):
    config = registry.get_entry("nif64-mnist32").config
    with pytest.raises(ValueError, match=message):
        registry.check_entry(bad, config)


def test_a_noise_trained_models_name_says_its_sigma():
    import copy

    config = copy.deepcopy(registry.get_entry("nif64-mnist32").config)
    config["model"]["data_noise"] = 0.05
    registry.check_entry("nif64-mnist32-noise05", config)
    with pytest.raises(ValueError, match="data_noise is 0.05, the name says 0"):
        registry.check_entry("nif64-mnist32", config)


def test_a_jet_models_name_says_its_trunk():
    import copy

    config = copy.deepcopy(registry.get_entry("nif64-mnist32").config)
    config["model"]["trunk"] = "jet"
    registry.check_entry("jet-nif64-mnist32", config)
    with pytest.raises(ValueError, match="trunk is 'jet', the name says 'glow'"):
        registry.check_entry("nif64-mnist32", config)


def test_recipes_load_with_a_clear_message(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    with pytest.raises(hub.HubError, match="recipe: weights not published yet.*nif-zoo train "
                                           "--config nif_zoo/configs/nif128-celeba64-3bit.yaml"):
        nif_zoo.load("nif128-celeba64-3bit")


def test_every_registered_model_has_its_card():
    for name in nif_zoo.list_models():
        path = os.path.join(REPO, "model_cards", f"{name}.md")
        assert os.path.isfile(path), f"missing {path}: run nif-zoo cards"
        with open(path) as fh:
            assert fh.read() == publish.expected_card(name), f"{path} is stale: nif-zoo cards"


def test_recipe_card_content():
    entry = registry.get_entry("nif128-celeba64-3bit")
    card = cards.render_card(entry.name, model_config(entry), training=entry.config,
                             train_command=entry.train_command)
    assert card.startswith("---\nlicense: apache-2.0\nlibrary_name: nif-zoo\n")
    assert "weights not published yet" in card and "M = 128" in card
    assert "nif-zoo train --config nif_zoo/configs/nif128-celeba64-3bit.yaml" in card
    assert "the authors' setting" in card and "remaining differences" in card


@pytest.mark.slow
def test_recipes_build():
    """Every recipe's variables have a structure (no compute): the configs are runnable."""
    from nif_zoo.models.factory import abstract_variables

    from nif_zoo.models.architectures import architecture

    for name in nif_zoo.list_models():
        config = model_config(registry.get_entry(name))
        variables = abstract_variables(config)
        # the trunk layer the kinds share ("glow" or "jet"); the progressive kind's stages are Glows
        trunk = architecture(config["kind"]).trunk(config) or "glow"
        assert any(k.startswith(trunk) for k in variables["params"]), (name, trunk)


def test_readme_table_matches_the_bundled_metrics():
    with open(os.path.join(REPO, "README.md")) as fh:
        readme = fh.read()
    assert f"{publish.TABLE_START}\n{publish.bundled_table()}\n{publish.TABLE_END}" in readme, \
        "README's bundled-models table is stale: run nif-zoo cards"


def test_authors_setting_recipes_and_replaced_names():
    """The paper-scale recipes are the authors' setting (SPEC section 7); their old 8-bit
    names resolve to them with a warning."""
    levels = {"fmnist28": 2, "cifar32": 4, "celeba64": 5}
    from nif_zoo.recipe import make_config

    # the zoo's entries still recipes, and every recipe `nif-zoo reproduce` trains (the paper's
    # tables, configs/paper/, kept when the zoo publishes a smaller model under the name)
    configs = {n: registry.get_entry(n).config for n in nif_zoo.list_models()
               if n.endswith("-3bit") and registry.get_entry(n).status == "recipe"}
    paper = sorted(f[: -len(".yaml")] for f in os.listdir(registry.PAPER_DIR))
    assert len(paper) == 9 and len(configs) >= 3
    configs.update({n: make_config(registry.paper_recipe(n)) for n in paper})
    for name, c in configs.items():
        data_tag = name.split("-")[1]
        assert c["data"]["n_bits"] == 3 and c["model"]["logit"] == 0.05
        assert c["model"]["levels"] == levels[data_tag]
        t = c["train"]
        assert (t["clip_norm"], t["learning_rate"], t["warmup_steps"], t["batch_size"],
                t["init_images"]) == (5.0, 1e-4, 10000, 32, 1000)
        if data_tag == "celeba64":
            assert c["data"]["fit"] == "celeba_crop"
            assert c["data"]["split_scheme"] == "random_60_20_20"
    # the bundled MNIST pair in the authors' setting: their data treatment, a smaller schedule
    for name in ("nf-mnist28-3bit", "nif64-mnist28-3bit"):
        c = registry.get_entry(name).config
        assert (c["data"]["n_bits"], c["model"]["logit"], c["model"]["levels"]) == (3, 0.05, 2)
        assert (c["train"]["clip_norm"], c["train"]["init_images"]) == (5.0, 1000)
        assert "differences from the recipe" in c["zoo"]["limitations"]
    for old, new in registry.ALIASES.items():
        with pytest.warns(FutureWarning, match=f"replaced by {new}"):
            assert registry.get_entry(old).name == new
    with pytest.raises(ValueError, match="the name says 8"):
        registry.check_entry("nif64-fmnist28-8bit",
                             registry.get_entry("nif64-fmnist28-3bit").config)
