"""Cache a prepared image folder as a tensorflow-datasets array_record dataset.

Reading and fitting thousands of image files is slow; the second run should not do it.
The prepared uint8 arrays are written once by a custom tfds builder that stores raw
arrays (``tfds.features.Tensor``, array_record files: no TensorFlow needed) under
``cache_dir/<key>``, where the key hashes the file list (paths, sizes, modification
times), the target shape and the fit mode; any change to the folder is a new key.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil

import numpy as np

from nif_zoo.cache import cache_root

CACHE_FORMAT = 1


def cache_key(paths, image_shape, fit, extra=()) -> str:
    h = hashlib.sha256()
    key = [CACHE_FORMAT, list(image_shape or ()), fit] + ([list(extra)] if extra else [])
    h.update(json.dumps(key).encode())
    for p in paths:
        st = os.stat(p)
        h.update(f"{os.path.abspath(p)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:24]


def builder_class():
    import tensorflow_datasets as tfds

    class NifZooImageArrays(tfds.core.GeneratorBasedBuilder):
        """Raw uint8 images (+ labels and the original index) from in-memory arrays."""

        VERSION = tfds.core.Version("1.0.0")

        def __init__(self, *, images=None, labels=None, image_shape=None, **kwargs):
            self._images, self._labels, self._shape = images, labels, image_shape
            super().__init__(**kwargs)

        def _info(self):
            return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict({
                "image": tfds.features.Tensor(shape=tuple(self._shape), dtype=np.uint8),
                "label": tfds.features.Tensor(shape=(), dtype=np.int64),
                "index": tfds.features.Tensor(shape=(), dtype=np.int64),
            }))

        def _split_generators(self, dl_manager):
            return {"data": self._generate_examples()}

        def _generate_examples(self):
            for i, img in enumerate(self._images):
                label = -1 if self._labels is None else int(self._labels[i])
                yield i, {"image": img, "label": label, "index": i}

    return NifZooImageArrays


_BUILDER = None


def image_arrays_builder():
    """The builder class, made (and registered with tfds, which allows one) once."""
    global _BUILDER
    if _BUILDER is None:
        _BUILDER = builder_class()
    return _BUILDER


@contextlib.contextmanager
def tfds_progress(show: bool):
    """tfds' progress bars on or off inside the block (then as they were)."""
    from tensorflow_datasets.core.utils import tqdm_utils

    before = getattr(tqdm_utils, "_active", True)
    tqdm_utils.display_progress_bar(bool(show))
    try:
        yield
    finally:
        tqdm_utils.display_progress_bar(before)


def cached(prepare, *, paths, image_shape, fit, cache_dir=None, progress: bool = True,
           extra=()):
    """``prepare()`` -> (images, labels), through the array_record cache (tfds' progress bar
    while it is built unless ``progress`` is False). ``extra``: more settings that change
    what ``prepare`` returns (part of the key). The cache is built in a temporary folder
    and renamed into place when complete: an error or a kill while reading or writing
    leaves no half-written cache behind."""
    root = os.path.join(cache_dir or cache_root(), "folders",
                        cache_key(paths, image_shape, fit, extra))
    meta_path = os.path.join(root, "meta.json")
    builder_cls = image_arrays_builder()
    if not os.path.exists(meta_path):
        images, labels = prepare()  # a bad file raises here, before anything is written
        partial = f"{root}.partial-{os.getpid()}"
        shutil.rmtree(partial, ignore_errors=True)
        try:
            builder = builder_cls(images=images, labels=labels, image_shape=images.shape[1:],
                               data_dir=partial, file_format="array_record")
            with tfds_progress(progress):
                builder.download_and_prepare()
            meta = {"image_shape": list(images.shape[1:]), "has_labels": labels is not None,
                    "count": len(images)}
            with open(os.path.join(partial, "meta.json"), "w") as fh:
                json.dump(meta, fh)
            shutil.rmtree(root, ignore_errors=True)  # an incomplete copy of an older version
            os.replace(partial, root)  # the cache exists only once complete
        finally:
            shutil.rmtree(partial, ignore_errors=True)
        return images, labels
    with open(meta_path) as fh:
        meta = json.load(fh)
    builder = builder_cls(data_dir=root, image_shape=meta["image_shape"],
                       file_format="array_record")
    source = builder.as_data_source(split="data")
    records = [source[i] for i in range(len(source))]
    order = np.argsort([r["index"] for r in records])
    images = np.stack([records[i]["image"] for i in order]).astype(np.uint8)
    labels = (np.asarray([records[i]["label"] for i in order], np.int64)
              if meta["has_labels"] else None)
    return images, labels
