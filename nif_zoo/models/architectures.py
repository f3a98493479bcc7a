"""The architecture table: one entry per model kind, read by the factory, the cards, the
evaluation, the CLI's help and the registry (no kind switches elsewhere).

Every kind is a :class:`nif_zoo.flows.base.Chain` of named layers, data side first:

=============  ===========================================================  ===========
kind           layers (data -> latent), then N(0, I)                          likelihood
=============  ===========================================================  ===========
nf             pre -> glow                                                   exact
nif            pre -> glow -> prior (Gaussian NIF, ``nif_form`` dense/upsample) exact (eq. 13)
deep_nif       pre -> glow -> nif (Gaussian NIF) [-> flatten] -> prior_flow  ELBO / IW
progressive    pre -> glow_0 -> nif_0 (x2 NN upsampling NIF) -> glow_1 ...   ELBO / IW
               -> glow_k (at ``latent_shape``'s resolution)
=============  ===========================================================  ===========

``pre`` is y - 1/2, or the logit transform with option ``logit``. The trunk (option
``trunk``) of nf, nif and deep_nif is a Glow (layer ``glow``, the default) or a Jet (layer
``jet``: patches and ViT-conditioned couplings, :mod:`nif_zoo.flows.jet`). The Glows take the
model's ``levels``, ``steps``, ``width`` (and ``additive``, ``lu``, ``scan``, and the
execution options ``conv`` and ``remat``, which change how it runs, not its parameters); a
Jet takes ``steps`` (coupling pairs), ``width`` (the ViT's), ``patch_size``, ``heads``,
``vit_depth`` and ``remat``, and has no levels (its config stores ``levels: 0``). The layer
names are the parameters' names, so checkpoints of every earlier release keep loading.

To add a kind: write its ``configure`` (validate its options, return its config entries)
and ``layers`` (config -> named layers) and add an :class:`Architecture` to ``TABLE``.

The table itself imports no JAX (the CLI's help and the training config read it); the layer
builders import the layers when called.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, Dict, Optional, Tuple

from nif_zoo.models.validation import check_count

NIF_FORMS = ("dense", "upsample")


@dataclasses.dataclass(frozen=True)
class Option:
    """A kind's option: its type, default (None: required or derived) and meaning."""

    name: str
    type: type
    default: Any
    help: str


@dataclasses.dataclass(frozen=True)
class Architecture:
    kind: str
    tag: str           # the registry name's prefix: {tag}{M}-{data}{H}
    description: str   # one line, for cards and the CLI's help
    exact: bool        # exact likelihood (else: ELBO to train, IW bound to evaluate)
    noise_model: bool  # decode(z, s) adds noise N(0, s Sigma)
    options: Tuple[Option, ...]
    configure: Callable[..., Dict[str, Any]]  # (image_shape, latent_dim, options, levels)
    layers: Callable[[Dict[str, Any]], Tuple[Tuple[str, Any], ...]]
    default_levels: Optional[int] = None  # None: levels must be given
    takes_latent_dim: bool = True  # False: M follows from the other arguments
    describe: Optional[Callable[[Dict[str, Any]], str]] = None  # config -> the card's paragraph
    has_trunk: bool = True  # one trunk (Glow or Jet) that NF, NIF and deep NIF share (same init)
    latent_flow: Optional[str] = None  # the flow under the Gaussian NIF (refit after a refit)

    @property
    def option_names(self) -> Tuple[str, ...]:
        return tuple(o.name for o in self.options)

    def trunk(self, config) -> Optional[str]:
        """The name of the trunk layer (``"glow"`` or ``"jet"``) that the kinds share, or None
        (the progressive kind's Glows are stages of its own)."""
        return trunk_of(config) if self.has_trunk else None


def trunk_of(config) -> str:
    """A config's trunk: ``"glow"`` (configs without the key) or ``"jet"``."""
    return config.get("trunk") or "glow"


