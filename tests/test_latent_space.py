"""What users do with the latent space: a NIF fitted in closed form onto an NF (nifify),
interpolation, outlier scores and the out-of-distribution report, and their CLI commands."""
import json

import jax
import numpy as np
import pytest

import nif_zoo
from nif_zoo.cli import main
from nif_zoo.data.sources import load_lfw_faces
from nif_zoo.data.preprocess import fit_to_shape
from nif_zoo.evaluate.ood import SETS, auroc, ood_report, ood_sets
from nif_zoo.models import pretrained
from nif_zoo.train.nifify import nif_from_nf, nifify
from nif_zoo.train.refit import per_image_noise

SHAPE = (8, 8, 1)
LFW_8 = {"data": {"dataset": "lfw_faces", "image_shape": list(SHAPE), "n_bits": 8,
                  "fit": "resize", "data_dir": None}}


@pytest.fixture(scope="module")
def faces():
    return fit_to_shape(load_lfw_faces("all")[0], SHAPE, "resize")


@pytest.fixture(scope="module")
def nf(faces):
    """A small NF with a perturbed (non-trivial) Glow."""
    model = nif_zoo.create_model("nf", image_shape=SHAPE, levels=2, steps=2, width=8, seed=5,
                                 init_images=faces[:32])
    leaves, tree = jax.tree.flatten(model.variables["params"])
    keys = jax.random.split(jax.random.key(0), len(leaves))
    return model.with_variables({**model.variables, "params": jax.tree.unflatten(
        tree, [p + 0.05 * jax.random.normal(k, p.shape) for p, k in zip(leaves, keys)])})


def dequantised(images, seed=0):
    """The refit's dequantised training data: (k + U_i) / 256, U_i from fold_in(key(seed), i)."""
    noise = np.asarray(per_image_noise(jax.random.key(seed), 0, len(images), images.shape[1:]))
    return ((images.astype(np.float64) + noise) / 256.0).astype(np.float32)


def test_the_standard_normal_is_the_special_case_of_the_family(nf, faces):
    """A NIF with A = 0, b = 0, Sigma = I on the NF's layers is the NF (log p equal)."""
    same = nif_from_nf(nf, 4)
    assert same.kind == "nif" and same.latent_dim == 4
    np.testing.assert_allclose(same.log_prob(faces[:10]), nf.log_prob(faces[:10]), rtol=1e-5)


@pytest.mark.parametrize("form, m", [("dense", 6), ("upsample", 4)])
def test_nifify_never_lowers_the_training_likelihood(nf, faces, form, m):
    result = nifify(nf, faces, m, nif_form=form, iterations=15)
    model = result.model
    assert model.kind == "nif" and model.latent_dim == m and model.config["nif_form"] == form
    # the NF's layers are untouched
    for a, b in zip(jax.tree.leaves(nf.variables["params"]["glow"]),
                    jax.tree.leaves(model.variables["params"]["glow"])):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert result.history[0].mean_log_lik >= result.nf_log_lik  # PCA start >= N(0, I)
    steps = [h.mean_log_lik for h in result.history]
    assert all(b >= a - 1e-3 for a, b in zip(steps, steps[1:]))
    # and measured independently by the whole models on the same dequantised images
    y = dequantised(faces)
    assert np.mean(model.log_prob(y)) >= np.mean(nf.log_prob(y)) - 1e-3
    assert np.mean(model.log_prob(y)) - np.mean(nf.log_prob(y)) == pytest.approx(
        result.log_lik - result.nf_log_lik, rel=1e-3, abs=0.05)


def test_nifify_needs_an_nf(nf, faces):
    result = nifify(nf, faces[:40], 3, iterations=2)
    with pytest.raises(ValueError, match="nifify turns an NF into a NIF; this model is a 'nif'"):
        nifify(result.model, faces, 3)


