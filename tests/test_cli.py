"""The command line, run as a user would (in-process through main())."""
import os

import numpy as np
import pytest
from PIL import Image

import nif_zoo
from nif_zoo import cli
from nif_zoo.evaluate.images import image_grid
from nif_zoo.evaluate.likelihood import evaluation_data, heldout_bits_per_dim


def last_error(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert not any("Traceback" in line for line in err)
    return err[-1]


def test_sample_writes_a_png_grid(tiny_folder, tmp_path, capsys):
    out, npy = tmp_path / "grid.png", tmp_path / "x.npy"
    rc = cli.main(["sample", tiny_folder, "--num", "6", "--scale", "2", "-t", "0.5",
                   "--s", "0.2", "--seed", "4", "--out", str(out), "--npy", str(npy)])
    assert rc == 0
    img = np.asarray(Image.open(out))
    # 6 images -> 2 rows x 3 columns of 16x16 tiles with 1-pixel borders
    assert img.shape == (2 * 17 + 1, 3 * 17 + 1)
    expected = nif_zoo.load(tiny_folder).sample(6, temperature=0.5, s=0.2, seed=4)
    np.testing.assert_array_equal(np.load(npy), expected)
    assert "t=0.5, s=0.2, seed=4" in capsys.readouterr().out


def test_errors_are_one_line_and_non_zero(tiny_folder, tmp_path, capsys):
    rc = cli.main(["sample", tiny_folder, "--s", "-1", "--out", str(tmp_path / "x.png")])
    assert rc == 1
    assert last_error(capsys) == "nif-zoo sample: error: s must be finite and >= 0; got -1.0"
    assert cli.main(["info", "nif64-mnist"]) == 1
    assert "did you mean nif64-mnist32" in last_error(capsys)
    assert cli.main(["reconstruct", tiny_folder, str(tmp_path / "nope.png")]) == 1
    assert "no such image file" in last_error(capsys)
    with pytest.raises(ValueError):
        cli.main(["--debug", "sample", tiny_folder, "--num", "0"])


def test_list_and_info(capsys):
    assert cli.main(["list", "--names", "*-lfw24"]) == 0
    assert capsys.readouterr().out.split() == ["nf-lfw24", "nif32-lfw24"]
    assert cli.main(["list", "nif*-celeba64*"]) == 0
    out = capsys.readouterr().out
    assert "nif512-celeba64-3bit" in out and "recipe" in out and "nf-celeba64" not in out
    assert cli.main(["info", "nif128-cifar32-3bit"]) == 0
    assert "# nif128-cifar32-3bit" in capsys.readouterr().out
    with pytest.warns(FutureWarning, match="replaced by nif128-cifar32-3bit"):
        assert cli.main(["info", "nif128-cifar32"]) == 0  # the replaced name still works
    assert "# nif128-cifar32-3bit" in capsys.readouterr().out


def write_pngs(folder, images):
    paths = []
    for i, img in enumerate(images):
        path = os.path.join(folder, f"img{i}.png")
        Image.fromarray(img[..., 0]).save(path)
        paths.append(path)
    return paths


def test_reconstruct_and_embed_files(tiny_folder, tmp_path):
    model = nif_zoo.load(tiny_folder)
    images = model.sample(3, seed=0)
    paths = write_pngs(str(tmp_path), images)
    out = tmp_path / "rec.png"
    assert cli.main(["reconstruct", tiny_folder, *paths, "--scale", "1", "--out", str(out)]) == 0
    grid = np.asarray(Image.open(out))
    assert grid.shape == (2 * 9 + 1, 3 * 9 + 1)  # inputs above reconstructions
    np.testing.assert_array_equal(grid[10:18, 1:9], model.reconstruct(images)[0, ..., 0])
    z_path = tmp_path / "z.npy"
    assert cli.main(["embed", tiny_folder, *paths, "--out", str(z_path)]) == 0
    np.testing.assert_allclose(np.load(z_path), model.embed(images), rtol=1e-5, atol=1e-6)


def test_embed_and_eval_a_dataset_split(tiny_folder, tmp_path, capsys):
    model = nif_zoo.load(tiny_folder)
    data = evaluation_data({"dataset": "lfw_faces", "image_shape": [8, 8, 1], "n_bits": 8,
                            "fit": "resize"}, "test", 4)
    z_path = tmp_path / "z.npy"
    assert cli.main(["embed", tiny_folder, "--split", "test", "--limit", "4",
                     "--out", str(z_path)]) == 0
    np.testing.assert_allclose(np.load(z_path), model.embed(data.images), rtol=1e-5, atol=1e-6)
    capsys.readouterr()
    assert cli.main(["eval", tiny_folder, "--limit", "4", "--seed", "2"]) == 0
    line = capsys.readouterr().out.strip()
    expected = heldout_bits_per_dim(model, data.images, seed=2)
    assert f"{expected['bpd']:.4f} bits/dim" in line and "4 images; exact" in line


def test_image_grid_scales_n_bits_and_tiles():
    imgs = np.array([[[[0]], [[31]]]], np.uint8).reshape(1, 1, 2, 1)
    grid = image_grid(imgs, n_bits=5, scale=2, pad=0)
    assert grid.shape == (2, 4, 1)
    assert grid[0, 0, 0] == 0 and grid[0, 3, 0] == 255


def test_separability_table(capsys):
    from nif_zoo.evaluate.compare import knn_accuracy

    assert cli.main(["separability", "nf-mnist32", "nif32-mnist32", "--limit", "60",
                     "--k", "3"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "| model | latent dim | 3-NN accuracy (test, 60 images) |"
    data = evaluation_data({"dataset": "mnist", "image_shape": [32, 32, 1], "n_bits": 8,
                            "fit": None}, "test", 60)
    z = nif_zoo.load("nif32-mnist32").embed(data.images)
    assert lines[3] == f"| nif32-mnist32 | 32 | {knn_accuracy(z, data.labels, 3):.3f} |"
    assert cli.main(["separability", "nf-lfw24"]) == 1
    assert "has no labels" in last_error(capsys)


def test_tune_s_and_compare_commands(tmp_path, monkeypatch, capsys, stub_features):
    """The commands' plumbing, with a cheap stand-in for the Inception features."""
    from nif_zoo.evaluate import fid

    monkeypatch.setattr(fid, "InceptionFeatures", lambda device="cpu": stub_features())
    monkeypatch.setenv("NIF_ZOO_CACHE", str(tmp_path / "cache"))
    common = ["--num-samples", "20", "--s-grid", "0,1", "--train-ref", "30", "--test-ref", "10"]
    assert cli.main(["tune-s", "nif32-lfw24", *common]) == 0
    out = capsys.readouterr().out
    assert "s = 0.000: FID (train, 20 samples)" in out and "s = 1.000: FID (train" in out
    assert "nif32-lfw24: best s = " in out and "(20 samples, t = 1.0, 10 test images)" in out
    assert cli.main(["compare", "nf-lfw24", "nif32-lfw24", "--out", str(tmp_path / "r"),
                     "--no-plots", *common]) == 0
    assert (tmp_path / "r" / "comparison.md").read_text().startswith("| model | kind | M |")
    assert cli.main(["tune-s", "nif32-lfw24", "--s-grid", "0,-1"]) == 1
    assert "--s-grid needs values >= 0" in last_error(capsys)


def test_compilation_cache_persists_across_processes(tmp_path):
    """The CLI stores compiled programs under $NIF_ZOO_CACHE/jax; a second process reuses
    them (same PNG); NIF_ZOO_COMPILATION_CACHE=0 turns it off."""
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items()
           if k not in ("NIF_ZOO_COMPILATION_CACHE", "JAX_COMPILATION_CACHE_DIR")}
    env.update(NIF_ZOO_CACHE=str(tmp_path / "cache"), HF_HUB_OFFLINE="1")

    def sample(out, **extra):
        subprocess.run([sys.executable, "-m", "nif_zoo.cli", "sample", "nf-lfw24", "--num", "4",
                        "--out", str(out)], check=True, env={**env, **extra})
        return np.asarray(Image.open(out))

    def cached():  # program file -> when it was written
        return {p.name: p.stat().st_mtime_ns for p in (tmp_path / "cache" / "jax").iterdir()}

    first = sample(tmp_path / "a.png")
    compiled = cached()
    assert compiled, "no compiled program was cached"
    second = sample(tmp_path / "b.png")
    np.testing.assert_array_equal(first, second)
    # every program of the first run was read back, not compiled and written again (a program
    # that compiled under the 0.1 s threshold the first time may be added by a busier second
    # run: the threshold is on compile time)
    again = cached()
    assert {name: again.get(name) for name in compiled} == compiled
    off = sample(tmp_path / "c.png", NIF_ZOO_COMPILATION_CACHE="0",
                 NIF_ZOO_CACHE=str(tmp_path / "off"))
    np.testing.assert_array_equal(first, off)
    assert not (tmp_path / "off" / "jax").exists()


def test_sample_streams_many_images_and_refuses_a_huge_grid(tiny_folder, tmp_path, capsys,
                                                            monkeypatch):
    from nif_zoo.cli import sample

    monkeypatch.setattr(sample, "MAX_GRID_IMAGES", 4)
    monkeypatch.setattr(sample, "SAMPLE_CHUNK", 5)
    assert cli.main(["sample", tiny_folder, "--num", "12", "--out", str(tmp_path / "g.png")]) == 1
    assert "too many for one PNG grid (at most 4)" in last_error(capsys)
    npy = tmp_path / "all.npy"
    assert cli.main(["sample", tiny_folder, "--num", "12", "--s", "0.3", "--seed", "2",
                     "--out", str(tmp_path / "g.png"), "--npy", str(npy)]) == 0
    assert "the first 4 of 12" in capsys.readouterr().out
    # pieces of 5 give exactly the samples of one call
    whole = nif_zoo.load(tiny_folder).sample(12, temperature=0.7, s=0.3, seed=2)
    np.testing.assert_array_equal(np.load(npy), whole)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "g.png")),
                                  image_grid(whole[:4], n_bits=8, scale=4)[..., 0])


