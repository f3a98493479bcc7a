"""Data sources and preprocessing: uint8 image datasets with deterministic batches."""
from nif_zoo.data.dataset import ImageDataset
from nif_zoo.data.sources import SOURCES, load_dataset

__all__ = ["ImageDataset", "SOURCES", "load_dataset"]
