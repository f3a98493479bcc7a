"""nif-zoo eval: held-out bits/dim (and the prior-fit diagnostics)."""
import sys

from nif_zoo.cli.options import add_dataset_arguments, add_model_argument, load_model, model_data_config

NAME = "eval"


def add_parser(sub):
    p = sub.add_parser(
        "eval", help="held-out bits/dim of a model",
        description="Bits per dimension on a split of the model's training data (or "
                    "--dataset): uniform dequantisation noise from --seed; exact for NF and "
                    "NIF, the importance-weighted bound for a deep NIF.")
    add_model_argument(p)
    add_dataset_arguments(p)
    p.add_argument("--seed", type=int, default=0, help="dequantisation / posterior seed (0)")
    p.add_argument("--iw-samples", type=int, default=None,
                   help="deep NIF: K of the IW bound (the model's default); with --against, "
                        "also the baseline's if it is a deep NIF")
    p.add_argument("--diagnostics", action="store_true",
                   help="also the prior-fit diagnostics: |mean z+| / sqrt(M) and the extreme "
                        "eigenvalues of cov(z+) on these images, and the fraction of empty "
                        "samples at t = 1, s = 0")
    p.add_argument("--diagnostic-samples", type=int, default=1000,
                   help="samples for the empty-sample fraction (1000)")
    p.add_argument("--against", default=None, metavar="BASELINE",
                   help="also a paired comparison with this model (same forms as MODEL): "
                        "MODEL's bits/dim minus BASELINE's on the same images and "
                        "dequantisation noise, with the standard error of the per-image "
                        "differences and the share of images where MODEL is lower")
    return p


def run(args):
    from nif_zoo.evaluate.likelihood import (check_pairable, evaluation_data,
                                             heldout_summary, paired_bits_per_dim,
                                             per_image_bits_per_dim)
    from nif_zoo.evaluate.prior_fit import describe, prior_fit

    model, training = load_model(args.model, args.revision)
    data = evaluation_data(model_data_config(args.model, model, training, args.dataset,
                                             args.data_dir), args.split, args.limit)
    print(f"{args.model}: {args.split} bits/dim on {len(data)} images ...", file=sys.stderr)
    baseline = load_model(args.against, None)[0] if args.against else None
    if baseline is not None:
        check_pairable(model, baseline)  # before either is measured
    bpd, bound = per_image_bits_per_dim(model, data.images, seed=args.seed,
                                        num_samples=args.iw_samples)
    result = heldout_summary(model, bpd, bound, args.seed)
    print(f"{args.model} {data.name}/{args.split}: {result['bpd']:.4f} bits/dim "
          f"(+- {result['bpd_sem']:.4f} s.e.m.; {result['images']} images; {result['bound']}; "
          f"dequantisation {result['dequantisation']})")
    if args.diagnostics:
        result["prior_fit"] = prior_fit(model, data.images, num_samples=args.diagnostic_samples,
                                        seed=args.seed)
        print(f"{args.model} prior fit: {describe(result['prior_fit'])}")
    if baseline is not None:
        print(f"{args.model} - {args.against}: paired bits/dim on the same images ...",
              file=sys.stderr)
        paired = paired_bits_per_dim(model, baseline, data.images, seed=args.seed,
                                     num_samples=args.iw_samples, measured=(bpd, bound))
        print(f"{args.model} - {args.against} {data.name}/{args.split}: "
              f"{paired['difference']:+.4f} bits/dim (+- {paired['difference_sem']:.4f} s.e. of "
              f"{paired['images']} paired images; {paired['bpd']:.4f} vs "
              f"{paired['baseline_bpd']:.4f}; lower on {100 * paired['fraction_lower']:.1f}% "
              f"of the images; {paired['bound']} vs {paired['baseline_bound']})")
        result["paired"] = paired
    return result
