import numpy as np
import pytest

from nif_zoo.data.dataset import ImageDataset
from nif_zoo.data.preprocess import convert_channels, fit_to_shape, reduce_bits


def test_fit_modes():
    imgs = np.arange(2 * 218 * 178 * 3, dtype=np.int64).reshape(2, 218, 178, 3) % 256
    imgs = imgs.astype(np.uint8)
    celeb = fit_to_shape(imgs, (64, 64, 3), "stride_crop")  # stride 2: 109 x 89, then crop
    np.testing.assert_array_equal(celeb, imgs[:, ::2, ::2][:, 22:86, 12:76])
    assert fit_to_shape(imgs, (32, 40, 3), "resize").shape == (2, 32, 40, 3)
    small = np.ones((1, 28, 28, 1), np.uint8)
    padded = fit_to_shape(small, (32, 32, 1), "pad")
    assert padded.shape == (1, 32, 32, 1) and padded.sum() == 28 * 28
    assert padded[0, 2, 2, 0] == 1 and padded[0, 1, 1, 0] == 0
    with pytest.raises(ValueError, match="cannot pad"):
        fit_to_shape(imgs, (64, 64, 3), "pad")
    with pytest.raises(ValueError, match="fit mode"):
        fit_to_shape(imgs, (64, 64, 3), "stretch")


def test_channels_and_bits():
    rgb = np.array([[[[255, 0, 0]]]], np.uint8)
    assert convert_channels(rgb, 1)[0, 0, 0, 0] == 76  # 0.299 * 255
    assert convert_channels(rgb[..., :1], 3).shape == (1, 1, 1, 3)
    np.testing.assert_array_equal(reduce_bits(np.array([0, 7, 8, 255], np.uint8), 5),
                                  [0, 0, 1, 31])


def test_batches_are_deterministic_epochs_without_repeats():
    data = ImageDataset(np.arange(10, dtype=np.uint8).reshape(10, 1, 1, 1), None, "x", "train")
    assert data.steps_per_epoch(3) == 3
    epoch0 = np.concatenate([data.batch_at(s, 3, seed=1).ravel() for s in range(3)])
    assert len(set(epoch0)) == 9  # one image of the epoch is dropped, none repeated
    np.testing.assert_array_equal(data.batch_at(4, 3, seed=1), data.batch_at(4, 3, seed=1))
    assert not np.array_equal(data.batch_at(0, 3, seed=1), data.batch_at(0, 3, seed=2))
    assert not np.array_equal(data.batch_at(0, 3, seed=1), data.batch_at(3, 3, seed=1))
    with pytest.raises(ValueError, match="exceeds"):
        data.batch_at(0, 11, seed=0)
    with pytest.raises(ValueError, match="uint8"):
        ImageDataset(np.zeros((2, 2, 2, 1), np.float32), None, "x", "train")


def test_quantize_saturates_overflow():
    from nif_zoo.data.quantize import quantize

    y = np.array([np.inf, -np.inf, np.nan, 1e30, -1e30, 0.5, 1.0])
    assert quantize(y, 8).tolist() == [255, 0, 0, 255, 0, 128, 255]
    assert quantize(y, 5).tolist() == [31, 0, 0, 31, 0, 16, 31]
