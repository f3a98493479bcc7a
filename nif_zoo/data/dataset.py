"""An in-memory image dataset with deterministic, resumable batches.

``ImageDataset.batch_at(step, batch_size, seed)`` is a pure function of its arguments:
epoch e = step // steps_per_epoch is shuffled by a permutation drawn from (seed, e), so
the data position of a run is just its step. Two runs with the same seed (an NF and a
NIF, or a run and its resumption) see the same batches in the same order.
"""
from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np


@dataclasses.dataclass(frozen=True)
class ImageDataset:
    """uint8 images (n, H, W, C) with values in [0, 2^n_bits), optional int labels (n,)."""

    images: np.ndarray
    labels: Optional[np.ndarray]
    name: str
    split: str
    n_bits: int = 8
    flip: bool = False  # random horizontal flips in batch_at (augmentation)

    def __post_init__(self):
        if self.images.ndim != 4 or self.images.dtype != np.uint8:
            raise ValueError(f"{self.name}/{self.split}: images must be uint8 (n, H, W, C); "
                             f"got {self.images.dtype} {self.images.shape}")
        if len(self.images) == 0:
            raise ValueError(f"{self.name}/{self.split}: no images")
        if self.labels is not None and len(self.labels) != len(self.images):
            raise ValueError(f"{self.name}/{self.split}: {len(self.labels)} labels for "
                             f"{len(self.images)} images")

    def __len__(self):
        return len(self.images)

    @property
    def image_shape(self):
        return tuple(self.images.shape[1:])

    def steps_per_epoch(self, batch_size: int) -> int:
        if batch_size > len(self):
            raise ValueError(f"batch_size {batch_size} exceeds the {len(self)} images of "
                             f"{self.name}/{self.split}")
        return len(self) // batch_size  # the remainder of each epoch is dropped

    def epoch_order(self, epoch: int, seed: int) -> np.ndarray:
        return np.random.default_rng([seed, epoch]).permutation(len(self))

    def batch_indices(self, step: int, batch_size: int, seed: int) -> np.ndarray:
        epoch, pos = divmod(step, self.steps_per_epoch(batch_size))
        return self.epoch_order(epoch, seed)[pos * batch_size: (pos + 1) * batch_size]

    def batch_at(self, step: int, batch_size: int, seed: int,
                 rows: Optional[slice] = None) -> np.ndarray:
        """The uint8 batch of training step ``step`` (a pure function of the arguments);
        ``rows``: only these rows of it (a host's share of a global batch: only they are
        read, and each is the same as in the whole batch)."""
        rows = slice(None) if rows is None else rows
        batch = self.images[self.batch_indices(step, batch_size, seed)[rows]]
        if self.flip:
            flips = (np.random.default_rng([seed, step, 1]).random(batch_size) < 0.5)[rows]
            batch = np.where(flips[:, None, None, None], batch[:, :, ::-1], batch)
        return batch

    def take(self, num: Optional[int]) -> "ImageDataset":
        """The first ``num`` images (all when None)."""
        if num is None or num >= len(self):
            return self
        return dataclasses.replace(self, images=self.images[:num],
                                   labels=None if self.labels is None else self.labels[:num])

    def iter_batches(self, batch_size: int):
        """Every image once, in order, in batches (the last may be smaller): for evaluation."""
        for start in range(0, len(self), batch_size):
            yield self.images[start: start + batch_size]
