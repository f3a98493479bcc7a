"""nif-zoo export: a training run's weights as a pretrained folder with a measured card."""
import json
import os

from nif_zoo.cli.options import is_training_run, progress

NAME = "export"


def add_parser(sub):
    p = sub.add_parser(
        "export", help="write a training run as a pretrained folder with a measured card",
        description="Restore a training run's checkpoint (its moving-average weights by "
                    "default), measure held-out bits/dim and the prior-fit diagnostics on the "
                    "run's evaluation split with the weights as saved, and write a pretrained "
                    "folder (config.json, orbax weights, card, metrics.json, training.json, "
                    "SHA256SUMS) that every command, nif_zoo.load and nif-zoo push take.")
    p.add_argument("run", metavar="RUN", help="the training run's folder (nif-zoo train --out)")
    p.add_argument("--out", required=True, help="the pretrained folder to write")
    p.add_argument("--name", default=None, help="the model's name on its card (the folder's)")
    p.add_argument("--step", type=int, default=None, help="checkpoint step (the latest)")
    p.add_argument("--weights", choices=["ema", "raw"], default="ema",
                   help="the moving average of the weights (ema, when the run kept one) or "
                        "the optimiser's (raw)")
    p.add_argument("--split", default=None,
                   help="held-out split for the card (the run's eval_split, else test)")
    p.add_argument("--limit", type=int, default=None,
                   help="held-out images (the run's eval_limit, else 1000)")
    return p


def run(args):
    from nif_zoo.evaluate.likelihood import evaluation_data
    from nif_zoo.models import pretrained
    from nif_zoo.zoo.publish import heldout_metrics
    from nif_zoo.recipe import complete_record
    from nif_zoo.train import load_trained
    from nif_zoo.zoo.cards import render_card

    if not is_training_run(args.run):
        raise ValueError(f"{args.run} is not a training run (nif-zoo train --out writes "
                         "config.json, model.json and checkpoints/)")
    out = os.path.abspath(args.out)
    if out == os.path.abspath(args.run) or (os.path.isdir(out) and os.listdir(out) and
                                            not os.path.isfile(os.path.join(out, "SHA256SUMS"))):
        raise ValueError(f"--out {args.out} is the run or a non-empty folder that is not a "
                         "pretrained folder")
    with open(os.path.join(args.run, "config.json")) as fh:
        record = complete_record(json.load(fh))
    model = load_trained(args.run, step=args.step, weights=args.weights)
    data = dict(record["data"], image_shape=list(model.image_shape), n_bits=model.n_bits)
    split = args.split or data.get("eval_split") or "test"
    limit = args.limit or data.get("eval_limit") or 1000
    test = evaluation_data(data, split, limit, progress(args))
    name = args.name or os.path.basename(out)

    def measure(saved):  # the card's numbers are the saved weights'
        return {**heldout_metrics(saved, test.images), "split": test.split,
                "weights": args.weights}

    def card(config, metrics):
        return render_card(name, config, training=record, metrics=metrics,
                           load_as=args.out)

    folder, metrics = pretrained.save_measured(model, out, measure, card, training=record)
    print(f"exported {args.run} ({args.weights} weights) to {folder}: {test.split} bits/dim "
          f"{metrics['test_bpd']:.4f} on {metrics['images']} images ({metrics['bound']})")
    return metrics