# options common to every kind: the trunk's, the input's, the execution's
COMMON_OPTIONS = (
    Option("additive", bool, False, "additive (volume-preserving) couplings"),
    Option("lu", bool, True, "LU-parameterised 1x1 convolutions"),
    Option("scan", bool, True, "nn.scan over the K steps of a level (configs without the key "
                               "load as False, how they were trained)"),
    Option("logit", float, None, "lambda of the authors' logit transform before the Glow "
                                 "(e.g. 0.05); None: y - 1/2"),
    Option("conv", str, "auto", "how the couplings' 3x3 convolutions run: auto (matmul on "
                                "CPU, lax on GPU/TPU), matmul or lax; parameters are the same"),
    Option("remat", bool, False, "jax.checkpoint around every Glow step: less training "
                                 "memory, one more forward pass per step"),
    Option("data_noise", float, 0.0, "sigma of the Gaussian noise the model was trained with, "
                                     "added to the dequantised data (TarFlow's recipe); its "
                                     "density is of y + sigma eps, and Model.denoise takes one "
                                     "score step back; 0: none"),
    Option("trunk", str, "glow", "the bijective trunk under the prior: glow (multiscale, "
                                 "convolutional couplings) or jet (patches, ViT-conditioned "
                                 "couplings; steps = coupling pairs, width = ViT width)"),
    Option("patch_size", int, None, "jet: patch size p (tokens of p p C values; default 4)"),
    Option("heads", int, None, "jet: attention heads of each ViT conditioner (default 4)"),
    Option("vit_depth", int, None, "jet: transformer blocks per conditioner (default 1)"),
)
GLOW_ONLY = ("additive", "lu", "conv")  # options of the Glow trunk alone
JET_DEFAULTS = {"patch_size": 4, "heads": 4, "vit_depth": 1}  # the Jet trunk's own options
TRUNKS = ("glow", "jet")
EXECUTION_OPTIONS = ("conv", "remat")  # how a model runs, not what it is: same parameters
UPSAMPLE_FACTOR = Option("upsample_factor", int, None,
                         "the upsampling NIF's factor f (default: the smallest power of 2 that fits)")
NIF_FORM = Option("nif_form", str, "dense", "the Gaussian NIF layer: dense (A is N x M) or "
                                            "upsample (the O(M) nearest-neighbour form)")
DEEP_NIF_OPTIONS = (
    NIF_FORM,
    UPSAMPLE_FACTOR,
    Option("prior_layers", int, 4, "couplings of the low-dimensional flow (paper 10)"),
    Option("prior_hidden", int, 256, "units of its MLPs (paper 1024)"),
    Option("prior_depth", int, 2, "hidden layers of its MLPs (paper 4)"),
    Option("elbo_samples", int, 1, "draws of the training bound (ELBO)"),
    Option("iw_samples", int, 64, "draws K of the importance-weighted evaluation bound"),
)


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
        f"use the dense form or another latent_dim"
    )


def trunk(config):
    """The trunk layer, named as in the chain: ("glow", Glow) or ("jet", Jet)."""
    if trunk_of(config) == "jet":
        from nif_zoo.flows.jet import Jet

        return ("jet", Jet(patch=config["patch_size"], steps=config["steps"],
                           width=config["width"], heads=config["heads"],
                           depth=config["vit_depth"], remat=config.get("remat", False)))
    return ("glow", glow(config))


def glow(config):
    from nif_zoo.flows.glow import Glow

    return Glow(levels=config["levels"], steps=config["steps"], width=config["width"],
                additive=config.get("additive", False), lu=config.get("lu", True),
                scan=config["scan"], conv=config.get("conv", "auto"),
                remat=config.get("remat", False))


def pre(config):
    from nif_zoo.flows.center import Center
    from nif_zoo.flows.logit import Logit

    return ("pre", Center() if config.get("logit") is None else Logit(config["logit"]))


def check_latent_dim(shape, latent_dim, kind):
    n = math.prod(shape)
    if latent_dim is None:
        raise ValueError(f"kind={kind!r} needs latent_dim (M, e.g. 64)")
    latent_dim = check_count("latent_dim", latent_dim)
    if latent_dim > n:
        raise ValueError(f"latent_dim must be <= N = H W C = {n}; got {latent_dim}")
    return latent_dim


