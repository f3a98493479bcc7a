"""nif-zoo separability: k-NN accuracy of test embeddings."""
from nif_zoo.cli.options import MODEL_HELP, add_dataset_arguments, load_model, model_data_config

NAME = "separability"


def add_parser(sub):
    p = sub.add_parser(
        "separability", help="k-NN accuracy of test embeddings (class separation)",
        description="Embed a labelled split with each model and report the leave-one-out "
                    "k-nearest-neighbour accuracy of the embeddings: how well classes "
                    "separate in the latent space (the paper's Fig. 4, as a number).")
    p.add_argument("models", nargs="+", metavar="MODEL", help=MODEL_HELP)
    add_dataset_arguments(p)
    p.set_defaults(limit=1000)
    p.add_argument("--k", type=int, default=5, help="neighbours (5)")
    p.add_argument("--estimate", choices=["mode", "posterior_mean"], default="mode",
                   help="NIF embedding (mode)")
    return p


def run(args):
    from nif_zoo.evaluate.compare import knn_accuracy
    from nif_zoo.evaluate.likelihood import evaluation_data

    print(f"| model | latent dim | {args.k}-NN accuracy ({args.split}, {args.limit} images) |")
    print("|---|---|---|")
    for name in args.models:
        model, training = load_model(name)
        data = evaluation_data(model_data_config(name, model, training, args.dataset,
                                                 args.data_dir), args.split, args.limit)
        if data.labels is None:
            raise ValueError(f"{data.name}/{args.split} has no labels")
        z = model.embed(data.images, estimate=args.estimate)
        print(f"| {name} | {z.shape[1]} | {knn_accuracy(z, data.labels, args.k):.3f} |",
              flush=True)
