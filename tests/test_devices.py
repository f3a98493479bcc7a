"""nif_zoo.use_all_cores(): one CPU device per core when asked (importing nif_zoo changes
nothing), batches split over them, results independent of the device count."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from nif_zoo import devices

SETTINGS = ("JAX_NUM_CPU_DEVICES", "XLA_FLAGS", "NIF_ZOO_HOST_DEVICES", "NIF_ZOO_DATA_PARALLEL")


def run(script, **env_changes):
    env = dict(os.environ)
    for key in SETTINGS:
        env.pop(key, None)
    env.update(env_changes)
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout.strip().splitlines()[-1]


def test_importing_nif_zoo_changes_nothing():
    script = """
        import os, sys
        import jax, flax, optax, orbax.checkpoint, huggingface_hub  # what they change is theirs
        before = dict(os.environ), list(sys.meta_path)
        import nif_zoo
        import nif_zoo.cli, nif_zoo.data, nif_zoo.evaluate, nif_zoo.models, nif_zoo.train, nif_zoo.zoo
        assert dict(os.environ) == before[0], set(os.environ.items()) ^ set(before[0].items())
        assert list(sys.meta_path) == before[1], sys.meta_path
        assert jax.config.jax_num_cpu_devices == -1
        print(len(jax.devices()))
    """
    assert run(script) == "1"
    assert run("import jax; jax.devices(); import nif_zoo; print(len(jax.devices()))") == "1"


USE = """
    import os, nif_zoo, jax
    before = dict(os.environ)
    asked = nif_zoo.use_all_cores()
    assert dict(os.environ) == before
    print(len(jax.devices()), asked)
"""


def test_use_all_cores_gives_one_device_per_usable_core():
    cores = devices.usable_cores()
    assert run(USE) == f"{cores} {cores}"


@pytest.mark.parametrize("env, expected", [
    ({"NIF_ZOO_HOST_DEVICES": "3"}, "3 3"),
    ({"NIF_ZOO_HOST_DEVICES": "off"}, "1 1"),
    ({"NIF_ZOO_HOST_DEVICES": "1"}, "1 1"),
    # the user's own choice for JAX wins (0: nothing asked)
    ({"NIF_ZOO_HOST_DEVICES": "2", "XLA_FLAGS": "--xla_force_host_platform_device_count=3"}, "3 0"),
    ({"JAX_NUM_CPU_DEVICES": "3"}, "3 0"),
])
def test_the_count_can_be_chosen_or_turned_off(env, expected):
    assert run(USE, **env) == expected


def test_too_late_is_a_clear_error_and_the_same_count_again_is_harmless():
    script = """
        import jax, nif_zoo
        assert nif_zoo.use_all_cores(3) == 3
        jax.numpy.ones(1)
        assert nif_zoo.use_all_cores(3) == 3  # already so: nothing to do
        try:
            nif_zoo.use_all_cores(2)
        except RuntimeError as err:
            print("refused:", "before any JAX operation" in str(err))
    """
    assert run(script) == "refused: True"


def test_the_cli_uses_every_core_and_its_children_choose_their_own():
    script = """
        import os, subprocess, sys
        from nif_zoo import cli
        cli.use_the_cores()
        import jax
        child = "import nif_zoo, jax; print(len(jax.devices()))"
        out = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True,
                             check=True).stdout.strip()
        print(len(jax.devices()), out)
    """
    assert run(script, NIF_ZOO_HOST_DEVICES="3") == "3 1"


def test_a_bad_count_is_refused(monkeypatch):
    monkeypatch.setenv("NIF_ZOO_HOST_DEVICES", "two")
    with pytest.raises(ValueError, match="NIF_ZOO_HOST_DEVICES must be a positive integer"):
        devices.requested_host_devices()
    for bad in (0, -1, True, 2.0):
        with pytest.raises(ValueError, match="count must be a positive integer"):
            devices.use_all_cores(bad)


RESULTS = """
    import json, numpy as np, nif_zoo
    nif_zoo.use_all_cores()
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
