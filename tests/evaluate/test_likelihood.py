"""Held-out bits/dim, per image and paired between two models."""
import math

import numpy as np
import pytest

import nif_zoo
from nif_zoo import cli
from nif_zoo.evaluate.likelihood import (heldout_bits_per_dim, paired_bits_per_dim,
                                         per_image_bits_per_dim)


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(5)
    return rng.integers(0, 256, size=(6, 8, 8, 1), dtype=np.uint8)


@pytest.fixture(scope="module")
def other_nif():
    """A NIF like conftest's tiny one with other initial weights."""
    return nif_zoo.create_model("nif", latent_dim=4, image_shape=(8, 8, 1), levels=2, steps=1,
                                width=8, seed=4)


def reference_bpd(model, images, seed):
    """Bits/dim from the model's log P(image) in nats: -log P / (D log 2)."""
    log_p = np.asarray(model.log_prob(images, key=seed), np.float64)
    return -log_p / (np.prod(model.image_shape) * math.log(2))


def test_per_image_bits_per_dim_are_the_log_probabilities_in_bits_and_average_to_the_heldout_number(
        tiny_models, images):
    model = tiny_models["nif"]
    bpd, bound = per_image_bits_per_dim(model, images, seed=2)
    assert bound == "exact" and bpd.shape == (6,)
    np.testing.assert_allclose(bpd, reference_bpd(model, images, 2), rtol=1e-6)
    assert heldout_bits_per_dim(model, images, seed=2)["bpd"] == pytest.approx(np.mean(bpd))


def test_paired_difference_is_per_image_with_the_standard_error_of_the_differences(
        tiny_models, other_nif, images):
    model = tiny_models["nif"]
    paired = paired_bits_per_dim(model, other_nif, images, seed=1)
    ours, theirs = reference_bpd(model, images, 1), reference_bpd(other_nif, images, 1)
    diff = ours - theirs
    assert paired["images"] == 6
    assert paired["bpd"] == pytest.approx(ours.mean(), rel=1e-6)
    assert paired["baseline_bpd"] == pytest.approx(theirs.mean(), rel=1e-6)
    assert paired["difference"] == pytest.approx(diff.mean(), rel=1e-5, abs=1e-7)
    assert paired["difference_sem"] == pytest.approx(diff.std(ddof=1) / math.sqrt(6), rel=1e-4)
    assert paired["fraction_lower"] == pytest.approx(np.mean(diff < 0))
    # the same dequantisation noise for both: a model against itself differs by exactly 0
    itself = paired_bits_per_dim(model, model, images, seed=1)
    assert itself["difference"] == 0 and itself["difference_sem"] == 0
    assert itself["fraction_lower"] == 0


def test_paired_bound_uses_one_k_for_every_model_with_a_bound(tiny_models, images):
    # --iw-samples K with --against: a deep NIF baseline is bounded with the same K as the
    # model (not its default); a model with an exact likelihood stays exact
    deep, nif = tiny_models["deep_nif"], tiny_models["nif"]
    paired = paired_bits_per_dim(deep, deep, images, seed=1, num_samples=2)
    assert paired["bound"] == paired["baseline_bound"] == "IW bound K=2"
    assert paired["difference"] == 0  # same K, seed and posterior draws: the same numbers
    expected = per_image_bits_per_dim(deep, images, seed=1, num_samples=2)[0]
    assert paired["baseline_bpd"] == pytest.approx(expected.mean(), rel=1e-6)
    mixed = paired_bits_per_dim(nif, deep, images, seed=1, num_samples=2)
    assert (mixed["bound"], mixed["baseline_bound"]) == ("exact", "IW bound K=2")


def test_paired_needs_two_models_of_the_same_images(tiny_models, images):
    small = nif_zoo.create_model("nf", image_shape=(4, 4, 1), levels=1, steps=1, width=4, seed=0)
    with pytest.raises(ValueError, match="same image_shape"):
        paired_bits_per_dim(tiny_models["nif"], small, images)
    with pytest.raises(ValueError, match="at least 2 images"):
        paired_bits_per_dim(tiny_models["nif"], tiny_models["nif"], images[:1])


def test_eval_against_prints_the_paired_difference(tiny_folder, tmp_path, other_nif, capsys):
    from nif_zoo.evaluate.likelihood import evaluation_data

    data_config = {"dataset": "lfw_faces", "image_shape": [8, 8, 1], "n_bits": 8,
                   "fit": "resize", "data_dir": None}
    other = tmp_path / "other"
    other_nif.save_pretrained(str(other), training={"data": data_config})
    capsys.readouterr()
    assert cli.main(["eval", tiny_folder, "--limit", "4", "--seed", "2",
                     "--against", str(other)]) == 0
    line = [ln for ln in capsys.readouterr().out.splitlines() if f" - {other} " in ln]
    data = evaluation_data(data_config, "test", 4)
    expected = paired_bits_per_dim(nif_zoo.load(tiny_folder), other_nif, data.images, seed=2)
    assert len(line) == 1
    assert (f"{expected['difference']:+.4f} bits/dim (+- {expected['difference_sem']:.4f} s.e. "
            f"of 4 paired images") in line[0]
    assert "exact vs exact" in line[0]
