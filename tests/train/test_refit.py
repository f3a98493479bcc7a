"""Closed-form refit of a trained NIF's Gaussian layer (nif_zoo.train.refit), in training
(train.refit_every) and by the command line (nif-zoo refit-prior)."""
import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import nif_zoo
from nif_zoo import cli
from nif_zoo.evaluate.prior_fit import embedding_statistics, empty_mask
from nif_zoo.train import load_trained, train
from nif_zoo.train.refit import per_image_noise, refit_prior, trunk_latents_fn

KW = dict(image_shape=(8, 8, 1), levels=1, steps=1, width=8, seed=5)


def structured_images(n=96, seed=0):
    """Low-rank bright patterns on black (a mean far from the black image, as digits)."""
    r = np.random.default_rng(seed)
    basis = r.uniform(0, 1, size=(3, 64))
    codes = r.uniform(0, 1, size=(n, 3))
    img = 235 * np.clip(codes @ basis / 1.5, 0, 1) + r.integers(0, 20, size=(n, 64))
    return img.reshape(n, 8, 8, 1).astype(np.uint8)


def prior_log_lik(model, images, seed=0):
    """mean log p_prior(trunk latents) at the refit's dequantisation noise, by the model's own
    prior module (independent of the refit's block layout)."""
    noise = per_image_noise(jax.random.key(seed), 0, len(images), images.shape[1:])
    latents = trunk_latents_fn(model)(model.variables, jnp.asarray(images), noise)
    prior = model.module.layer("prior")
    lp = prior.apply({"params": model.variables["params"]["prior"]}, latents,
                     method="log_marginal")
    return float(jnp.mean(lp))


@pytest.mark.parametrize("form", ["dense", "upsample"])
def test_refit_maximises_the_prior_likelihood_in_the_models_own_terms(form):
    model = nif_zoo.create_model("nif", latent_dim=4, nif_form=form, **KW)
    images = structured_images()
    before = {k: np.asarray(v) for k, v in model.variables["params"]["prior"].items()}
    result = refit_prior(model, images, iterations=30, tol=-np.inf, batch_size=40)
    values = [h.mean_log_lik for h in result.history]
    # non-decreasing up to float32 rounding of the per-batch sums
    assert np.all(np.diff(values) >= -1e-5 * np.abs(values[1:]) - 1e-3)
    assert values[-1] > result.initial_log_lik + 1.0
    # the refit's reported likelihood is what the model's prior module computes
    assert prior_log_lik(result.model, images) == pytest.approx(values[-1], rel=1e-4, abs=1e-3)
    assert prior_log_lik(model, images) == pytest.approx(result.initial_log_lik, rel=1e-4,
                                                         abs=1e-3)
    # the input model is untouched; the Glow is shared
    for k, v in model.variables["params"]["prior"].items():
        np.testing.assert_array_equal(np.asarray(v), before[k])
    for a, b in zip(jax.tree.leaves(model.variables["params"]["glow"]),
                    jax.tree.leaves(result.model.variables["params"]["glow"])):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    # b is the mean latent: the embeddings of the training data centre on 0
    z = result.model.embed(images)
    assert np.linalg.norm(z.mean(axis=0)) < 0.2 * np.sqrt(z.shape[1])


def test_refit_does_not_depend_on_batch_size_or_caching():
    model = nif_zoo.create_model("nif", latent_dim=4, **KW)
    images = structured_images(50)
    a = refit_prior(model, images, iterations=3, tol=-np.inf, batch_size=50)
    b = refit_prior(model, images, iterations=3, tol=-np.inf, batch_size=7, max_cache_bytes=0)
    for x, y in zip(jax.tree.leaves(a.model.variables["params"]["prior"]),
                    jax.tree.leaves(b.model.variables["params"]["prior"])):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-4, atol=1e-5)


def test_refit_selected_on_held_out_images():
    """With held-out images the refit keeps the layer that fits them best, in the model's own
    terms (its prior module on their latents, dequantisation noise of seed + 1); a layer that
    no refit beats comes back unchanged, the very model."""
    model = nif_zoo.create_model("nif", latent_dim=4, **KW)
    images = structured_images(120)  # one distribution: the first half trains, the rest holds out
    train_images, heldout = images[:60], images[60:]
    result = refit_prior(model, train_images, iterations=15, tol=-np.inf,
                         heldout_images=heldout)
    values = [result.heldout_initial_log_lik] + [h.heldout_mean_log_lik for h in result.history]
    assert result.kept_step.heldout_mean_log_lik == max(values)
    assert prior_log_lik(result.model, heldout, seed=1) == pytest.approx(
        result.kept_step.heldout_mean_log_lik, rel=1e-4, abs=1e-3)
    assert result.kept >= 0 and result.model is not model  # the untrained layer is far off
    # a layer fitted on the held-out images themselves (their own noise draw): 8 training
    # images cannot improve on it there
    on_heldout = refit_prior(model, heldout, iterations=40, tol=-np.inf, seed=1).model
    again = refit_prior(on_heldout, train_images[:8], iterations=10, heldout_images=heldout)
    assert again.kept == -1 and again.model is on_heldout
    assert again.kept_step.mean_log_lik == again.initial_log_lik
    with pytest.raises(ValueError, match="init='current'"):
        refit_prior(model, train_images, init="principal", heldout_images=heldout)


