"""One source of truth per concept: what the architecture table says of a kind agrees with
the model it builds; the dataset table is what the loaders, the registry and the cards read."""
import pytest

import nif_zoo
from nif_zoo.data import datasets
from nif_zoo.models.architectures import TABLE
from nif_zoo.zoo import cards, registry

SIZES = dict(image_shape=(8, 8, 1), levels=1, steps=1, width=8, seed=0)
OPTIONS = {"nf": {}, "nif": {"latent_dim": 4}, "deep_nif": {"latent_dim": 4, "prior_layers": 2,
                                                              "prior_hidden": 8},
           "progressive": {"latent_shape": (4, 4, 1)}}


JET = dict(trunk="jet", patch_size=2, heads=2)


def test_every_kind_has_a_case():
    assert set(OPTIONS) == set(TABLE)


CASES = [(kind, "glow") for kind in sorted(TABLE)] + [
    (kind, "jet") for kind in sorted(TABLE) if TABLE[kind].has_trunk]


@pytest.mark.parametrize("kind, trunk", CASES)
def test_a_kinds_flags_and_roles_agree_with_the_model_it_builds(kind, trunk):
    arch = TABLE[kind]
    sizes = SIZES if trunk == "glow" else {**SIZES, "levels": None, **JET}
    model = nif_zoo.create_model(kind, **sizes, **OPTIONS[kind])
    assert arch.exact == bool(model.module.exact)
    assert arch.noise_model == bool(model.module.has_noise_model)
    names = model.module.layer_names
    assert arch.trunk(model.config) == (trunk if arch.has_trunk else None)
    assert not arch.has_trunk or trunk in names
    assert arch.latent_flow is None or arch.latent_flow in names
    if arch.latent_flow is not None:  # the flow under the Gaussian NIF, after it
        assert names.index(arch.latent_flow) > model.module.noisy_layers[0]
    text = cards.describe_architecture(model.config.to_dict())
    assert text == arch.describe(model.config.to_dict())
    assert ("Jet: 2x2 patches (16 tokens of 4 values)" if trunk == "jet" else "Glow") in text


def test_the_trunk_option_is_checked():
    with pytest.raises(ValueError, match="trunk must be one of"):
        nif_zoo.create_model("nf", **SIZES, trunk="vit")
    with pytest.raises(ValueError, match="Glow stages of its own"):
        nif_zoo.create_model("progressive", **{**SIZES, "levels": None}, latent_shape=(4, 4, 1),
                             **JET)
    with pytest.raises(ValueError, match="the Jet trunk has no levels"):
        nif_zoo.create_model("nf", **SIZES, **JET)
    with pytest.raises(ValueError, match="Glow trunk's"):
        nif_zoo.create_model("nf", **{**SIZES, "levels": None}, additive=True, **JET)
    with pytest.raises(ValueError, match="Jet trunk's; add trunk='jet'"):
        nif_zoo.create_model("nf", **SIZES, patch_size=2)
    with pytest.raises(ValueError, match="divisible by patch_size = 3"):
        nif_zoo.create_model("nf", **{**SIZES, "levels": None}, **{**JET, "patch_size": 3})
    with pytest.raises(ValueError, match="divisible by heads 3"):
        nif_zoo.create_model("nf", **{**SIZES, "levels": None}, **{**JET, "heads": 3})


def test_the_dataset_table_drives_the_loaders_the_registry_and_the_cards():
    from nif_zoo.data import sources

    assert sources.SOURCES == datasets.NAMES
    assert set(sources.DEFAULT_FIT) == set(datasets.NAMES)
    assert registry.DATA_TAGS == {d.tag: d.name for d in datasets.TABLE.values() if d.tag}
    for name in registry.list_models():
        assert registry.get_entry(name).dataset in datasets.TABLE
    for d in datasets.TABLE.values():
        if d.name != "folder":
            assert cards.DATA_TEXT[d.name] == d.card_text
    with pytest.raises(ValueError, match="unknown dataset 'svhn'; known: mnist"):
        sources.load_dataset("svhn")
    with pytest.raises(ValueError, match="unknown dataset"):
        datasets.dataset("svhn")