def test_interpolation(nf, faces):
    model = nifify(nf, faces, 6, iterations=5).model
    a, b = faces[0], faces[1]
    strip = model.interpolate(a, b, 5)
    assert strip.shape == (5,) + SHAPE
    ends = model.reconstruct(faces[:2].astype(np.float32) / 256 + 1 / 512)
    np.testing.assert_allclose(strip[[0, -1]], ends, atol=1e-4)
    za, zb = model.embed(faces[:2])
    np.testing.assert_allclose(model.interpolate(za, zb, 3)[1],
                               model.decode(((za + zb) / 2)[None])[0], atol=1e-5)
    # slerp: the norm runs linearly, the direction along the great circle
    path = nif_zoo.models.model.slerp(za.astype(np.float64), zb.astype(np.float64),
                                      np.linspace(0, 1, 5)[:, None])
    np.testing.assert_allclose(np.linalg.norm(path, axis=1),
                               np.linspace(np.linalg.norm(za), np.linalg.norm(zb), 5), rtol=1e-5)
    cos = path @ za / (np.linalg.norm(path, axis=1) * np.linalg.norm(za))
    assert np.all(np.diff(cos) < 0)
    assert model.interpolate(za, zb, 4, path="slerp", s=0.5, seed=1).shape == (4,) + SHAPE
    nf_strip = nf.interpolate(a, b, 3)  # an NF interpolates in its full latent
    np.testing.assert_allclose(nf_strip[0], faces[0] / 256 + 1 / 512, atol=1e-4)
    with pytest.raises(ValueError, match="steps must be >= 2"):
        model.interpolate(a, b, 1)
    with pytest.raises(ValueError, match="path must be"):
        model.interpolate(a, b, 3, path="geodesic")
    with pytest.raises(ValueError, match=r"an image of shape \(8, 8, 1\) or a latent of shape"):
        model.interpolate(np.zeros(5), b)


def test_auroc_against_scikit_learn():
    from sklearn.metrics import roc_auc_score

    r = np.random.default_rng(0)
    neg, pos = r.normal(size=200), r.normal(0.7, size=150)
    pos[:20] = neg[:20]  # ties
    expected = roc_auc_score(np.r_[np.zeros(200), np.ones(150)], np.r_[neg, pos])
    assert auroc(neg, pos) == pytest.approx(expected, abs=1e-12)
    assert auroc([0, 1], [np.inf, 5]) == 1.0
    with pytest.raises(ValueError, match="NaN"):
        auroc([np.nan], [1.0])


def test_outlier_scores_and_the_ood_report(nf, faces):
    model = nifify(nf, faces[:80], 6, iterations=10).model
    scores = model.outlier_scores(faces[80:])
    assert sorted(scores) == sorted(model.SCORES)
    assert all(v.shape == (20,) and np.all(np.isfinite(v)) for v in scores.values())
    assert sorted(nf.outlier_scores(faces[:3])) == ["bits_per_dim", "latent_norm"]
    sets = ood_sets(faces[80:], 8, count=12)
    assert sorted(sets) == sorted(SETS)
    for name, images in sets.items():
        assert images.dtype == np.uint8 and images.shape[1:] == SHAPE, name
    assert np.all(sets["constant"] == sets["constant"][:, :1, :1, :])
    np.testing.assert_array_equal(sets["inverted"], 255 - faces[80:92])
    rows = ood_report(model, faces[80:], count=12)
    assert [r["set"] for r in rows] == list(SETS)
    for row in rows:
        assert all(0.0 <= row[k] <= 1.0 for k in model.SCORES)
    noise = next(r for r in rows if r["set"] == "uniform_noise")
    assert noise["bits_per_dim"] > 0.9 and noise["projection_distance"] > 0.9


def test_cli_nifify_interpolate_ood(nf, faces, tmp_path):
    from PIL import Image

    source = tmp_path / "nf"
    nf.save_pretrained(str(source), training=LFW_8)
    out = tmp_path / "nif"
    assert main(["nifify", str(source), "--latent-dim", "5", "--out", str(out),
                 "--iterations", "5", "--test-limit", "10"]) == 0
    model = nif_zoo.load(str(out))
    assert model.kind == "nif" and model.latent_dim == 5
    metrics = pretrained.read_json(str(out), "metrics.json")
    record = metrics["nifify"]
    assert record["train_log_lik_after"] >= record["train_log_lik_nf"]
    assert record["source"] == str(source) and record["test_bpd_nf"] > 0
    assert "Fitted in closed form onto" in (out / "README.md").read_text()
    assert main(["nifify", str(source), "--latent-dim", "5", "--out", str(out)]) == 1  # not empty
    paths = []
    for i in range(2):
        paths.append(str(tmp_path / f"face{i}.png"))
        Image.fromarray(faces[i, ..., 0]).save(paths[-1])
    strip = tmp_path / "strip.png"
    assert main(["interpolate", str(out), *paths, "--steps", "4", "--out", str(strip)]) == 0
    width, height = Image.open(strip).size
    assert height >= 8 * 4 and width >= 4 * 8 * 4 and width < 5 * height  # one row of 4
    report = tmp_path / "ood.json"
    assert main(["ood", str(out), "--limit", "10", "--json", str(report)]) == 0
    rows = json.loads(report.read_text())["rows"]
    assert {r["set"] for r in rows} == set(SETS)
