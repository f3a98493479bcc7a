"""The unpacked folders of the paper's datasets (CelebA's aligned faces, Fashion-MNIST's and
CIFAR-10's class folders), on folders the tests generate in the same layout, bad files
included."""
import io
import os
import warnings

import numpy as np
import pytest
from PIL import Image

from nif_zoo.data import load_dataset, sources
from nif_zoo.data.datasets import dataset

pytestmark = pytest.mark.lowest  # also run at the lowest versions (.ci/lowest)


def save_faces(folder, count, size=(109, 89), fmt="JPEG", start=1, seed=0):
    """``count`` colour images named like img_align_celeba (000001.jpg, ...); returns the
    arrays written (what PIL reads back, JPEG being lossy)."""
    os.makedirs(folder, exist_ok=True)
    r = np.random.default_rng(seed)
    ext = ".jpg" if fmt == "JPEG" else ".png"
    out = []
    for i in range(start, start + count):
        path = os.path.join(folder, f"{i:06d}{ext}")
        smooth = r.integers(0, 256, (size[0] // 8 + 1, size[1] // 8 + 1, 3), dtype=np.uint8)
        arr = np.kron(smooth, np.ones((8, 8, 1), np.uint8))[: size[0], : size[1]]
        Image.fromarray(arr).save(path, fmt)
        with Image.open(path) as img:
            out.append(np.asarray(img.convert("RGB")))
    return out


@pytest.fixture
def celeba_root(tmp_path, monkeypatch):
    """$NIF_ZOO_DATA with celeba/img_align_celeba_half/ of 40 half-resolution faces."""
    monkeypatch.setenv("NIF_ZOO_DATA", str(tmp_path / "data"))
    folder = tmp_path / "data" / dataset("celeba").local_folder
    faces = save_faces(str(folder), 40)
    return folder, faces


def test_celeba_half_resolution_folder_is_the_default_with_the_authors_crop(celeba_root):
    folder, faces = celeba_root
    kw = dict(image_shape=(64, 64, 3), n_bits=8, split_scheme="random_80_10_10",
              cache_dir=False)
    parts = {s: load_dataset("celeba", s, **kw) for s in ("train", "test", "validation")}
    assert [len(parts[s]) for s in ("train", "test", "validation")] == [32, 4, 4]
    files = {s: sources.folder_files(str(folder), s, "random_80_10_10", 0)[0] for s in parts}
    assert sorted(sum(files.values(), [])) == sorted(
        os.path.join(str(folder), f) for f in os.listdir(folder))
    first = int(os.path.basename(files["test"][0])[:6]) - 1
    np.testing.assert_array_equal(parts["test"].images[0], faces[first][26:-19, 12:-13])
    three = load_dataset("celeba", "test", **{**kw, "n_bits": 3})
    np.testing.assert_array_equal(three.images, parts["test"].images >> 5)
    assert three.images.max() < 8
    flipped = load_dataset("celeba", "train", flip=True, **kw)
    batch = flipped.batch_at(0, 32, seed=0)
    plain = flipped.images[flipped.batch_indices(0, 32, seed=0)]
    is_flipped = np.all(batch == plain[:, :, ::-1], axis=(1, 2, 3))
    assert 0 < is_flipped.sum() < 32
    assert np.all(is_flipped | np.all(batch == plain, axis=(1, 2, 3)))


def test_full_resolution_celeba_files_are_strided_first(tmp_path):
    faces = save_faces(str(tmp_path / "full"), 3, size=(218, 178), fmt="PNG")
    data = load_dataset("celeba", "all", image_shape=(64, 64, 3), data_dir=str(tmp_path / "full"),
                        cache_dir=False)
    for got, face in zip(data.images, faces):
        np.testing.assert_array_equal(got, face[::2, ::2][26:-19, 12:-13])


def add_bad_files(folder):
    """A corrupt, a truncated, a gray and an odd-sized JPEG among the faces."""
    with open(os.path.join(folder, "100001.jpg"), "wb") as fh:
        fh.write(b"\xff\xd8 not really a jpeg")
    buf = io.BytesIO()
    Image.fromarray(np.full((109, 89, 3), 120, np.uint8)).save(buf, "JPEG")
    with open(os.path.join(folder, "100002.jpg"), "wb") as fh:
        fh.write(buf.getvalue()[: len(buf.getvalue()) // 2])
    Image.fromarray(np.full((109, 89), 90, np.uint8)).save(os.path.join(folder, "100003.jpg"))
    Image.fromarray(np.full((100, 80, 3), 30, np.uint8)).save(os.path.join(folder, "100004.jpg"))
    return {"100001.jpg": "cannot be read", "100002.jpg": "truncated",
            "100003.jpg": "gray image", "100004.jpg": "100x80"}


def test_each_bad_file_is_an_error_naming_it_or_skipped_and_counted(tmp_path):
    cache = tmp_path / "cache"
    for name, why in add_bad_files(str(tmp_path)).items():
        folder = tmp_path / name.replace(".jpg", "")
        save_faces(str(folder), 4)
        os.replace(tmp_path / name, folder / name)
        with pytest.raises(sources.BadImageError, match=f"(?i){name}: .*{why}"):
            load_dataset("celeba", "all", image_shape=(64, 64, 3), data_dir=str(folder),
                         cache_dir=str(cache))
        # nothing half-written: the failed read left no cache entry behind
        assert not [f for _, _, fs in os.walk(cache) for f in fs]
        with pytest.warns(UserWarning, match=f"skipped 1 of 5 image file.*{name}"):
            data = load_dataset("celeba", "all", image_shape=(64, 64, 3), data_dir=str(folder),
                                cache_dir=False, skip_bad=True)
        assert len(data) == 4
    all_bad = tmp_path / "all_bad"
    save_faces(str(all_bad), 6)
    add_bad_files(str(all_bad))
    with pytest.warns(UserWarning, match=r"skipped 4 of 10 image file\(s\)"):
        assert len(load_dataset("celeba", "all", image_shape=(64, 64, 3),
                                data_dir=str(all_bad), cache_dir=False, skip_bad=True)) == 6
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match=f"no image files .* in '{empty}'"):
        load_dataset("celeba", "all", image_shape=(64, 64, 3), data_dir=str(empty))


def test_a_gray_file_still_converts_in_a_plain_folder(tmp_path):
    Image.fromarray(np.full((8, 8), 90, np.uint8)).save(tmp_path / "gray.png")
    data = load_dataset("folder", "all", image_shape=(8, 8, 3), data_dir=str(tmp_path),
                        cache_dir=False)
    assert data.images.shape == (1, 8, 8, 3) and np.all(data.images == 90)


def test_an_interrupted_cache_build_leaves_nothing_and_is_rebuilt(tmp_path, monkeypatch):
    from nif_zoo.data import tfds_cache

    save_faces(str(tmp_path / "faces"), 5)
    cache = tmp_path / "cache"
    builder = tfds_cache.image_arrays_builder()
    prepare = builder.download_and_prepare

    def killed(self, *args, **kwargs):
        prepare(self, *args, **kwargs)
        raise KeyboardInterrupt  # after the records are written, before the cache is whole

    monkeypatch.setattr(builder, "download_and_prepare", killed)
    kw = dict(image_shape=(64, 64, 3), data_dir=str(tmp_path / "faces"), cache_dir=str(cache))
    with pytest.raises(KeyboardInterrupt):
        load_dataset("celeba", "all", **kw)
    assert not [f for _, _, fs in os.walk(cache) for f in fs]
    monkeypatch.setattr(builder, "download_and_prepare", prepare)
    first = load_dataset("celeba", "all", **kw)
    monkeypatch.setattr(sources, "read_images", lambda *a, **k: 1 / 0)  # now from the cache
    np.testing.assert_array_equal(load_dataset("celeba", "all", **kw).images, first.images)


def make_class_folders(root, counts=(("train", 40), ("test", 10)), size=(28, 28)):
    r = np.random.default_rng(1)
    for split, count in counts:
        for i in range(count):
            folder = os.path.join(root, split, str(i % 2))
            os.makedirs(folder, exist_ok=True)
            Image.fromarray(r.integers(0, 256, size, dtype=np.uint8)).save(
                os.path.join(folder, f"{i:04d}.png"))


def test_official_train_test_folders_get_a_validation_split_carved_from_train(tmp_path,
                                                                                monkeypatch):
    monkeypatch.setenv("NIF_ZOO_DATA", str(tmp_path))
    make_class_folders(str(tmp_path / "fashion_mnist"))
    kw = dict(image_shape=(28, 28, 1), n_bits=3, cache_dir=False)
    train = load_dataset("fashion_mnist", "train", **kw)
    validation = load_dataset("fashion_mnist", "validation", **kw)
    test = load_dataset("fashion_mnist", "test", **kw)
    assert (len(train), len(validation), len(test)) == (36, 4, 10)
    root = str(tmp_path / "fashion_mnist")
    names = {s: sources.folder_files(root, s)[0] for s in ("train", "validation")}
    assert not set(names["train"]) & set(names["validation"])
    assert sorted(names["train"] + names["validation"]) == sources.list_images(
        os.path.join(root, "train"))[0]
    assert set(train.labels) == {0, 1} and set(test.labels) == {0, 1}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the gray class folders read cleanly
        padded = load_dataset("fashion_mnist", "test", image_shape=(32, 32, 1), cache_dir=False)
    assert padded.images.shape == (10, 32, 32, 1)


def test_held_out_splits_of_class_folders_come_shuffled_so_a_prefix_samples_every_class(
        tmp_path, monkeypatch):
    """The official Fashion-MNIST and CIFAR-10 folders list one class after another: the
    first 1000 test files sorted by path are all T-shirts (airplanes). Held-out splits come
    in a seeded random order, so an eval_limit samples every class; train stays sorted."""
    monkeypatch.setenv("NIF_ZOO_DATA", str(tmp_path))
    root = str(tmp_path / "fashion_mnist")
    for split, count in (("train", 400), ("test", 200)):
        for label in range(4):  # four classes, one folder each, in sorted order
            folder = os.path.join(root, split, str(label))
            os.makedirs(folder, exist_ok=True)
            for i in range(count // 4):
                Image.fromarray(np.full((28, 28), 60 * label, np.uint8)).save(
                    os.path.join(folder, f"{i:04d}.png"))
    kw = dict(image_shape=(28, 28, 1), n_bits=8, cache_dir=False)
    for split in ("test", "validation"):
        paths, labels = sources.folder_files(root, split)
        assert sorted(paths) != paths and sorted(paths) == sources.split_files(root, split)[0]
        head = load_dataset("fashion_mnist", split, limit=32, **kw)
        assert set(head.labels) == {0, 1, 2, 3}, split                # every class in 32
        np.testing.assert_array_equal(head.images[:, 0, 0, 0], 60 * head.labels)
        assert sources.folder_files(root, split) == (paths, labels)   # the same order again
    train_paths, _ = sources.folder_files(root, "train")
    assert train_paths == sorted(train_paths)
    assert set(load_dataset("fashion_mnist", "train", limit=32, **kw).labels) == {0}