def test_flags_and_recommended_sampling_values(tiny_models, tmp_path, capsys, monkeypatch):
    parser = cli.build_parser()
    args = parser.parse_args(["train", "--flip", "on", "--kind", "deep_nif", "--nif-form",
                              "upsample"])
    config = cli.train_config_from_args(args)
    assert config["data"]["flip"] is True and config["model"]["nif_form"] == "upsample"
    for old in ("--prior", "--nif"):  # the flag's old names
        args = parser.parse_args(["train", old, "upsample"])
        assert cli.train_config_from_args(args)["model"]["nif_form"] == "upsample"
    args = parser.parse_args(["train", "--kind", "progressive", "--latent-shape", "8,8,1"])
    config = cli.train_config_from_args(args)
    assert config["model"]["latent_shape"] == [8, 8, 1] and "latent_dim" not in config["model"]
    assert cli.train_config_from_args(parser.parse_args(["train", "--flip", "off"]))["data"]["flip"] is False
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "--flip", "maybe"])
    help_text = parser._subparsers._group_actions[0].choices["train"].format_help()
    assert "deep_nif" in help_text and "progressive" in help_text
    # t and s come from the folder's own training record
    folder = tmp_path / "with-zoo"
    tiny_models["nif"].save_pretrained(str(folder), training={
        "data": {"dataset": "lfw_faces"}, "zoo": {"temperature": 0.3, "s": 0.1}})
    assert cli.main(["sample", str(folder), "--num", "2", "--out", str(tmp_path / "a.png")]) == 0
    assert "t=0.3, s=0.1" in capsys.readouterr().out
    # a folder named like a zoo model does not shadow it
    monkeypatch.chdir(tmp_path)
    os.mkdir("nif32-lfw24")
    assert cli.main(["sample", "nif32-lfw24", "--num", "2", "--out", "b.png"]) == 0


