"""Costs known before training (nif_zoo.train.cost): FLOPs counted over every scanned step,
memory from the compiled program, and a clear refusal when a batch cannot fit."""
import dataclasses

import jax
import pytest

from nif_zoo.recipe import make_config
from nif_zoo.train import cost


def recipe(**model):
    return make_config({"model": {"kind": "nif", "levels": 2, "steps": 3, "width": 8,
                                  "latent_dim": 6, **model},
                        "data": {"image_shape": [8, 8, 1], "n_bits": 3},
                        "train": {"batch_size": 8}})


def test_flops_count_every_scanned_step():
    """The scanned program's FLOPs (extrapolated from unrolled K = 1, 2) equal the cost
    analysis of the fully unrolled K = 3 program."""
    config = recipe()
    unrolled = cost.lowered_training_step(config, cost.one_device(None),
                                          scan=False).cost_analysis()["flops"]
    measured = cost.training_step_cost(config)
    assert measured.flops_per_image == pytest.approx(unrolled / 8, rel=1e-6)
    # the compiled scanned program alone would count one step: far fewer
    scanned = cost.lowered_training_step(config, cost.one_device(None)).cost_analysis()["flops"]
    assert scanned < 0.8 * unrolled
    sampling = cost.sampling_cost(config, batch_size=4)
    assert 0 < sampling.flops_per_image < measured.flops_per_image


def test_memory_grows_with_the_batch_and_remat_saves_temporaries():
    config = recipe(width=32)
    small = cost.training_step_cost(config, flops=False, batch_size=8)
    big = cost.training_step_cost(config, flops=False, batch_size=64)
    assert big.temp_bytes > 2 * small.temp_bytes
    assert small.params == big.params > 0
    assert small.alias_bytes > 0  # the state is donated
    remat = cost.training_step_cost(config, flops=False, batch_size=64, remat=True)
    assert remat.temp_bytes < big.temp_bytes


def test_a_batch_that_cannot_fit_is_refused_with_its_numbers(monkeypatch):
    measured = cost.training_step_cost(recipe(), flops=False)
    devices = jax.devices()[:1]
    monkeypatch.setattr(cost, "device_memory", lambda d: 10 * measured.peak_bytes)
    assert cost.check_fits(measured, devices) == 10 * measured.peak_bytes
    huge = dataclasses.replace(measured, temp_bytes=40 * 2 ** 30)
    monkeypatch.setattr(cost, "device_memory", lambda d: 16 * 2 ** 30)
    with pytest.raises(ValueError, match=r"nif-x: a training step of batch 8 on \d device\(s\): "
                                         r"40\.\d\d GiB per device.*16\.0 GiB each.*remat"):
        cost.check_fits(huge, devices, "nif-x")
    monkeypatch.setattr(cost, "device_memory", lambda d: None)
    assert cost.check_fits(huge, devices) is None  # unknown capacity: not checked
