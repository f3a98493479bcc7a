"""nif-zoo reproduce: one of the paper's tables trained and evaluated end to end."""
from nif_zoo.cli.options import add_progress_argument, parse_floats, s_values

NAME = "reproduce"


def add_parser(sub):
    p = sub.add_parser(
        "reproduce", help="train and evaluate one of the paper's tables end to end (resumable)",
        description="Train the table's NF and NIF-M recipes in the authors' setting (same "
                    "initial weights and batches), then measure test bits/dim and FID by the "
                    "paper's protocol (s tuned on training images, FID on test images) and "
                    "write OUT/report.md next to the paper's numbers. Prints a time estimate "
                    "first; run it again to resume after a kill. Needs the [fid] extra.")
    p.add_argument("table", choices=["fmnist", "cifar", "celeba"], help="which table")
    p.add_argument("--data-dir", default=None,
                   help="the dataset as a folder of images (train/ and test/ subfolders, or "
                        "img_align_celeba for celeba); default: tensorflow-datasets")
    p.add_argument("--out", required=True, help="output folder (runs, results, report)")
    p.add_argument("--num-samples", type=int, default=25000,
                   help="generated images per FID setting (the authors' 25000)")
    p.add_argument("--s-grid", type=parse_floats, default=None,
                   help="s values (default the authors' 15 values in 0..1.2)")
    p.add_argument("--train-ref", type=int, default=None,
                   help="training images for the s sweep's reference (--num-samples)")
    p.add_argument("--test-ref", type=int, default=None,
                   help="test images for the reported FIDs (the recipe's eval_limit)")
    p.add_argument("--set", dest="overrides", action="append", default=[],
                   metavar="SECTION.KEY=VALUE",
                   help="override a recipe setting for every model (e.g. train.steps=1000); "
                        "repeatable")
    p.add_argument("--models", type=lambda text: [n for n in text.split(",") if n], default=None,
                   metavar="NAME,NAME", help="only these of the table's models (default: all)")
    p.add_argument("--seed", type=int, default=0, help="FID sample seed (0)")
    p.add_argument("--device", default="cpu", help="torch device for Inception (cpu)")
    add_progress_argument(p)
    return p


def run(args):
    from nif_zoo.cache import enable_compilation_cache
    from nif_zoo.evaluate import fid
    from nif_zoo.zoo.reproduce import reproduce

    enable_compilation_cache()
    reproduce(args.table, args.data_dir, args.out, num_samples=args.num_samples,
              s_values=s_values(args), train_ref=args.train_ref, test_ref=args.test_ref,
              overrides=args.overrides, seed=args.seed, models=args.models,
              features=fid.InceptionFeatures(device=args.device),
              progress=not getattr(args, "no_progress", False))
