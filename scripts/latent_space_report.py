"""The latent-space measurements of the README (issue 21), rerunnable:

    python scripts/latent_space_report.py --out docs/results/latent [--test 1000] [--fid]

1. **Post-hoc vs jointly trained NIFs**: every bundled NF gets a NIF of the M of its jointly
   trained sibling fitted in closed form (``nif_zoo.nifify`` on the whole training split, up
   to 100 EM steps); both are measured on test bits/dim (uniform dequantisation, key 0),
   empty samples at t = 1, s = 0 (1000 samples), |mean z+| / sqrt(M) and 5-NN accuracy of
   the test embeddings (labelled data only); with ``--fid`` also, for the pairs named by
   ``--fid-pairs`` (default: the 3-bit MNIST pair), FID at t = 1 over s in {0, 0.25, 0.5, 1}
   (``--fid-samples`` samples against ``--test`` test images, seed 1; the best s is chosen on
   these test images: a screening number, not the paper's protocol).
2. **Denoising**: PSNR of reconstructions of noisy test images (sigma 0.1, 0.2, 0.4) for the
   NIFs, the NF and PCA with the same M (``nif_zoo.evaluate.denoise``).
3. **Outliers**: AUROC of every outlier score per out-of-distribution set
   (``nif_zoo.evaluate.ood``).
4. **Figures**: interpolation strips (linear and slerp) and a denoising panel, written as
   PNGs next to ``report.md`` and ``report.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

PAIRS = [  # (NF, M, its jointly trained NIF)
    ("nf-mnist28-3bit", 64, "nif64-mnist28-3bit"),
    ("nf-mnist32", 32, "nif32-mnist32"),
    ("nf-mnist32", 64, "nif64-mnist32"),
    ("nf-lfw24", 32, "nif32-lfw24"),
]
OOD_MODELS = ["nf-mnist28-3bit", "nif64-mnist28-3bit", "posthoc:nf-mnist28-3bit:64",
              "nf-mnist32", "nif64-mnist32"]
DENOISE = ["nf-mnist28-3bit", "nif64-mnist28-3bit", "posthoc:nf-mnist28-3bit:64"]
PARTS = ("pairs", "denoising", "figures", "ood")


def data_of(name):
    from nif_zoo.zoo import registry

    return registry.get_entry(name).config["data"]


def measure(model, name, data, test, args, features):
    """One row of the post-hoc vs joint table (FID when ``features`` is given)."""
    from nif_zoo.evaluate.compare import knn_accuracy
    from nif_zoo.evaluate.prior_fit import prior_fit

    row = {"model": name, "M": model.latent_dim,
           "test_bpd": model.bits_per_dim(test.images, key=0)}
    fit = prior_fit(model, test.images)
    row.update(empty=fit["empty_fraction"], mean_norm=fit["mean_norm_over_sqrt_m"])
    if test.labels is not None:
        row["knn5"] = knn_accuracy(model.embed(test.images), test.labels, 5)
    if features is not None:
        from nif_zoo.evaluate.fid import model_fid, reference_statistics

        reference = reference_statistics(data, "test", args.test, features)
        fids = {s: model_fid(model, reference, features, num_samples=args.fid_samples,
                             temperature=1.0, s=s, seed=1)
                for s in ((0.0, 0.25, 0.5, 1.0) if model.has_noise_model else (1.0,))}
        best = min(fids, key=fids.get)
        row.update(fid_by_s=fids, best_s=best, fid_best=fids[best])
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/results/latent")
    parser.add_argument("--test", type=int, default=1000)
    parser.add_argument("--train-limit", type=int, default=None)
    parser.add_argument("--fid", action="store_true")
    parser.add_argument("--fid-samples", type=int, default=800)
    parser.add_argument("--parts", nargs="+", default=list(PARTS), choices=list(PARTS),
                        help="what to measure (default all); the other parts of an existing "
                             "report.json are kept")
    parser.add_argument("--pair-nfs", nargs="+", default=None,
                        help="measure only the pairs of these NFs (default all)")
    parser.add_argument("--fid-pairs", nargs="+", default=["nf-mnist28-3bit"],
                        help="NF names whose pairs get FIDs (default nf-mnist28-3bit)")
    args = parser.parse_args(argv)
    import nif_zoo
    from nif_zoo.evaluate import denoise, ood
    from nif_zoo.evaluate.images import image_grid, save_png
    from nif_zoo.evaluate.likelihood import evaluation_data
    from nif_zoo.data import quantize

    os.makedirs(args.out, exist_ok=True)
    features = None
    if args.fid:
        from nif_zoo.evaluate.fid import InceptionFeatures

        features = InceptionFeatures()
    models, report = {}, {"pairs": [], "denoising": None, "ood": {}}
    path = os.path.join(args.out, "report.json")
    if os.path.isfile(path):  # keep the parts not measured this time
        with open(path) as fh:
            report.update(json.load(fh))
    report["settings"] = vars(args)

    def get(name):
        if name not in models:
            if name.startswith("posthoc:"):
                _, nf_name, m = name.split(":")
                data = data_of(nf_name)
                train = evaluation_data(data, "train", args.train_limit)
                start = time.perf_counter()
                result = nif_zoo.nifify(get(nf_name), train.images, int(m), iterations=100,
                                        progress=False)
                models[name] = result.model
                report.setdefault("nifify", {})[name] = {
                    "seconds": time.perf_counter() - start, "em_steps": result.history[-1].iteration,
                    "train_log_lik_nf": result.nf_log_lik, "train_log_lik": result.log_lik,
                    "images": result.images}
                print(f"{name}: {report['nifify'][name]}", flush=True)
            else:
                models[name] = nif_zoo.load(name)
        return models[name]

    wanted = [p for p in PAIRS if not args.pair_nfs or p[0] in args.pair_nfs]
    for nf_name, m, joint in (wanted if "pairs" in args.parts else ()):
        report["pairs"] = [rows for rows in report["pairs"]  # replaced below
                           if not (rows[0]["model"] == nf_name and rows[-1]["M"] == m)]
        data = data_of(nf_name)
        test = evaluation_data(data, "test", args.test)
        pair_features = features if nf_name in args.fid_pairs else None
        rows = [measure(get(n), label, data, test, args, pair_features) for n, label in (
            (nf_name, nf_name), (joint, joint),
            (f"posthoc:{nf_name}:{m}", f"{nf_name} + NIF-{m} in closed form"))]
        report["pairs"].append(rows)
        print(json.dumps(rows), flush=True)

    data = data_of("nf-mnist28-3bit")
    test = evaluation_data(data, "test", args.test)
    train = evaluation_data(data, "train", 10000)
    sigmas = (0.1, 0.2, 0.4)
    if "denoising" in args.parts:
        report["denoising"] = denoise.denoising_rows({n: get(n) for n in DENOISE}, test.images,
                                                     train.images, 3, sigmas=sigmas)
        print(denoise.denoising_markdown(report["denoising"], sigmas, len(test)), flush=True)
    if "figures" in args.parts:
        # the denoising panel: clean, noisy (sigma 0.2), then each method's output
        clean = denoise.unit(test.images[:10], 3)
        noisy = denoise.noisy_versions(denoise.unit(test.images, 3), 0.2, 0)[:10]
        pca = denoise.PCA(denoise.unit(train.images, 3), 64)
        panel = [clean, np.clip(noisy, 0, 1)] + [get(n).reconstruct(noisy) for n in DENOISE] + [
            pca.project(noisy)]
        save_png(os.path.join(args.out, "denoising.png"), image_grid(
            np.concatenate([quantize.quantize(p, 8) for p in panel]), n_bits=8, cols=10,
            scale=3))
        # interpolation strips: three pairs of test digits, linear and slerp
        strips = []
        for a, b in ((0, 1), (2, 3), (4, 5)):
            for name in ("nif64-mnist28-3bit", "posthoc:nf-mnist28-3bit:64", "nf-mnist28-3bit"):
                for path in ("linear", "slerp"):
                    strips.append(get(name).interpolate(test.images[a], test.images[b], 8,
                                                        path=path))
        save_png(os.path.join(args.out, "interpolation.png"), image_grid(
            np.concatenate([quantize.quantize(s, 3) for s in strips]), n_bits=3, cols=8,
            scale=3))
    for name in (OOD_MODELS if "ood" in args.parts else ()):
        d = data_of(name.split(":")[1] if name.startswith("posthoc:") else name)
        t = evaluation_data(d, "test", args.test)
        report["ood"][name] = ood.ood_report(get(name), t.images, count=args.test)
        print(ood.report_markdown(name, report["ood"][name], len(t)), flush=True)

    with open(os.path.join(args.out, "report.json"), "w") as fh:
        json.dump(report, fh, indent=2, default=float)
    print(f"wrote {args.out}/report.json, denoising.png, interpolation.png")


if __name__ == "__main__":
    main()
