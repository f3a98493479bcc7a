import atexit
import os
import shutil
import tempfile

from nif_zoo.cache import CACHE_SAFE_FROM, jax_version  # imports no JAX


# One JAX compilation cache for the whole test session, this process and every subprocess it
# starts (the CLI, reproduce and training tests run the same small programs many times:
# each is compiled once). A fresh folder per session: nothing is read from or written to the
# user's cache. Set before JAX is imported, which reads these variables. Not on a JAX older
# than 0.7, whose CPU backend crashes reloading cached programs (nif_zoo.cache.CACHE_SAFE_FROM).
if not os.environ.get("JAX_COMPILATION_CACHE_DIR") and jax_version() >= CACHE_SAFE_FROM:
    _session_cache = tempfile.mkdtemp(prefix="nif-zoo-tests-jax-")
    atexit.register(shutil.rmtree, _session_cache, ignore_errors=True)
    os.environ["JAX_COMPILATION_CACHE_DIR"] = _session_cache
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.1")

# The suite's programs are small and run for milliseconds, but each costs seconds to compile:
# XLA:CPU's backend (LLVM) optimisation off cuts their compile time by about a quarter (the
# test files of models, bundled models and migrations: 351 s -> 263 s on 2 cores) and their
# numbers stay within every tolerance (the cards' bits/dim reproduce to 1e-5). For this
# process and every subprocess it starts; a test that sets XLA_FLAGS itself (forced device
# counts) compiles with the default. NIF_ZOO_TEST_XLA_OPTIMISE=1, or an XLA_FLAGS naming the
# option, keeps XLA's own choice.
if (os.environ.get("NIF_ZOO_TEST_XLA_OPTIMISE") != "1"
        and "xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", "")):
    os.environ["XLA_FLAGS"] = " ".join(
        filter(None, [os.environ.get("XLA_FLAGS", ""), "--xla_backend_optimization_level=0"]))

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import nif_zoo  # noqa: E402

# One CPU device per core for the in-process tests, as the CLI gives itself (importing nif_zoo
# does not); subprocesses choose their own (the CLI's call, or none).
nif_zoo.use_all_cores()

# The random bits of JAX >= 0.5 on an older JAX too (the lowest-versions CI job), as the
# command line gives itself: the committed fixtures and cards were drawn with them.
from nif_zoo.rng import newer_jax_random_bits  # noqa: E402

newer_jax_random_bits()

_DURATIONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "durations.json")


def pytest_collection_modifyitems(session, config, items):
    """Test files longest first (tests/durations.json, measured by scripts/test_durations.py),
    then the other files with tests marked ``slow``, then the rest: with ``--dist loadfile
    --no-loadscope-reorder`` (setup.cfg) a worker takes a whole file in this order, so the two
    workers share the long end-to-end files from the start and end on short ones, instead of
    one worker running the few-test slow files at the end while the other waits
    (pytest-xdist's own order puts the files with most tests first). Tests keep their order
    within a file (its module fixtures are built once)."""
    import json

    try:
        with open(_DURATIONS) as f:
            seconds = json.load(f)
    except FileNotFoundError:
        seconds = {}
    root = str(config.rootpath)
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}

    def order(item):
        name = os.path.relpath(str(item.path), root).replace(os.sep, "/")
        return -float(seconds.get(name, 0.0)), item.path not in slow_files

    items.sort(key=order)  # stable: each file's tests stay in order


# The CLI turns on JAX's persistent compilation cache; in-process CLI tests would turn it on
# for the whole test session (and write to the user's cache). tests/test_cli.py checks it in
# subprocesses instead.
os.environ["NIF_ZOO_COMPILATION_CACHE"] = "0"


@pytest.fixture(scope="session")
def tiny_models():
    """Two small models of different kinds (fresh weights, seed 3)."""
    kw = dict(image_shape=(8, 8, 1), levels=2, steps=1, width=8, seed=3)
    return {"nif": nif_zoo.create_model("nif", latent_dim=4, **kw),
            "deep_nif": nif_zoo.create_model("deep_nif", latent_dim=4, prior_layers=2,
                                             prior_hidden=8, prior_depth=1, iw_samples=4, **kw)}


@pytest.fixture(scope="session")
def tiny_folder(tiny_models, tmp_path_factory):
    """A pretrained folder of the tiny NIF (with training.json naming LFW-like data)."""
    folder = tmp_path_factory.mktemp("pretrained") / "tiny-nif"
    training = {"data": {"dataset": "lfw_faces", "image_shape": [8, 8, 1], "n_bits": 8,
                         "fit": "resize", "data_dir": None}}
    tiny_models["nif"].save_pretrained(str(folder), metrics={"test_bpd": 5.0, "images": 3},
                                       training=training)
    return str(folder)


class MeanPixelFeatures:
    """A stand-in feature extractor: cheap, deterministic, counts its calls."""
    name = "mean-pixels"

    def __init__(self):
        self.calls = 0

    def __call__(self, images, n_bits=8, progress=False):
        self.calls += 1
        arr = np.asarray(images, np.float64) / (2 ** n_bits - 1)
        return np.stack([arr.mean(axis=(1, 2, 3)), arr.std(axis=(1, 2, 3)),
                         arr[:, : arr.shape[1] // 2].mean(axis=(1, 2, 3))], axis=1)


@pytest.fixture
def stub_features():
    """A cheap stand-in for the Inception feature extractor (a class; instances count calls)."""
    return MeanPixelFeatures