def test_refit_applies_to_deep_nif_and_refuses_an_nf():
    deep = nif_zoo.create_model("deep_nif", latent_dim=4, prior_layers=2, prior_hidden=8,
                                prior_depth=1, iw_samples=4, **KW)
    result = refit_prior(deep, structured_images(40), iterations=2)
    assert not np.allclose(np.asarray(result.model.variables["params"]["nif"]["b"]), 0.0)
    nf = nif_zoo.create_model("nf", **KW)
    with pytest.raises(ValueError, match="needs a NIF"):
        refit_prior(nf, structured_images(8))
    with pytest.raises(ValueError):
        refit_prior(deep, np.zeros((4, 9, 9, 1), np.uint8))


def test_diagnostics():
    images = np.zeros((4, 32, 32, 1), np.uint8)
    images[1, :5, :5] = 128   # 25 bright pixels of 1024: not empty
    images[2, :4, :5] = 255   # 20: empty
    assert empty_mask(images, 8).tolist() == [True, False, True, True]
    assert empty_mask(images // 8, 5).tolist() == [True, False, True, True]
    r = np.random.default_rng(0)
    stats = embedding_statistics(r.normal(size=(4000, 3)) * [1, 2, 3] + [3, 0, 0])
    assert stats["mean_norm_over_sqrt_m"] == pytest.approx(3 / np.sqrt(3), abs=0.05)
    assert stats["cov_eig_min"] == pytest.approx(1, abs=0.1)
    assert stats["cov_eig_max"] == pytest.approx(9, abs=0.5)


TINY_RUN = {
    "model": {"kind": "nif", "levels": 1, "steps": 1, "width": 8, "latent_dim": 4},
    "data": {"dataset": "mnist", "image_shape": [8, 8, 1], "fit": "resize", "limit": 128,
             "eval_limit": 32},
    "train": {"batch_size": 16, "steps": 12, "learning_rate": 2e-3, "warmup_steps": 2,
              "checkpoint_every": 6, "log_every": 3, "seed": 1, "refit_every": 6,
              "refit_iterations": 5,
              # the average of the weights takes the refit layer (and its own copy of it: the
              # next step donates the state; a shared buffer crashed the process)
              "ema_decay": 0.999},
}


def test_periodic_refit_in_training_and_the_refit_prior_command(tmp_path, capsys):
    run = str(tmp_path / "run")
    result = train(TINY_RUN, run, progress=False)
    refits = [h for h in result.history if "refit_log_lik_after" in h]
    assert [r["step"] for r in refits] == [6, 12]
    assert all(r["refit_log_lik_after"] >= r["refit_log_lik_before"] - 1e-3 for r in refits)
    # the saved final state is the refit one: b is the mean latent of the training images
    final = load_trained(run)
    np.testing.assert_array_equal(np.asarray(final.variables["params"]["prior"]["b"]),
                                  np.asarray(result.model.variables["params"]["prior"]["b"]))

    out = str(tmp_path / "refit")
    assert cli.main(["refit-prior", run, "--out", out, "--iterations", "3",
                     "--train-limit", "64", "--test-limit", "16"]) == 0
    printed = capsys.readouterr().out
    assert "before:" in printed and "after" in printed and "empty samples" in printed
    with open(os.path.join(out, "metrics.json")) as fh:
        metrics = json.load(fh)
    assert metrics["refit"]["images"] == 64 and metrics["refit"]["em_steps"] <= 3
    # early stopped on 16 validation images (the default --select-on); measured on test
    assert metrics["refit"]["validation_images"] == 16 and metrics["split"] == "test"
    loaded = nif_zoo.load(out)
    assert loaded.latent_dim == 4
    assert "Prior refit" in open(os.path.join(out, "README.md")).read()
    # never over its input
    assert cli.main(["refit-prior", run, "--out", run]) == 1
    assert "is the input" in capsys.readouterr().err


def test_refit_prior_command_refits_a_deep_nifs_flow(tiny_models, tmp_path, capsys):
    folder = tmp_path / "deep"
    training = {"data": {"dataset": "mnist", "image_shape": [8, 8, 1], "n_bits": 8,
                         "fit": "resize", "data_dir": None}}
    tiny_models["deep_nif"].save_pretrained(str(folder), training=training)
    out = str(tmp_path / "deep-refit")
    assert cli.main(["refit-prior", str(folder), "--out", out, "--iterations", "2",
                     "--flow-steps", "60", "--train-limit", "64", "--test-limit", "8",
                     "--select-on", "none"]) == 0
    with open(os.path.join(out, "metrics.json")) as fh:
        refit = json.load(fh)["refit"]
    assert refit["flow_steps"] == 60 and np.isfinite(refit["flow_loss_last"])
    card = open(os.path.join(out, "README.md")).read()
    assert "low-dimensional flow was refit" in card
    before = tiny_models["deep_nif"].variables["params"]["prior_flow"]
    after = nif_zoo.load(out).variables["params"]["prior_flow"]
    assert any(not np.allclose(np.asarray(a), np.asarray(b))
               for a, b in zip(jax.tree.leaves(before), jax.tree.leaves(after)))
