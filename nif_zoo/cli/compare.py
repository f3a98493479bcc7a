"""nif-zoo compare: bits/dim + FID table and figures for zoo models on the same data."""
from nif_zoo.cli.options import add_fid_arguments, progress, s_values

NAME = "compare"


def add_parser(sub):
    p = sub.add_parser(
        "compare", help="bits/dim + FID table and figures for models on the same data",
        description="For zoo models trained on the same data: bits/dim (from their cards), "
                    "FID at s = 1 and at the tuned s, written to OUT/comparison.md and .json "
                    "with the figures (FID vs s, temperature grid, s grid, UMAP of test "
                    "embeddings). --update-cards puts the FIDs into the models' cards.")
    p.add_argument("models", nargs="+", metavar="NAME", help="zoo names")
    p.add_argument("--out", default="results", help="output folder (results)")
    p.add_argument("--no-plots", action="store_true", help="skip the figures")
    p.add_argument("--update-cards", action="store_true",
                   help="write the FIDs into checkpoints/NAME and model_cards/NAME.md")
    add_fid_arguments(p, 2000)
    return p


def run(args):
    from nif_zoo.zoo.comparison import run_comparison
    from nif_zoo.evaluate import fid

    run_comparison(args.models, args.out, num_samples=args.num_samples,
                   sweep_samples=args.sweep_samples, s_values=s_values(args),
                   temperature=args.temperature,
                   train_limit=args.train_ref, test_limit=args.test_ref, seed=args.seed,
                   features=fid.InceptionFeatures(device=args.device),
                   plots=not args.no_plots, update_cards=args.update_cards,
                   progress=progress(args))
