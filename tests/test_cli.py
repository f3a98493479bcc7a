"""The command line, run as a user would (in-process through main())."""
import numpy as np
from PIL import Image

from nif_zoo import cli
from nif_zoo.evaluate.images import image_grid


def test_sample_writes_a_png_grid(tmp_path):
    out = tmp_path / "grid.png"
    rc = cli.main(["sample", "--image-shape", "8,8,1", "--levels", "2", "--steps", "1",
                   "--width", "8", "--latent-dim", "4", "--num", "6", "--scale", "2",
                   "--out", str(out)])
    assert rc == 0
    img = np.asarray(Image.open(out))
    # 6 images -> 2 rows x 3 columns of 16x16 tiles with 1-pixel borders
    assert img.shape == (2 * 17 + 1, 3 * 17 + 1)


def test_errors_are_one_line_and_non_zero(tmp_path, capsys):
    rc = cli.main(["sample", "--image-shape", "8,8,1", "--levels", "2", "--steps", "1",
                   "--width", "8", "--latent-dim", "4", "--s", "-1",
                   "--out", str(tmp_path / "x.png")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1
    assert err[-1] == "nif-zoo sample: error: s must be finite and >= 0; got -1.0"
    assert not any("Traceback" in line for line in err)


def test_image_grid_scales_n_bits_and_tiles():
    imgs = np.array([[[[0]], [[31]]]], np.uint8).reshape(1, 1, 2, 1)
    grid = image_grid(imgs, n_bits=5, scale=2, pad=0)
    assert grid.shape == (2, 4, 1)
    assert grid[0, 0, 0] == 0 and grid[0, 3, 0] == 255
