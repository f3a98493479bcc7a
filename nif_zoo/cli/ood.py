"""nif-zoo ood: AUROC of the outlier scores against out-of-distribution sets."""
import json

from nif_zoo.cli.options import add_model_argument, load_model, model_data_config

NAME = "ood"


def add_parser(sub):
    p = sub.add_parser(
        "ood", help="AUROC of the outlier scores against out-of-distribution sets",
        description="Score the test split of the model's data and out-of-distribution sets "
                    "(LFW faces fitted to the model's shape, Gaussian and uniform noise, "
                    "constant images, the test images rotated by 90 degrees and inverted) "
                    "with every outlier score (bits/dim, the distance to the projection, the "
                    "manifold term, |z+|) and print each score's AUROC per set.")
    add_model_argument(p)
    p.add_argument("--limit", type=int, default=1000,
                   help="test images and images per generated set (1000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the generated sets (0)")
    p.add_argument("--json", default=None, help="also write the rows to this JSON file")
    return p


def run(args):
    from nif_zoo.evaluate.likelihood import evaluation_data
    from nif_zoo.evaluate.ood import ood_report, report_markdown

    model, training = load_model(args.model, args.revision)
    test = evaluation_data(model_data_config(args.model, model, training), "test", args.limit)
    rows = ood_report(model, test.images, count=args.limit, seed=args.seed)
    print(report_markdown(args.model, rows, len(test)))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"model": args.model, "test_images": len(test), "rows": rows}, fh,
                      indent=2)
    return rows
