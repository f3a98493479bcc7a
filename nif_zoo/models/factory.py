"""``create_model``: kind + sizes -> a JSON-serialisable config -> module -> initialised Model.

Kinds (SPEC section 5):

* ``"nf"``: Glow with a N(0, I) prior on its full N = H W C latent (the baseline);
* ``"nif"``: the same Glow (same initial key, so the same initial weights) whose prior is
  the closed-form Gaussian NIF with ``latent_dim`` = M: ``prior="dense"`` (A is N x M,
  default) or ``prior="upsample"`` (the O(dim z) nearest-neighbour form on the Glow's
  latent image, latent (H/f, W/f, M f^2 / (H W)); ``upsample_factor`` f is chosen as the
  smallest power of two that fits when not given).
* ``"deep_nif"``: z ~ N(0, I_M) -> low-dimensional MLP flow -> Gaussian NIF (``nif="dense"``
  or ``"upsample"``) -> the same Glow; trained by the ELBO, evaluated by the IW bound
  (:mod:`nif_zoo.models.deep_nif`). Options ``prior_layers`` (couplings, default 4; paper
  10), ``prior_hidden`` (units, 256; paper 1024), ``prior_depth`` (hidden layers, 2; paper
  4), ``elbo_samples`` (1), ``iw_samples`` (64).

Options: ``prior``, ``upsample_factor``, ``additive`` (additive coupling, default False),
``logit`` (lambda of the authors' logit transform before the Glow, e.g. 0.05; default None:
y - 1/2; the likelihood stays in the data's units),
``lu`` (LU 1x1 convolutions, default True), ``scan`` (``nn.scan`` over the K steps,
default True; configs without the key, written before it existed, load as False: see
:mod:`nif_zoo.flows.glow`), ``init_images`` (a batch for the data-dependent ActNorm initialisation; default:
16 images of uniform noise drawn from ``seed``).
"""
from __future__ import annotations

import math
from typing import Any, Dict, Optional

import jax
import jax.numpy as jnp

from nif_zoo import rng
from nif_zoo.flows.glow import Glow
from nif_zoo.flows.logit import check_lambda
from nif_zoo.flows.mlp_flow import MLPFlow
from nif_zoo.models.deep_nif import DeepImageFlow
from nif_zoo.models.flow_model import ImageFlow, to_flow_input
from nif_zoo.models.model import Model, unit_images
from nif_zoo.models.priors import DenseNIF, StandardNormal, UpsampleNIF
from nif_zoo.models.validation import check_count

KINDS = ("nf", "nif", "deep_nif")
PRIORS = ("dense", "upsample")
GLOW_OPTIONS = ("additive", "lu", "scan", "logit")
NIF_OPTIONS = ("prior", "upsample_factor")
DEEP_NIF_OPTIONS = ("nif", "upsample_factor", "prior_layers", "prior_hidden", "prior_depth",
                    "elbo_samples", "iw_samples")
DEEP_NIF_DEFAULTS = dict(prior_layers=4, prior_hidden=256, prior_depth=2, elbo_samples=1,
                         iw_samples=64)
CONFIG_OPTIONS = GLOW_OPTIONS + NIF_OPTIONS + DEEP_NIF_OPTIONS[:1] + DEEP_NIF_OPTIONS[2:]
FORMAT_VERSION = 1


