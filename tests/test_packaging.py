"""setup.cfg lists every package, and a wheel carries the configs and bundled checkpoints
(what README command 1 needs after a plain `pip install .`)."""
import configparser
import os
import subprocess
import sys
import zipfile

import pytest

import nif_zoo

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def listed_packages():
    parser = configparser.ConfigParser()
    parser.read(os.path.join(REPO, "setup.cfg"))
    return {p.strip() for p in parser["options"]["packages"].split("\n") if p.strip()}


def test_setup_cfg_lists_every_package():
    found = set()
    for root, dirs, files in os.walk(os.path.join(REPO, "nif_zoo")):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        if "__init__.py" in files:
            found.add(os.path.relpath(root, REPO).replace(os.sep, "."))
    assert listed_packages() == found | {"nif_zoo.bundled"}


@pytest.mark.slow
def test_wheel_contains_configs_and_bundled_checkpoints(tmp_path):
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                          str(tmp_path), REPO], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    wheel = next(p for p in os.listdir(tmp_path) if p.endswith(".whl"))
    names = set(zipfile.ZipFile(tmp_path / wheel).namelist())
    for name in nif_zoo.list_models():
        assert f"nif_zoo/configs/{name}.yaml" in names
    for name in nif_zoo.list_models(pretrained_only=True):
        folder = os.path.join(REPO, "checkpoints", name)
        for root, _, files in os.walk(folder):
            for f in files:
                rel = os.path.relpath(os.path.join(root, f), os.path.join(REPO, "checkpoints"))
                assert f"nif_zoo/bundled/{rel}".replace(os.sep, "/") in names


def test_the_import_contract_holds():
    """setup.cfg's [importlinter] contracts, function-level imports included: the layers
    (cli -> zoo -> train -> evaluate -> recipe -> models -> nif -> flows -> data -> core)
    and no import cycle between the modules of any package."""
    lint = os.path.join(os.path.dirname(sys.executable), "lint-imports")
    out = subprocess.run([lint, "--config", os.path.join(REPO, "setup.cfg"), "--no-cache"],
                         capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "2 kept, 0 broken" in out.stdout