def test_train_sample_export_and_push_from_the_command_line(tmp_path, capsys, monkeypatch):
    """A new user's way with a folder of images: train, sample the run, export it as a
    pretrained folder with a measured card, push that; no progress bar with --no-progress."""
    import json

    from nif_zoo.train import load_trained

    rng = np.random.default_rng(0)
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    for i in range(48):
        Image.fromarray(rng.integers(0, 256, (12, 12), dtype=np.uint8)).save(imgs / f"{i}.png")
    run, exported = str(tmp_path / "run1"), str(tmp_path / "mine")
    assert cli.main(["--no-progress", "train", "--kind", "nif", "--latent-dim", "4",
                     "--dataset", "folder", "--data-dir", str(imgs), "--image-shape", "8,8,1",
                     "--levels", "2", "--flow-steps", "1", "--width", "8", "--batch-size", "8",
                     "--steps", "3", "--checkpoint-every", "0", "--out", run]) == 0
    captured = capsys.readouterr()
    assert "%|" not in captured.err and "it/s" not in captured.err, captured.err[-2000:]
    # the run's folder is a model for every command: its moving-average weights
    png = tmp_path / "s.png"
    assert cli.main(["sample", run, "--num", "4", "-t", "0.5", "--s", "0", "--npy",
                     str(tmp_path / "s.npy"), "--out", str(png)]) == 0
    trained = load_trained(run)
    np.testing.assert_array_equal(np.load(tmp_path / "s.npy"),
                                  trained.sample(4, temperature=0.5, s=0.0))
    # export: a pretrained folder whose card states what its saved weights measure
    assert cli.main(["export", run, "--out", exported]) == 0
    assert "exported" in capsys.readouterr().out
    loaded = nif_zoo.load(exported)
    np.testing.assert_array_equal(loaded.sample(4, temperature=0.5, s=0.0),
                                  trained.sample(4, temperature=0.5, s=0.0))
    metrics = json.load(open(os.path.join(exported, "metrics.json")))
    data = json.load(open(os.path.join(run, "config.json")))["data"]
    test = evaluation_data(dict(data, image_shape=[8, 8, 1], n_bits=8),
                           data["eval_split"], data["eval_limit"])
    assert metrics["test_bpd"] == heldout_bits_per_dim(loaded, test.images, seed=0)["bpd"]
    assert "# mine" in open(os.path.join(exported, "README.md")).read()
    assert cli.main(["export", str(imgs), "--out", str(tmp_path / "x")]) == 1
    assert "is not a training run" in last_error(capsys)

    # push: the verified folder to a hub repo (a stand-in for the Hugging Face API)
    calls = []

    class FakeApi:
        def __init__(self, token=None):
            pass

        def create_repo(self, repo_id, private=False, exist_ok=False):
            calls.append(("create", repo_id, private))

        def upload_folder(self, repo_id, folder_path, revision=None, commit_message=None):
            calls.append(("upload", repo_id, sorted(os.listdir(folder_path))))
            return type("Info", (), {"commit_url": f"http://hub/{repo_id}/commit/1"})()

    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    assert cli.main(["push", exported, "me/mine", "--private"]) == 0
    assert "http://hub/me/mine/commit/1" in capsys.readouterr().out
    assert calls == [("create", "me/mine", True),
                     ("upload", "me/mine", sorted(os.listdir(exported)))]
    with open(os.path.join(exported, "config.json"), "a") as fh:
        fh.write(" ")
    assert cli.main(["push", exported, "me/mine"]) == 1
    assert "corrupt or truncated" in last_error(capsys) and len(calls) == 2
