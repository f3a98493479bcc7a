"""``nif-zoo demo``: a local web page (Gradio, ``pip install "nif-zoo[demo]"``) to sample
and explore a pretrained model: temperature t and noise scale s sliders, seed, number of
samples, a "walk off the manifold" strip (the same z, s from 0 to 1) and an upload box that
shows an image's reconstruction on the manifold and its embedding norm.

Served on 127.0.0.1 by default. Models are loaded once and keep their compiled functions;
samples are always drawn as one fixed-size batch (``MAX_SAMPLES``) and cut to the number
asked for, so moving a slider never recompiles (and the first k samples stay the same when
the number changes). Every callback turns errors into a readable message on the page.
"""
from __future__ import annotations

import functools
import io
import time
from typing import Dict, List, Optional

import numpy as np

MAX_SAMPLES = 36
STRIP_S = (0.0, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0)
STRIP_COUNT = 4
FIRST_MODEL = "nif64-celeba64-3bit"  # shown first when bundled: README command 1's faces


def available_models() -> List[str]:
    """Bundled zoo models, then nif-zoo repos in the Hugging Face cache."""
    from nif_zoo.zoo import registry
    from nif_zoo.zoo.hub import bundled_folder

    names = [n for n in registry.list_models(pretrained_only=True) if bundled_folder(n)]
    try:
        from huggingface_hub import scan_cache_dir

        for repo in scan_cache_dir().repos:
            if repo.repo_type == "model" and any(
                    f.file_name == "SHA256SUMS" for rev in repo.revisions for f in rev.files):
                names.append(repo.repo_id)
    except Exception:  # noqa: BLE001 - no cache (or an unreadable one) just lists nothing
        pass
    return names


class DemoState:
    """Loaded models and the rendering functions the page calls (testable without a
    browser)."""

    def __init__(self, scale: int = 4):
        self.models: Dict[str, object] = {}
        self.scale = scale
        self.last_latency_s: Optional[float] = None

    def model(self, name: str):
        from nif_zoo.zoo import load

        if not name:
            raise ValueError("pick a model")
        if name not in self.models:
            self.models[name] = load(name)
        return self.models[name]

    def _grid(self, images, n_bits, cols=None):
        from nif_zoo.evaluate.images import image_grid

        grid = image_grid(images, n_bits=n_bits, cols=cols, scale=self.scale)
        return grid[..., 0] if grid.shape[-1] == 1 else grid

    def samples(self, name: str, temperature: float, s: float, seed: int, num: int):
        start = time.perf_counter()
        model = self.model(name)
        num = int(num)
        if not 1 <= num <= MAX_SAMPLES:
            raise ValueError(f"number of samples must be 1..{MAX_SAMPLES}; got {num}")
        images = model.sample(MAX_SAMPLES, temperature=float(temperature), s=float(s),
                              seed=int(seed), batch_size=MAX_SAMPLES)[:num]
        grid = self._grid(images, model.n_bits)
        self.last_latency_s = time.perf_counter() - start
        return grid

    def strip(self, name: str, temperature: float, seed: int):
        """Rows: STRIP_COUNT latents z = t eps; columns: decode(z, s) for s in STRIP_S with
        one noise draw per row (see :func:`nif_zoo.evaluate.plots.manifold_walk`)."""
        from nif_zoo.evaluate.plots import manifold_walk

        model = self.model(name)
        rows = manifold_walk(model, STRIP_S, num=STRIP_COUNT, temperature=float(temperature),
                             seed=int(seed))
        return self._grid(np.concatenate(rows), model.n_bits, cols=len(STRIP_S))

    def reconstruct(self, name: str, data: Optional[bytes]):
        """(input | reconstruction image, message) for uploaded file bytes."""
        from PIL import Image, UnidentifiedImageError

        from nif_zoo.data.preprocess import reduce_bits

        model = self.model(name)
        if not data:
            raise ValueError("upload an image file first")
        try:
            with Image.open(io.BytesIO(data)) as img:
                img.load()
                mode = "L" if model.image_shape[2] == 1 else "RGB"
                arr = np.asarray(img.convert(mode), np.uint8)
        except (UnidentifiedImageError, OSError, ValueError) as err:
            raise ValueError(f"could not read the upload as an image ({type(err).__name__}); "
                             "use a PNG or JPEG file") from None
        arr = arr.reshape(arr.shape[0], arr.shape[1], -1)
        if arr.shape != model.image_shape:
            h, w, c = model.image_shape
            raise ValueError(f"this model takes {h}x{w} images with {c} channel(s); the upload "
                             f"is {arr.shape[0]}x{arr.shape[1]}. Resize it first (e.g. "
                             f"nif-zoo reconstruct {name} FILE --fit resize)")
        x = reduce_bits(arr[None], model.n_bits)
        rec = model.reconstruct(x)
        z = model.embed(x)
        norm = float(np.linalg.norm(z))
        message = (f"embedding norm ||z|| = {norm:.2f} (a N(0, I) latent of dimension "
                   f"{model.latent_dim} has norm about {np.sqrt(model.latent_dim):.1f}); "
                   f"reconstruction error {float(np.abs(rec.astype(float) - x).mean()):.3f} "
                   "levels per pixel")
        return self._grid(np.concatenate([x, rec]), model.n_bits, cols=2), message


GRADIO_MINIMUM = (6, 0)  # setup.cfg's [demo] extra: the API's visibility (api_visibility)


