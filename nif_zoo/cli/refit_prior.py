"""nif-zoo refit-prior: a NIF's Gaussian layer refit in closed form (factor-analysis EM)."""
from nif_zoo.cli.closed_form import fit_and_save
from nif_zoo.cli.options import MODEL_HELP, add_closed_form_fit_arguments, progress

NAME = "refit-prior"


def add_parser(sub):
    p = sub.add_parser(
        "refit-prior", help="refit a NIF's Gaussian layer in closed form (factor-analysis EM)",
        description="Hold the trunk fixed and refit the Gaussian NIF's b (the mean trunk latent) "
                    "and A, Sigma (factor-analysis EM) on the training split; report held-out "
                    "bits/dim and the prior-fit diagnostics before and after, and write the "
                    "refit model as a new pretrained folder (--out; never over the input).")
    p.add_argument("model", metavar="MODEL", help=MODEL_HELP)
    p.add_argument("--revision", default=None, help="hub branch, tag or commit")
    add_closed_form_fit_arguments(p, "the refit model")
    p.add_argument("--flow-steps", type=int, default=1000,
                   help="deep NIF: Adam steps refitting its low-dimensional flow to the "
                        "refit layer (1000; 0: none)")
    p.add_argument("--select-on", default="validation", metavar="SPLIT",
                   help="early stop the refit on this held-out split's likelihood and keep "
                        "the best of the trained layer and every EM step (validation; "
                        "'none': keep the last EM step)")
    return p


def run(args):
    from nif_zoo.zoo.publish import refit_record
    from nif_zoo.train.refit import refit_and_measure

    def fit(model, train, test, validation=None):
        report = refit_and_measure(model, train, test, iterations=args.iterations, tol=args.tol,
                                   flow_steps=args.flow_steps, seed=args.seed,
                                   validation_images=validation, progress=progress(args))
        return report.model, report.record

    select_split = None if args.select_on == "none" else args.select_on
    return fit_and_save(
        args, fit, command="refit-prior", select_split=select_split,
        # measured on the test split when a held-out split chooses the step; else on the run's
        eval_split=lambda data: "test" if select_split else data.get("eval_split") or "test",
        record_metrics=lambda record, bpd: {"prior_fit_before": record["prior_fit_before"],
                                            "refit": refit_record(record, bpd)})
