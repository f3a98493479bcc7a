"""nif-zoo nifify: a pretrained NF turned into a NIF in closed form."""
from nif_zoo.cli.closed_form import fit_and_save
from nif_zoo.cli.options import add_closed_form_fit_arguments, add_model_argument, progress

NAME = "nifify"


def add_parser(sub):
    p = sub.add_parser(
        "nifify", help="turn a pretrained NF into a NIF in closed form (no gradient step)",
        description="Keep the NF's layers and replace its N(0, I) prior by a Gaussian NIF of "
                    "latent size M fitted in closed form to the trunk latents of the training "
                    "split (b = their mean, A and Sigma by probabilistic PCA, then "
                    "factor-analysis EM). Reports the training log-likelihood (never below "
                    "the NF's), held-out bits/dim and prior-fit diagnostics before (the NF) "
                    "and after, and writes a new pretrained folder with its card.")
    add_model_argument(p, "NF")
    p.add_argument("--latent-dim", type=int, required=True, help="M of the NIF")
    p.add_argument("--nif-form", choices=["dense", "upsample"], default="dense",
                   help="the Gaussian NIF layer: dense (default) or upsample")
    add_closed_form_fit_arguments(p, "the NIF")
    return p


def run(args):
    from nif_zoo.zoo.publish import refit_record
    from nif_zoo.train.nifify import nifify_and_measure

    def fit(model, train, test):
        report = nifify_and_measure(model, train, test, args.latent_dim, nif_form=args.nif_form,
                                    iterations=args.iterations, tol=args.tol, seed=args.seed,
                                    progress=progress(args))
        return report["model"], report["record"]

    def card_note(metrics, record):
        return (f"\nFitted in closed form onto `{args.model}` (its layers unchanged; a Gaussian "
                f"NIF of M = {args.latent_dim} fitted to its trunk latents of {record['images']} "
                f"training images, {record['em_steps']} EM steps; no gradient step): held-out "
                f"bits/dim {metrics['test_bpd']:.4f} vs the NF's {record['test_bpd_nf']:.4f}.\n")

    return fit_and_save(
        args, fit, command="nifify", eval_split=lambda data: "test",
        record_metrics=lambda record, bpd: {"nifify": {**refit_record(record, bpd),
                                                       "source": args.model}},
        card_note=card_note)
