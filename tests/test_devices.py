"""One CPU device per core by default (nif_zoo.devices), batches split over them, results
independent of the device count."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from nif_zoo import devices


def run(script, **env_changes):
    env = dict(os.environ)
    for key in ("JAX_NUM_CPU_DEVICES", "XLA_FLAGS", "NIF_ZOO_HOST_DEVICES",
                "NIF_ZOO_DATA_PARALLEL"):
        env.pop(key, None)
    env.update(env_changes)
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout.strip().splitlines()[-1]


COUNT = """
    import os, nif_zoo, jax
    print(len(jax.devices()), os.environ.get("JAX_NUM_CPU_DEVICES"))
"""


def test_one_cpu_device_per_usable_core_and_the_variable_is_not_inherited():
    assert run(COUNT) == f"{devices.usable_cores()} None"
    # jax imported first (not yet running): configured through jax.config
    assert run("import jax, nif_zoo; print(len(jax.devices()))") == str(devices.usable_cores())


@pytest.mark.parametrize("env, expected", [
    ({"NIF_ZOO_HOST_DEVICES": "3"}, "3"),
    ({"NIF_ZOO_HOST_DEVICES": "off"}, "1"),
    ({"NIF_ZOO_HOST_DEVICES": "1"}, "1"),
    # the user's own choice wins
    ({"NIF_ZOO_HOST_DEVICES": "2", "XLA_FLAGS": "--xla_force_host_platform_device_count=3"}, "3"),
    ({"JAX_NUM_CPU_DEVICES": "3"}, "3"),
    ({"JAX_NUM_CPU_DEVICES": "3", "NIF_ZOO_SET_JAX_NUM_CPU_DEVICES": "2"}, "3"),
    # inherited from a parent nif-zoo that had not imported JAX yet: not the user's choice
    ({"JAX_NUM_CPU_DEVICES": "2", "NIF_ZOO_SET_JAX_NUM_CPU_DEVICES": "2",
      "NIF_ZOO_HOST_DEVICES": "3"}, "3"),
])
def test_the_count_can_be_chosen_or_turned_off(env, expected):
    assert run(COUNT, **env).split()[0] == expected


def test_a_child_started_before_jax_was_imported_chooses_its_own_count():
    """A process that imported nif_zoo (which sets JAX_NUM_CPU_DEVICES for JAX to read) but
    not JAX, and starts a child: the child's nif-zoo decides again (here 3, the parent 2)."""
    parent = """
        import os, subprocess, sys, nif_zoo
        assert "jax" not in sys.modules and os.environ["JAX_NUM_CPU_DEVICES"] == "2"
        child = "import os, nif_zoo, jax; print(len(jax.devices()))"
        print(subprocess.run([sys.executable, "-c", child], capture_output=True, text=True,
                             env=dict(os.environ, NIF_ZOO_HOST_DEVICES="3"), check=True).stdout)
    """
    assert run(parent, NIF_ZOO_HOST_DEVICES="2") == "3"


def test_a_bad_count_is_refused(monkeypatch):
    monkeypatch.setenv("NIF_ZOO_HOST_DEVICES", "two")
    with pytest.raises(ValueError, match="NIF_ZOO_HOST_DEVICES must be a positive integer"):
        devices.requested_host_devices()


RESULTS = """
    import json, numpy as np, nif_zoo, jax
    outs = {}
    for kind, extra in (("nif", {"latent_dim": 12}), ("deep_nif", {"latent_dim": 6})):
        m = nif_zoo.create_model(kind, image_shape=(8, 8, 1), levels=2, steps=1, width=8,
                                 seed=0, **extra)
        x = np.random.default_rng(0).integers(0, 256, (7, 8, 8, 1), dtype=np.uint8)
        outs[kind] = dict(
            multiple=m._batch_multiple,
            log_prob=m.log_prob(x, key=1, batch_size=5).tolist(),
            embed=m.embed(x, batch_size=3).ravel().tolist(),
            sample=m.sample(5, s=0.5, seed=2, batch_size=3).ravel().tolist(),
            decode=m.decode(np.ones((3, m.latent_dim)), s=0.0).ravel().tolist())
    print(json.dumps(outs))
"""


@pytest.mark.slow
def test_results_do_not_depend_on_the_device_count():
    one = json.loads(run(RESULTS, NIF_ZOO_HOST_DEVICES="1"))
    three = json.loads(run(RESULTS, NIF_ZOO_HOST_DEVICES="3"))
    for kind in one:
        assert one[kind]["multiple"] == 1 and three[kind]["multiple"] == 3
        for key in ("log_prob", "embed", "decode"):
            np.testing.assert_allclose(three[kind][key], one[kind][key], rtol=1e-5, atol=1e-5)
        samples = np.asarray(three[kind]["sample"]) - np.asarray(one[kind]["sample"])
        assert np.mean(samples != 0) < 0.01  # uint8: a rounding boundary at most, rarely


def test_training_falls_back_to_devices_that_divide_the_batch():
    from nif_zoo.train import sharding

    with pytest.warns(RuntimeWarning, match="not divisible by the 4 devices; training on 3"):
        assert sharding.dividing_count(4, 6) == 3
    with pytest.warns(RuntimeWarning, match="training on 1 of them"):
        assert sharding.dividing_count(2, 7) == 1
    assert sharding.dividing_count(4, 8) == 4
