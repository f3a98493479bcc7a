"""nif-zoo train: a model trained per a config file and flags, with checkpoints; resumable."""
from nif_zoo.cli.options import add_progress_argument, parse_bool, parse_shape
from nif_zoo.data.datasets import NAMES as DATASET_NAMES
from nif_zoo.models.architectures import TABLE

NAME = "train"

TRAIN_FLAGS = [
    ("--kind", "model", "kind", str, "; ".join(
        f"{a.kind}: {a.description}" for a in TABLE.values())),
    ("--latent-dim", "model", "latent_dim", int, "NIF latent size M"),
    ("--nif-form", "model", "nif_form", str, "a NIF's or deep NIF's Gaussian NIF layer: dense "
                                              "or upsample (--prior / --nif: its old names)"),
    ("--latent-shape", "model", "latent_shape", parse_shape, "progressive: h,w,c of the latent"),
    ("--trunk", "model", "trunk", str, "the bijective trunk: glow (default) or jet"),
    ("--levels", "model", "levels", int, "Glow levels L (a Jet has none)"),
    ("--flow-steps", "model", "steps", int, "flow steps K per level (Jet: coupling pairs)"),
    ("--width", "model", "width", int, "coupling network width (Jet: the ViT's)"),
    ("--patch-size", "model", "patch_size", int, "Jet: patch size p (default 4)"),
    ("--heads", "model", "heads", int, "Jet: attention heads (default 4)"),
    ("--vit-depth", "model", "vit_depth", int, "Jet: transformer blocks per coupling (default 1)"),
    ("--dataset", "data", "dataset", str, ", ".join(DATASET_NAMES)),
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



def add_parser(sub):
    p = sub.add_parser(
        "train", help="train a model (NF, NIF, deep NIF) with checkpoints; resumable",
        description="Train per a JSON/YAML config (sections model, data, train; see "
                    "nif_zoo.recipe; the zoo's configs are in nif_zoo/configs) with "
                    "flags overriding it. Writes config.json, model.json, metrics.jsonl and "
                    "orbax checkpoints to --out; nif-zoo sample/eval/... take that folder, and "
                    "nif-zoo export turns it into a pretrained folder.")
    p.add_argument("--config", help="JSON or YAML config file")
    p.add_argument("--out", default="runs/default", help="output folder (runs/default)")
    p.add_argument("--resume", action="store_true",
                   help="continue from the latest checkpoint in --out")
    add_progress_argument(p)
    for flag, section, key, typ, text in TRAIN_FLAGS:
        aliases = ("--prior", "--nif") if key == "nif_form" else ()
        p.add_argument(flag, *aliases, dest=f"{section}.{key}", type=typ, default=None,
                       metavar=flag[2:].upper().replace("-", "_"),
                       help=f"{text} (config {section}.{key})")
    return p


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


def run(args):
    from nif_zoo.cache import enable_compilation_cache
    from nif_zoo.train import train

    enable_compilation_cache()
    result = train(train_config_from_args(args), args.out, resume=args.resume,
                   progress=not getattr(args, "no_progress", False))
    evals = [h for h in result.history if "eval_bpd" in h]
    summary = f"; {evals[-1]['eval_split']} bits/dim {evals[-1]['eval_bpd']:.4f}" if evals else ""
    print(f"trained {result.model} to step {result.final_step} in {args.out}{summary}")
