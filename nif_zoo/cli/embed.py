"""nif-zoo embed: latent codes of image files or a dataset split."""
from nif_zoo.cli.options import (
    add_dataset_arguments, add_model_argument, chunked, load_model, model_data_config, progress,
    read_image_files,
)

NAME = "embed"


def add_parser(sub):
    p = sub.add_parser(
        "embed", help="latent codes of images or a dataset split to .npy",
        description="Embed image files or a dataset split into the latent space (NIF: the "
                    "stochastic inverse's mode; NF: the trunk latent) and save (n, M) float32 "
                    "as .npy (with labels as NAME_labels.npy for a labelled dataset).")
    add_model_argument(p)
    p.add_argument("images", nargs="*", metavar="IMAGE", help="image files")
    add_dataset_arguments(p)
    p.add_argument("--estimate", choices=["mode", "posterior_mean"], default="mode",
                   help="NIF embedding: the stochastic inverse's mode or the posterior mean")
    p.add_argument("--fit", default="resize", help="fit image files: pad, crop, resize")
    p.add_argument("--out", default="z.npy", help="output .npy (z.npy)")
    return p


def run(args):
    import numpy as np

    from nif_zoo.evaluate.likelihood import evaluation_data

    model, training = load_model(args.model, args.revision)
    labels = None
    if args.images:
        if args.dataset:
            raise ValueError("pass image files or --dataset, not both")
        images, _ = read_image_files(args.images, model, args.fit)
    else:
        data = evaluation_data(model_data_config(args.model, model, training, args.dataset,
                                                 args.data_dir), args.split, args.limit,
                               progress(args))
        images, labels = data.images, data.labels
    z = chunked(lambda b: model.embed(b, estimate=args.estimate), images, "embed",
                show=progress(args))
    np.save(args.out, z)
    message = f"wrote embeddings {z.shape} to {args.out}"
    if labels is not None:
        label_path = (args.out[:-4] if args.out.endswith(".npy") else args.out) + "_labels.npy"
        np.save(label_path, np.asarray(labels))
        message += f" and labels to {label_path}"
    print(message)