def upsample_fits(image_shape, latent_dim: int, factor: int) -> bool:
    """f divides H and W, (H/f)(W/f) divides M, and c_z = M / ((H/f)(W/f)) <= f^2 C."""
    h, w, c = image_shape
    if h % factor or w % factor:
        return False
    pixels = (h // factor) * (w // factor)
    return latent_dim % pixels == 0 and latent_dim // pixels <= factor * factor * c


def choose_upsample_factor(image_shape, latent_dim: int) -> int:
    """The smallest power of two f that :func:`upsample_fits`."""
    h, w, c = image_shape
    f = 2
    while f <= min(h, w):
        if upsample_fits(image_shape, latent_dim, f):
            return f
        f *= 2
    raise ValueError(
        f"no upsampling factor f (a power of 2) fits latent_dim={latent_dim} on a "
        f"{h}x{w}x{c} latent: M must be a multiple of (H/f)(W/f) with M/((H/f)(W/f)) <= f^2 C; "
        f"use prior='dense' or another latent_dim"
    )


def make_config(kind: str, *, image_shape, levels: int, steps: int, width: int,
                latent_dim: Optional[int] = None, n_bits: int = 8, seed: int = 0,
                **options) -> Dict[str, Any]:
    """Validate the arguments of :func:`create_model` and return its config dict."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}; got {kind!r}")
    unknown = sorted(set(options) - set(CONFIG_OPTIONS))
    if unknown:
        raise ValueError(f"unknown options {unknown}; known: {list(CONFIG_OPTIONS) + ['init_images']}")
    shape = tuple(int(d) for d in image_shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"image_shape must be (H, W, C) of positive ints; got {image_shape!r}")
    levels, steps, width = (check_count(n, v) for n, v in
                            (("levels", levels), ("steps", steps), ("width", width)))
    f = 2 ** levels
    if shape[0] % f or shape[1] % f:
        raise ValueError(f"H and W must be divisible by 2^levels = {f}; got image_shape {shape}")
    if not (isinstance(n_bits, int) and 1 <= n_bits <= 8):
        raise ValueError(f"n_bits must be an int in [1, 8]; got {n_bits!r}")
    n = math.prod(shape)
    config = dict(kind=kind, image_shape=list(shape), levels=levels, steps=steps, width=width,
                  n_bits=n_bits, seed=int(seed), additive=bool(options.get("additive", False)),
                  lu=bool(options.get("lu", True)), scan=bool(options.get("scan", True)),
                  format_version=FORMAT_VERSION)
    allowed = set(GLOW_OPTIONS) | set({"nf": (), "nif": NIF_OPTIONS,
                                       "deep_nif": DEEP_NIF_OPTIONS}[kind])
    misplaced = sorted(set(options) - allowed)
    if misplaced:
        raise ValueError(f"options {misplaced} do not apply to kind={kind!r}")
    if options.get("logit") is not None:  # absent from configs without it (None)
        config["logit"] = check_lambda(float(options["logit"]))
    if kind == "nf":
        if latent_dim not in (None, n):
            raise ValueError(f"an NF's latent is all N={n} dimensions; got latent_dim={latent_dim}")
        config["latent_dim"] = n
        return config
    if latent_dim is None:
        raise ValueError(f"kind={kind!r} needs latent_dim (M, e.g. 64)")
    latent_dim = check_count("latent_dim", latent_dim)
    if latent_dim > n:
        raise ValueError(f"latent_dim must be <= N = H W C = {n}; got {latent_dim}")
    prior = options.get("prior" if kind == "nif" else "nif", "dense")
    if prior not in PRIORS:
        raise ValueError(f"{'prior' if kind == 'nif' else 'nif'} must be one of {PRIORS}; "
                         f"got {prior!r}")
    config.update({"latent_dim": latent_dim, "prior" if kind == "nif" else "nif": prior})
    if kind == "deep_nif":
        if latent_dim < 2:
            raise ValueError("deep_nif needs latent_dim >= 2 (its prior flow couples halves)")
        for key, default in DEEP_NIF_DEFAULTS.items():
            config[key] = check_count(key, options.get(key, default))
    if prior == "upsample":
        factor = options.get("upsample_factor") or choose_upsample_factor(shape, latent_dim)
        factor = check_count("upsample_factor", factor)
        if not upsample_fits(shape, latent_dim, factor):
            raise ValueError(f"upsample_factor={factor} does not fit latent_dim={latent_dim} on "
                             f"image_shape {shape}")
        config["upsample_factor"] = factor
    elif "upsample_factor" in options:
        raise ValueError("upsample_factor needs the upsample form")
    return config


def module_from_config(config: Dict[str, Any]):
    """The Flax module of a config: ``ImageFlow`` (nf, nif) or ``DeepImageFlow``."""
    shape = tuple(config["image_shape"])
    glow = Glow(levels=config["levels"], steps=config["steps"], width=config["width"],
                additive=config.get("additive", False), lu=config.get("lu", True),
                scan=config.get("scan", False))
    logit = config.get("logit")
    if config["kind"] == "nf":
        return ImageFlow(glow=glow, prior=StandardNormal(shape), logit=logit)
    form = config["prior"] if config["kind"] == "nif" else config["nif"]
    if form == "dense":
        nif = DenseNIF(shape, config["latent_dim"])
    else:
        f = config["upsample_factor"]
        channels = config["latent_dim"] // ((shape[0] // f) * (shape[1] // f))
        nif = UpsampleNIF(shape, f, channels)
    if config["kind"] == "nif":
        return ImageFlow(glow=glow, prior=nif, logit=logit)
    prior_flow = MLPFlow(layers=config["prior_layers"], hidden=config["prior_hidden"],
                         depth=config["prior_depth"])
    return DeepImageFlow(glow=glow, nif=nif, prior_flow=prior_flow,
                         elbo_samples=config["elbo_samples"], iw_samples=config["iw_samples"],
                         logit=logit)


def init_batch(config: Dict[str, Any], init_images=None) -> jax.Array:
    """The batch the data-dependent ActNorm init sees, in the unit interval."""
    shape = tuple(config["image_shape"])
    if init_images is None:
        key = jax.random.fold_in(jax.random.key(config["seed"]), 1)
        return rng.uniform(key, (16,) + shape, jnp.float32)
    return jnp.asarray(unit_images(init_images, shape, config["n_bits"])[1])


def init_variables(config: Dict[str, Any], module, init_images=None):
    """Initial variables from ``config['seed']`` and the data-dependent init batch.

    The Glow is initialised by a program of its own (seed and data only), so an NF, a
    NIF and a deep NIF with the same seed and data start from bit-identical Glows (inside
    one whole-model program XLA fuses differently and the weights differ in the last
    bit). The rest of the model is initialised on top of it."""
    y = init_batch(config, init_images)
    key = jax.random.key(config["seed"])
    glow_variables = jax.jit(lambda k, b: module.glow.init(
        k, to_flow_input(b, config.get("logit"))[0], method="forward"))(
        jax.random.fold_in(key, 1), y)
    variables = jax.jit(lambda k, b: module.init(
        {"params": k, "posterior": jax.random.fold_in(k, 2)}, b, method="log_density"))(key, y)
    return {col: {**tree, "glow": glow_variables[col]} for col, tree in variables.items()}


def abstract_variables(config: Dict[str, Any], module=None):
    """The variables' structure, shapes and dtypes (``jax.ShapeDtypeStruct``), no compute:
    the target a checkpoint is restored into."""
    module = module_from_config(config) if module is None else module
    y = jnp.zeros((1,) + tuple(config["image_shape"]), jnp.float32)
    return jax.eval_shape(lambda: module.init(
        {"params": jax.random.key(0), "posterior": jax.random.key(1)}, y, method="log_density"))


def create_model(kind: str, *, image_shape, levels: int, steps: int, width: int,
                 latent_dim: Optional[int] = None, n_bits: int = 8, seed: int = 0,
                 **options) -> Model:
    """A freshly initialised model; see the module docstring for kinds and options."""
    init_images = options.pop("init_images", None)
    config = make_config(kind, image_shape=image_shape, levels=levels, steps=steps,
                         width=width, latent_dim=latent_dim, n_bits=n_bits, seed=seed, **options)
    module = module_from_config(config)
    return Model(config, init_variables(config, module, init_images), module)
