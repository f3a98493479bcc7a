"""nif-zoo compare: bits/dim + FID table and figures for zoo models on the same data."""
from nif_zoo.cli.options import add_fid_arguments, parse_floats, progress, s_values

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
    p.add_argument("--sigma-grid", type=parse_floats, default=None, metavar="SIGMAS",
                   help="also tune each model's score step (Model.denoise) at s = 0 over these "
                        "sigmas as s is tuned, e.g. 0,0.01,0.02,0.035,0.05,0.07,0.1 (0: no step); "
                        "default: no sigma column")
    p.add_argument("--update-cards", action="store_true",
                   help="write the FIDs into checkpoints/NAME and model_cards/NAME.md")
    add_fid_arguments(p, 2000)
    return p


def sigma_values(grid):
    if grid is not None and (not grid or any(not v >= 0 for v in grid)):
        raise ValueError(f"--sigma-grid needs values >= 0; got {grid}")
    return tuple(grid or ())


def run(args):
    from nif_zoo.zoo.comparison import run_comparison
    from nif_zoo.evaluate import fid

    run_comparison(args.models, args.out, num_samples=args.num_samples,
                   sweep_samples=args.sweep_samples, s_values=s_values(args),
                   sigma_values=sigma_values(args.sigma_grid),
                   temperature=args.temperature,
                   train_limit=args.train_ref, test_limit=args.test_ref, seed=args.seed,
                   features=fid.InceptionFeatures(device=args.device),
                   plots=not args.no_plots, update_cards=args.update_cards,
                   progress=progress(args))
