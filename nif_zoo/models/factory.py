"""``create_model``: kind + sizes -> a JSON-serialisable config -> module -> initialised Model.

The kinds, their layers and options are the architecture table,
:mod:`nif_zoo.models.architectures` (SPEC section 5):

* ``"nf"``: Glow with a N(0, I) prior on its full N = H W C latent (the baseline);
* ``"nif"``: the same Glow (same initial key, so the same initial weights) whose prior is
  the closed-form Gaussian NIF with ``latent_dim`` = M: ``nif_form="dense"`` (A is N x M,
  default) or ``nif_form="upsample"`` (the O(dim z) nearest-neighbour form on the Glow's
  latent image, latent (H/f, W/f, M f^2 / (H W)); ``upsample_factor`` f is chosen as the
  smallest power of two that fits when not given).
* ``"deep_nif"``: z ~ N(0, I_M) -> low-dimensional MLP flow -> Gaussian NIF (``nif_form``
  dense or upsample) -> the same Glow; trained by the ELBO, evaluated by the IW bound.
  Options ``prior_layers`` (couplings, default 4; paper 10), ``prior_hidden`` (units, 256;
  paper 1024), ``prior_depth`` (hidden layers, 2; paper 4), ``elbo_samples`` (1),
  ``iw_samples`` (64).
* ``"progressive"``: a latent image ``latent_shape`` (h, w, c) -> Glow -> x2 nearest-
  neighbour upsampling NIF -> Glow -> ... -> image (paper sec. 4.1), every stage's Glow
  of ``levels`` (default 1), ``steps``, ``width``; ELBO / IW bound like the deep NIF.

Options of every kind: ``additive`` (additive coupling, default False), ``logit`` (lambda of
the authors' logit transform before the Glow, e.g. 0.05; default None: y - 1/2; the
likelihood stays in the data's units), ``lu`` (LU 1x1 convolutions, default True),
``conv`` (how the 3x3 convolutions run: ``"auto"``, default, is matrix products on CPU and
``lax.conv_general_dilated`` on GPU/TPU; ``"matmul"``, ``"lax"``), ``remat``
(``jax.checkpoint`` around every Glow step, default False), ``scan``
(``nn.scan`` over the K steps, default True; configs without the key, written before it
existed, load as False: see :mod:`nif_zoo.flows.glow`), ``trunk`` (``"glow"``, default, or
``"jet"`` for nf / nif / deep_nif: a Jet of ``steps`` coupling pairs with ViT conditioners of
``width``, options ``patch_size`` (4), ``heads`` (4), ``vit_depth`` (1); no ``levels``),
``init_images`` (a batch for the
data-dependent ActNorm initialisation; default: 16 images of uniform noise drawn from
``seed``).
"""
from __future__ import annotations

import warnings
from typing import Any, Dict, Optional

import jax
import jax.numpy as jnp

from nif_zoo import rng
from nif_zoo.flows.conv import check_conv_form
from nif_zoo.flows.logit import check_lambda
from nif_zoo.models.architectures import (
    COMMON_OPTIONS, GLOW_ONLY, JET_DEFAULTS, KINDS, TABLE, TRUNKS, architecture,
    choose_upsample_factor, trunk_of, upsample_fits,
)
from nif_zoo.models.build import abstract_variables, module_from_config
from nif_zoo.models.config import FORMAT_VERSION, ModelConfig, check_data_noise
from nif_zoo.models.model import Model, unit_images
from nif_zoo.models.validation import check_count

__all__ = ["FORMAT_VERSION", "KINDS", "abstract_variables", "choose_upsample_factor",
           "create_model", "model_config", "module_from_config", "upsample_fits"]
ALL_OPTIONS = tuple(dict.fromkeys(
    [o.name for o in COMMON_OPTIONS] + [o.name for a in TABLE.values() for o in a.options]))
RENAMED_OPTIONS = {"prior": "nif_form", "nif": "nif_form"}  # format 1's names of an option