def nif_form(shape, latent_dim, options) -> Dict[str, Any]:
    """Config entries of a Gaussian NIF layer on the trunk latent: its form (and factor)."""
    form = options.get("nif_form", "dense")
    if form not in NIF_FORMS:
        raise ValueError(f"nif_form must be one of {NIF_FORMS}; got {form!r}")
    entries = {"nif_form": form}
    if form == "upsample":
        factor = options.get("upsample_factor") or choose_upsample_factor(shape, latent_dim)
        factor = check_count("upsample_factor", factor)
        if not upsample_fits(shape, latent_dim, factor):
            raise ValueError(f"upsample_factor={factor} does not fit latent_dim={latent_dim} on "
                             f"image_shape {shape}")
        entries["upsample_factor"] = factor
    elif options.get("upsample_factor") is not None:
        raise ValueError("upsample_factor needs the upsample form")
    return entries


def nif_layer(config):
    from nif_zoo.nif.layers import DenseNIF, UpsampleNIF

    shape = tuple(config["image_shape"])
    if config["nif_form"] == "dense":
        return DenseNIF(shape, config["latent_dim"])
    f = config["upsample_factor"]
    return UpsampleNIF(shape, f, config["latent_dim"] // ((shape[0] // f) * (shape[1] // f)))


# ---------------------------------------------------------------- nf
def configure_nf(shape, latent_dim, options, levels):
    n = math.prod(shape)
    if latent_dim not in (None, n):
        raise ValueError(f"an NF's latent is all N={n} dimensions; got latent_dim={latent_dim}")
    return {"latent_dim": n}


def layers_nf(config):
    return (pre(config), trunk(config))


# ---------------------------------------------------------------- nif
def configure_nif(shape, latent_dim, options, levels):
    latent_dim = check_latent_dim(shape, latent_dim, "nif")
    return {"latent_dim": latent_dim, **nif_form(shape, latent_dim, options)}


def layers_nif(config):
    return (pre(config), trunk(config), ("prior", nif_layer(config)))


# ---------------------------------------------------------------- deep nif
def configure_deep_nif(shape, latent_dim, options, levels):
    latent_dim = check_latent_dim(shape, latent_dim, "deep_nif")
    if latent_dim < 2:
        raise ValueError("deep_nif needs latent_dim >= 2 (its prior flow couples halves)")
    entries = {"latent_dim": latent_dim, **nif_form(shape, latent_dim, options)}
    for o in DEEP_NIF_OPTIONS[2:]:
        entries[o.name] = check_count(o.name, options.get(o.name, o.default))
    return entries


def layers_deep_nif(config):
    from nif_zoo.flows.base import Reshape
    from nif_zoo.flows.mlp_flow import MLPFlow

    nif = nif_layer(config)
    flow = MLPFlow(layers=config["prior_layers"], hidden=config["prior_hidden"],
                   depth=config["prior_depth"])
    steps = [pre(config), trunk(config), ("nif", nif)]
    latent = nif.output_shape(tuple(config["image_shape"]))
    if len(latent) != 1:  # the upsampling form's latent image -> the flow's vectors
        steps.append(("flatten", Reshape(latent, (math.prod(latent),))))
    return tuple(steps) + (("prior_flow", flow),)


# ---------------------------------------------------------------- progressive
PROGRESSIVE_OPTIONS = (
    Option("latent_shape", tuple, None, "(h, w, c) of the latent: each stage doubles h and w "
                                        "until image_shape"),
    Option("elbo_samples", int, 1, "draws of the training bound (ELBO)"),
    Option("iw_samples", int, 64, "draws K of the importance-weighted evaluation bound"),
)


def progressive_stages(image_shape, latent_shape):
    """Stage event shapes, image first: (H, W, C), (H/2, W/2, c), ..., latent_shape."""
    H, W, _ = image_shape
    h, w, c = latent_shape
    if h < 1 or w < 1 or c < 1 or H % h or W % w or H // h != W // w:
        raise ValueError(f"latent_shape {tuple(latent_shape)} must divide image_shape "
                         f"{tuple(image_shape)} by the same power of 2 in height and width")
    ratio = H // h
    if ratio < 2 or ratio & (ratio - 1):
        raise ValueError(f"image_shape / latent_shape must be 2, 4, 8, ... in height and "
                         f"width; got {ratio}")
    shapes = [tuple(image_shape)]
    while shapes[-1][0] > h:
        shapes.append((shapes[-1][0] // 2, shapes[-1][1] // 2, c))
    return shapes


def configure_progressive(shape, latent_dim, options, levels):
    if "latent_shape" not in options:
        raise ValueError("kind='progressive' needs latent_shape (h, w, c), e.g. (8, 8, 1)")
    latent_shape = tuple(check_count("latent_shape", d) for d in options["latent_shape"])
    if len(latent_shape) != 3:
        raise ValueError(f"latent_shape must be (h, w, c); got {options['latent_shape']!r}")
    stages = progressive_stages(shape, latent_shape)
    for big, small in zip(stages, stages[1:]):
        if small[2] > 4 * big[2]:
            raise ValueError(f"an x2 upsampling NIF from {small} to {big} needs c_z <= 4 c = "
                             f"{4 * big[2]}; got latent channels {small[2]}")
    for stage in stages:
        if stage[0] % 2 ** levels or stage[1] % 2 ** levels:
            raise ValueError(f"every stage's Glow has {levels} levels, so every stage's H and W "
                             f"must be divisible by {2 ** levels}; stage {stage} is not "
                             f"(stages {stages})")
    n = math.prod(latent_shape)
    if latent_dim not in (None, n):
        raise ValueError(f"latent_dim is prod(latent_shape) = {n}; got {latent_dim}")
    return {"latent_dim": n, "latent_shape": list(latent_shape),
            **{o.name: check_count(o.name, options.get(o.name, o.default))
               for o in PROGRESSIVE_OPTIONS[1:]}}


def layers_progressive(config):
    from nif_zoo.nif.layers import UpsampleNIF

    stages = progressive_stages(config["image_shape"], config["latent_shape"])
    steps = [pre(config)]
    for i, (big, small) in enumerate(zip(stages, stages[1:])):
        steps += [(f"glow_{i}", glow(config)), (f"nif_{i}", UpsampleNIF(big, 2, small[2]))]
    return tuple(steps) + ((f"glow_{len(stages) - 1}", glow(config)),)


# ---------------------------------------------------------------- how each kind describes itself
def describe_glow(c) -> str:
    h, w, ch = c["image_shape"]
    return (f"Glow: L = {c['levels']} levels x K = {c['steps']} steps (ActNorm, "
            f"{'LU ' if c.get('lu', True) else ''}1x1 convolution, "
            f"{'additive' if c.get('additive') else 'affine'} coupling with width-{c['width']} "
            f"conv nets), {h}x{w}x{ch} images, N = {h * w * ch} dimensions.")


def describe_jet(c) -> str:
    h, w, ch = c["image_shape"]
    p = c["patch_size"]
    tokens, features = (h // p) * (w // p), p * p * ch
    return (f"Jet: {p}x{p} patches ({tokens} tokens of {features} values), ActNorm, then "
            f"K = {c['steps']} pairs of affine couplings (a random half of every token's "
            f"values, then a checkerboard half of the tokens, alternating colour), each "
            f"conditioned by a ViT of {c['vit_depth']} block(s), width {c['width']}, "
            f"{c['heads']} heads; {h}x{w}x{ch} images, N = {h * w * ch} dimensions.")


def describe_trunk(c) -> str:
    """The trunk's paragraph and what it is trained on (input transform, data noise)."""
    text = describe_jet(c) if trunk_of(c) == "jet" else describe_glow(c)
    if c.get("logit") is not None:
        text += (f" Input: the logit transform logit({c['logit']:g} + (1 - 2 x {c['logit']:g}) y) "
                 "of the dequantised image y, its log-det included (likelihoods stay in the "
                 "data's units).")
    if c.get("data_noise"):
        text += (f" Trained on y + N(0, {c['data_noise']:g}^2 I) (TarFlow's recipe): its density "
                 "is of the noisy data, and one score step with it (`Model.denoise`, `nif-zoo "
                 f"sample --denoise {c['data_noise']:g}`) cleans its samples.")
    return text


def describe_nif_layer(c) -> str:
    form = c["nif_form"]
    kind = ("dense A, N x M" if form == "dense" else
            f"nearest-neighbour upsampling A, factor {c.get('upsample_factor')}")
    return (f"closed-form Gaussian NIF ({kind}), M = {c['latent_dim']}: "
            "x = A z + b + N(0, Sigma)")


def describe_nf(c) -> str:
    return f"Normalizing flow (the NF baseline). {describe_trunk(c)} Prior N(0, I_N)."


def describe_nif(c) -> str:
    return (f"Noisy injective flow. {describe_trunk(c)} Its prior is a {describe_nif_layer(c)}, "
            "log p(x) exact (SPEC eq. 13, corrected).")


def describe_deep_nif(c) -> str:
    return (f"Deep NIF. z ~ N(0, I_M) -> a low-dimensional flow of {c['prior_layers']} MLP "
            f"affine couplings ({c['prior_depth']} hidden layers of {c['prior_hidden']} units) "
            f"-> {describe_nif_layer(c)} -> {describe_trunk(c)} Trained by the ELBO "
            f"({c['elbo_samples']} posterior sample); log P is reported as the "
            f"importance-weighted bound with K = {c['iw_samples']}.")


def describe_progressive(c) -> str:
    h, w, ch = c["latent_shape"]
    H, W, C = c["image_shape"]
    return (f"Progressive NIF: {TABLE['progressive'].description}. Latent {h}x{w}x{ch} "
            f"(M = {c['latent_dim']}); every stage: a Glow of {c['levels']} level(s) x K = "
            f"{c['steps']} steps (width {c['width']}), then a x2 nearest-neighbour upsampling "
            f"Gaussian NIF up to the {H}x{W}x{C} image. Trained by the ELBO "
            f"({c.get('elbo_samples', 1)} posterior sample), log P reported as the "
            f"importance-weighted bound with K = {c.get('iw_samples')}.")


TABLE: Dict[str, Architecture] = {a.kind: a for a in (
    Architecture("nf", "nf", "Glow with N(0, I) on its whole latent (the NF baseline)",
                 exact=True, noise_model=False, options=(), configure=configure_nf,
                 layers=layers_nf, takes_latent_dim=False, describe=describe_nf),
    Architecture("nif", "nif", "the same Glow under a closed-form Gaussian NIF on N(0, I_M)",
                 exact=True, noise_model=True,
                 options=(NIF_FORM, UPSAMPLE_FACTOR),
                 configure=configure_nif, layers=layers_nif, describe=describe_nif),
    Architecture("deep_nif", "deepnif", "z ~ N(0, I_M) -> low-dimensional MLP flow -> "
                 "Gaussian NIF -> the same Glow (ELBO / IW bound)",
                 exact=False, noise_model=True, options=DEEP_NIF_OPTIONS,
                 configure=configure_deep_nif, layers=layers_deep_nif,
                 describe=describe_deep_nif, latent_flow="prior_flow"),
    Architecture("progressive", "prognif", "latent image -> Glow -> x2 nearest-neighbour "
                 "upsampling NIF -> Glow -> ... -> image (paper sec. 4.1; ELBO / IW bound)",
                 exact=False, noise_model=True, options=PROGRESSIVE_OPTIONS,
                 configure=configure_progressive,
                 layers=layers_progressive, default_levels=1, takes_latent_dim=False,
                 describe=describe_progressive, has_trunk=False),
)}
KINDS = tuple(TABLE)


def architecture(kind: str) -> Architecture:
    if kind not in TABLE:
        raise ValueError(f"kind must be one of {KINDS}; got {kind!r}")
    return TABLE[kind]


def describe_kinds() -> str:
    """One line per kind, for the CLI's help."""
    return "; ".join(f"{a.kind}: {a.description}" for a in TABLE.values())
