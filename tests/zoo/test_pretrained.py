"""save_pretrained / load_pretrained: round trip, manifest, integrity errors, placement."""
import json
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import nif_zoo
from nif_zoo.models import pretrained
from nif_zoo.models.pretrained import IntegrityError

pytestmark = pytest.mark.lowest  # also run at the lowest versions (.ci/lowest)


def weight_file(folder):
    """The largest file under weights/ (array data)."""
    files = [f for f in pretrained.list_files(folder) if f.startswith("weights/")]
    return max(files, key=lambda f: os.path.getsize(os.path.join(folder, f)))


@pytest.mark.parametrize("kind", ["nif", "deep_nif"])
def test_round_trip_gives_the_same_model(tiny_models, tmp_path, kind):
    model = tiny_models[kind]
    folder = model.save_pretrained(str(tmp_path / kind))
    loaded = nif_zoo.load(folder)
    assert loaded.config == model.config
    np.testing.assert_array_equal(loaded.sample(5, seed=1, s=0.5), model.sample(5, seed=1, s=0.5))
    images = model.sample(4, seed=2)
    np.testing.assert_allclose(loaded.log_prob(images), model.log_prob(images), rtol=1e-6)


def test_a_jet_nif_round_trips_and_its_card_names_the_trunk(tmp_path):
    init = np.random.default_rng(0).integers(0, 256, (16, 8, 8, 1), dtype=np.uint8)
    model = nif_zoo.create_model("nif", image_shape=(8, 8, 1), steps=2, width=8, latent_dim=8,
                                 trunk="jet", patch_size=2, heads=2, seed=0, init_images=init)
    folder = model.save_pretrained(str(tmp_path / "jet"))
    loaded = nif_zoo.load(folder)
    assert loaded.config == model.config and loaded.config.trunk == "jet"
    assert "jet" in loaded.module.layer_names
    np.testing.assert_array_equal(loaded.sample(4, seed=1, s=0.5), model.sample(4, seed=1, s=0.5))
    np.testing.assert_allclose(loaded.log_prob(init[:4]), model.log_prob(init[:4]), rtol=1e-6)
    with open(os.path.join(folder, "config.json")) as fh:
        assert json.load(fh)["levels"] == 0
    with open(os.path.join(folder, "README.md")) as fh:
        card = fh.read()
    assert "- jet\n" in card and "Jet: 2x2 patches (16 tokens of 4 values)" in card
    assert "Glow" not in card


def test_folder_layout_and_manifest(tiny_folder):
    files = pretrained.list_files(tiny_folder)
    assert {"config.json", "README.md", "SHA256SUMS", "metrics.json", "training.json"} <= set(files)
    manifest = pretrained.read_manifest(tiny_folder)
    assert sorted(manifest) == [f for f in files if f != "SHA256SUMS"]
    assert manifest["config.json"] == pretrained.sha256_file(os.path.join(tiny_folder, "config.json"))
    assert not [p for p in os.listdir(os.path.dirname(tiny_folder)) if p.startswith(".")]