def model_config(kind: str, *, image_shape, steps: int, width: int,
                 levels: Optional[int] = None, latent_dim: Optional[int] = None,
                 n_bits: int = 8, seed: int = 0, **options) -> ModelConfig:
    """Validate the arguments of :func:`create_model` and return its :class:`ModelConfig`."""
    arch = architecture(kind)
    for old, new in RENAMED_OPTIONS.items():
        if old in options:
            if new in options:
                raise ValueError(f"give {new}= only (it replaces {old}=)")
            warnings.warn(f"option {old}= is now {new}=", FutureWarning, stacklevel=3)
            options[new] = options.pop(old)
    unknown = sorted(set(options) - set(ALL_OPTIONS))
    if unknown:
        raise ValueError(f"unknown options {unknown}; known: {list(ALL_OPTIONS) + ['init_images']}")
    misplaced = sorted(set(options) - {o.name for o in COMMON_OPTIONS} - set(arch.option_names))
    if misplaced:
        raise ValueError(f"options {misplaced} do not apply to kind={kind!r}")
    shape = tuple(int(d) for d in image_shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"image_shape must be (H, W, C) of positive ints; got {image_shape!r}")
    trunk = trunk_of(options)
    if trunk not in TRUNKS:
        raise ValueError(f"trunk must be one of {TRUNKS}; got {trunk!r}")
    steps, width = check_count("steps", steps), check_count("width", width)
    if trunk == "jet":
        levels, jet = jet_options(kind, arch, shape, levels, width, options)
    else:
        jet = {}
        given = sorted(k for k in JET_DEFAULTS if options.get(k) is not None)
        if given:
            raise ValueError(f"options {given} are the Jet trunk's; add trunk='jet'")
        if levels is None:
            if arch.default_levels is None:
                raise ValueError(f"kind={kind!r} needs levels (the Glow's L, e.g. 3)")
            levels = arch.default_levels
        levels = check_count("levels", levels)
        f = 2 ** levels
        if shape[0] % f or shape[1] % f:
            raise ValueError(f"H and W must be divisible by 2^levels = {f}; got image_shape {shape}")
    if not (isinstance(n_bits, int) and 1 <= n_bits <= 8):
        raise ValueError(f"n_bits must be an int in [1, 8]; got {n_bits!r}")
    config = dict(kind=kind, image_shape=list(shape), levels=levels, steps=steps, width=width,
                  n_bits=n_bits, seed=int(seed), additive=bool(options.get("additive", False)),
                  lu=bool(options.get("lu", True)), scan=bool(options.get("scan", True)),
                  format_version=FORMAT_VERSION)
    if options.get("logit") is not None:  # absent from configs without it (None)
        config["logit"] = check_lambda(float(options["logit"]))
    if options.get("conv", "auto") != "auto":  # execution options: absent when default
        config["conv"] = check_conv_form(options["conv"])
    if options.get("remat", False):
        config["remat"] = True
    if options.get("data_noise"):  # absent from configs of models trained without noise
        config["data_noise"] = check_data_noise(options["data_noise"], config.get("logit"))
    config.update(jet)
    config.update(arch.configure(shape, latent_dim, options, levels))
    return ModelConfig.from_dict(config)


def jet_options(kind, arch, shape, levels, width, options):
    """(levels = 0, the Jet's config entries) of a model with ``trunk="jet"``."""
    if not arch.has_trunk:
        raise ValueError(f"kind={kind!r} has Glow stages of its own; trunk='jet' applies to "
                         f"{[k for k, a in TABLE.items() if a.has_trunk]}")
    if levels not in (None, 0):
        raise ValueError("the Jet trunk has no levels (patch_size sets its token grid); "
                         "leave levels out")
    defaults = {o.name: o.default for o in COMMON_OPTIONS}
    glow_only = sorted(k for k in GLOW_ONLY if k in options and options[k] != defaults[k])
    if glow_only or options.get("scan") is False:
        raise ValueError(f"options {glow_only or ['scan']} are the Glow trunk's; a Jet has "
                         "affine couplings and always scans its pairs")
    entries = {"trunk": "jet"}
    for name, default in JET_DEFAULTS.items():
        value = options.get(name)
        entries[name] = check_count(name, default if value is None else value)
    p = entries["patch_size"]
    if shape[0] % p or shape[1] % p:
        raise ValueError(f"H and W must be divisible by patch_size = {p}; got image_shape {shape}")
    if p * p * shape[2] < 2:
        raise ValueError("a Jet needs at least 2 values per patch (patch_size >= 2 for gray images)")
    if width % entries["heads"]:
        raise ValueError(f"width {width} must be divisible by heads {entries['heads']}")
    return 0, entries


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
    variables = jax.jit(lambda k, b: module.init(
        {"params": k, "posterior": jax.random.fold_in(k, 2)}, b, method="log_density"))(key, y)
    trunk = architecture(config["kind"]).trunk(config)  # the layer the kinds share
    if trunk is None:
        return variables
    trunk_variables = jax.jit(lambda k, b: module.layer(trunk).init(
        k, module.apply({}, b, trunk, method="inputs_of")[0], method="forward"))(
        jax.random.fold_in(key, 1), y)
    return {col: {**tree, trunk: trunk_variables[col]} for col, tree in variables.items()}


def create_model(kind: str, *, image_shape, steps: int, width: int,
                 levels: Optional[int] = None, latent_dim: Optional[int] = None,
                 n_bits: int = 8, seed: int = 0, **options) -> Model:
    """A freshly initialised model; see the module docstring for kinds and options."""
    init_images = options.pop("init_images", None)
    config = model_config(kind, image_shape=image_shape, levels=levels, steps=steps,
                          width=width, latent_dim=latent_dim, n_bits=n_bits, seed=seed, **options)
    module = module_from_config(config)
    return Model(config, init_variables(config, module, init_images), module)