def import_gradio():
    """Gradio, or an ImportError that says what to install: when it is missing, older than
    the demo needs, or installed but failing to import (gradio 5.0-5.5 with huggingface-hub
    1.x, for one)."""
    from importlib.metadata import PackageNotFoundError

    from nif_zoo.cache import package_version

    fix = 'pip install -U "nif-zoo[demo]"'
    try:
        numbers = package_version("gradio")
    except PackageNotFoundError:
        raise ImportError(f"the demo needs Gradio >= {GRADIO_MINIMUM[0]}.{GRADIO_MINIMUM[1]}: "
                          f"{fix}") from None
    installed = ".".join(map(str, numbers))
    if numbers[:2] < GRADIO_MINIMUM:
        raise ImportError(f"the demo needs Gradio >= {GRADIO_MINIMUM[0]}.{GRADIO_MINIMUM[1]}; "
                          f"gradio {installed} is installed: {fix}")
    try:
        import gradio
    except ImportError as err:
        raise ImportError(f"gradio {installed} is installed but fails to import ({err}); "
                          f"a version that matches your huggingface-hub may: {fix}") from err
    return gradio


def build_app(default: Optional[str] = None, state: Optional[DemoState] = None):
    """The Gradio Blocks of the demo."""
    gr = import_gradio()
    state = state or DemoState()
    names = available_models()
    if default and default not in names:
        names.insert(0, default)
    if not default:
        default = FIRST_MODEL if FIRST_MODEL in names else (names[0] if names else None)

    def safe(fn, n_outputs):
        """fn returns n_outputs values, or n_outputs values and a message; any error
        becomes the message (outputs unchanged). Its parameter names stay fn's (the API's)."""
        @functools.wraps(fn)
        def wrapped(*args):
            try:
                out = fn(*args)
                out = out if isinstance(out, tuple) else (out,)
                return out if len(out) > n_outputs else (*out, "")
            except Exception as err:  # noqa: BLE001 - shown on the page, never a traceback
                return (*([gr.update()] * n_outputs), f"**Error:** {err}")
        return wrapped

    # the API (gradio_client: Client(url).view_api()): three endpoints, named parameters
    def sample(model, temperature, s, seed, num):
        """Samples of ``model`` at temperature t and noise scale s: a grid image."""
        return state.samples(model, temperature, s, seed, num)

    def walk_off_the_manifold(model, temperature, seed):
        """Rows: latents z = t eps; columns: decode(z, s) for s in 0 .. 1."""
        return state.strip(model, temperature, seed)

    def reconstruct(model, image):
        """An image file's bytes -> (input | reconstruction, its embedding's norm)."""
        return state.reconstruct(model, image)

    def render(model, temperature, s, seed, num):
        return (sample(model, temperature, s, seed, num),
                walk_off_the_manifold(model, temperature, seed))

    with gr.Blocks(title="nif-zoo demo") as app:
        gr.Markdown("# nif-zoo: noisy injective flows\nSample at temperature **t** "
                    "(z = t eps) and noise scale **s** (s = 0: on the learned manifold; "
                    "s = 1: the trained density).")
        with gr.Row():
            model = gr.Dropdown(names, value=default, label="model", elem_id="model")
            seed = gr.Number(value=0, precision=0, label="seed", elem_id="seed")
            num = gr.Slider(1, MAX_SAMPLES, value=16, step=1, label="number of samples",
                            elem_id="num")
        with gr.Row():
            temperature = gr.Slider(0.0, 2.0, value=0.7, step=0.05, label="temperature t",
                                    elem_id="temperature")
            s = gr.Slider(0.0, 1.2, value=0.0, step=0.05, label="noise scale s", elem_id="s")
        message = gr.Markdown("", elem_id="message")
        with gr.Row():
            samples = gr.Image(label="samples", type="numpy", format="png", elem_id="samples",
                               interactive=False)
            strip = gr.Image(label=f"walk off the manifold: the same z, s = "
                                   f"{', '.join(f'{v:g}' for v in STRIP_S)}",
                             type="numpy", format="png", elem_id="strip", interactive=False)
        gr.Markdown("### Your image: reconstruction on the manifold and embedding")
        with gr.Row():
            upload = gr.File(label="upload an image (the model's size)", type="binary",
                             elem_id="upload")
            recon = gr.Image(label="input | reconstruction", type="numpy", format="png", elem_id="recon",
                             interactive=False)
        upload_message = gr.Markdown("", elem_id="upload-message")

        inputs = [model, temperature, s, seed, num]
        outputs = [samples, strip, message]
        for control in (model, temperature, s, seed, num):
            # while a slider is dragged only the latest value is rendered
            control.change(safe(render, 2), inputs, outputs, trigger_mode="always_last",
                           api_visibility="private")
        app.load(safe(render, 2), inputs, outputs, api_visibility="private")
        upload.upload(safe(reconstruct, 1), [model, upload], [recon, upload_message],
                      api_name="reconstruct")
        api = gr.Button(visible=False)  # the API's own events, beside the page's
        api.click(safe(sample, 1), inputs, [samples, message], api_name="sample")
        api.click(safe(walk_off_the_manifold, 1), [model, temperature, seed], [strip, message],
                  api_name="walk_off_the_manifold")
    return app


def launch(default: Optional[str] = None, *, host: str = "127.0.0.1", port: int = 7860,
           share: bool = False):
    """Serve the demo (blocks until interrupted)."""
    app = build_app(default)
    app.queue().launch(server_name=host, server_port=port, share=share,
                       show_error=False, quiet=True)