@pytest.mark.parametrize("damage", ["flip_byte", "truncate", "delete", "manifest_line"])
def test_damaged_folders_are_refused_by_name(tiny_folder, tmp_path, damage):
    folder = str(tmp_path / "copy")
    shutil.copytree(tiny_folder, folder)
    target = weight_file(folder)
    path = os.path.join(folder, target)
    if damage == "flip_byte":
        data = bytearray(open(path, "rb").read())
        data[len(data) // 2] ^= 0xFF
        open(path, "wb").write(bytes(data))
        match = f"{target} .* corrupt or truncated"
    elif damage == "truncate":
        data = open(path, "rb").read()
        open(path, "wb").write(data[: len(data) // 2])
        match = f"{target} .* corrupt or truncated"
    elif damage == "delete":
        os.remove(path)
        match = f"{target} is missing"
    else:
        with open(os.path.join(folder, "SHA256SUMS"), "a") as fh:
            fh.write("not-a-hash  config.json\n")
        match = "SHA256SUMS line .* malformed"
    with pytest.raises(IntegrityError, match=match):
        nif_zoo.load(folder)


def test_not_a_pretrained_folder(tmp_path):
    with pytest.raises(Exception, match="unknown model|SHA256SUMS"):
        nif_zoo.load(str(tmp_path))


def test_save_replaces_only_when_complete(tiny_models, tmp_path, monkeypatch):
    folder = str(tmp_path / "m")
    tiny_models["nif"].save_pretrained(folder)
    before = pretrained.read_manifest(folder)

    def crash(_):
        raise OSError("disk full")

    monkeypatch.setattr(pretrained, "write_manifest", crash)
    with pytest.raises(OSError, match="disk full"):
        tiny_models["deep_nif"].save_pretrained(folder)
    assert pretrained.verify(folder) == before  # the old model is intact
    assert os.listdir(tmp_path) == ["m"]  # no temporary folder left


def test_newer_format_version_is_refused(tiny_folder, tmp_path):
    folder = str(tmp_path / "copy")
    shutil.copytree(tiny_folder, folder)
    config_path = os.path.join(folder, "config.json")
    config = json.load(open(config_path))
    assert config["format_version"] >= 1
    config["format_version"] = 99
    json.dump(config, open(config_path, "w"))
    pretrained.write_manifest(folder)
    with pytest.raises(ValueError, match="format_version 99 is newer"):
        nif_zoo.load(folder)


def test_a_config_that_does_not_match_its_weights_names_the_shapes(tiny_folder, tmp_path):
    folder = str(tmp_path / "copy")
    shutil.copytree(tiny_folder, folder)
    config_path = os.path.join(folder, "config.json")
    config = json.load(open(config_path))
    config["latent_dim"] = config["latent_dim"] + 2
    json.dump(config, open(config_path, "w"))
    pretrained.write_manifest(folder)  # checksums agree: only the shapes do not
    want = config["latent_dim"]
    with pytest.raises(ValueError, match=r"does not match the stored weights: params/prior/A: "
                                         rf"\(64, {want}\) from config.json, \(64, {want - 2}\) stored"):
        nif_zoo.load(folder)
    # the command line: one line of error, no traceback at exit
    out = subprocess.run([sys.executable, "-m", "nif_zoo.cli", "sample", folder, "--out",
                          str(tmp_path / "s.png")], capture_output=True, text=True, timeout=300)
    assert out.returncode == 1 and "does not match the stored weights" in out.stderr
    assert "Traceback" not in out.stderr, out.stderr[-2000:]


def test_push_to_hub_uploads_a_verified_folder(tiny_models, tmp_path):
    calls = {}

    class FakeApi:
        def create_repo(self, repo_id, private, exist_ok):
            calls["create"] = (repo_id, private, exist_ok)

        def upload_folder(self, repo_id, folder_path, revision, commit_message):
            calls["upload"] = (repo_id, revision, commit_message)
            shutil.copytree(folder_path, tmp_path / "uploaded")
            return "http://hub/commit/1"

    url = nif_zoo.push_to_hub(tiny_models["nif"], "me/tiny", api=FakeApi(), private=True)
    assert url == "http://hub/commit/1"
    assert calls["create"] == ("me/tiny", True, True) and calls["upload"][0] == "me/tiny"
    pretrained.verify(str(tmp_path / "uploaded"))
    np.testing.assert_array_equal(nif_zoo.load(str(tmp_path / "uploaded")).sample(2),
                                  tiny_models["nif"].sample(2))


@pytest.mark.slow
def test_weights_land_on_the_requested_devices(tiny_folder):
    script = textwrap.dedent("""
        import sys, jax, numpy as np, nif_zoo
        folder = sys.argv[1]
        devs = jax.devices()
        assert len(devs) == 4, devs
        default = nif_zoo.load(folder)  # replicated over every device: data parallel
        assert all(l.sharding.device_set == set(devs) for l in jax.tree.leaves(default.variables))
        assert default._batch_multiple == 4
        two = nif_zoo.load(folder, devices=devs[2:4])
        assert all(l.sharding.device_set == {devs[2], devs[3]} for l in jax.tree.leaves(two.variables))
        one = nif_zoo.load(folder, devices=[devs[3]])
        assert all(l.sharding.device_set == {devs[3]} for l in jax.tree.leaves(one.variables))
        np.testing.assert_array_equal(two.sample(3, seed=1), default.sample(3, seed=1))
        np.testing.assert_array_equal(one.sample(3, seed=1), default.sample(3, seed=1))
        np.testing.assert_allclose(one.log_prob(np.zeros((5,) + one.image_shape, np.uint8)),
                                   default.log_prob(np.zeros((5,) + one.image_shape, np.uint8)),
                                   rtol=1e-6)
        print("PLACED")
    """)
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4")
    out = subprocess.run([sys.executable, "-c", script, tiny_folder], env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "PLACED" in out.stdout


def test_bad_devices_argument(tiny_folder):
    with pytest.raises(ValueError, match="devices is empty"):
        nif_zoo.load(tiny_folder, devices=[])
    with pytest.raises(ValueError, match="jax.Device"):
        nif_zoo.load(tiny_folder, devices=["cpu:0"])


def test_names_paths_and_repo_ids_are_told_apart(tmp_path):
    from nif_zoo.zoo import HubError

    with pytest.raises(FileNotFoundError, match="no pretrained folder at ./does-not-exist"):
        nif_zoo.load("./does-not-exist")
    with pytest.raises(HubError, match="valid Hugging Face repo id"):
        nif_zoo.load("a/b c")
    with pytest.raises(IntegrityError, match="has no SHA256SUMS"):
        nif_zoo.load(str(tmp_path))
