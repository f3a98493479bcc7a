"""Print the measured max errors of the core checks (the numbers behind the tests).

    python tests/measure_errors.py

Same cases as tests/flows, tests/nif and tests/models, reported as one Markdown table.
"""
import math
import os
import sys

import jax
import numpy as np
from scipy import integrate, stats

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "flows"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "nif"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "models"))

import test_bijections as tb  # noqa: E402
import test_gaussian as tg  # noqa: E402
import test_model as tm  # noqa: E402
import test_upsample as tu  # noqa: E402

import nif_zoo  # noqa: E402
from nif_zoo.nif import gaussian, upsample  # noqa: E402

rows = []


def report(check, value, bound):
    rows.append((check, value, bound))


round_trip, log_det_err = 0.0, 0.0
for name in sorted(tb.CASES):
    for seed in (0, 1, 2):
        layer, v, x = tb.setup(name, seed)
        y, ld = layer.apply(v, x, method="forward")
        xb, _ = layer.apply(v, y, method="inverse")
        round_trip = max(round_trip, float(np.max(np.abs(xb - x))))
        if seed < 2:
            for i in range(2):
                def f(flat):
                    return layer.apply(v, x.at[i].set(flat.reshape(x.shape[1:])),
                                       method="forward")[0][i].ravel()
                brute = np.linalg.slogdet(np.asarray(jax.jacfwd(f)(x[i].ravel()), np.float64))[1]
                log_det_err = max(log_det_err, abs(float(ld[i]) - brute))
report(f"round trip x -> z -> x, {len(tb.CASES)} layers/Glows x 3 parameter draws", round_trip, 1e-4)
report("log-det vs log|det jax.jacfwd| (float64 slogdet)", log_det_err, 2e-4)

err, off = 0.0, []
for n, m in [(6, 3), (8, 1), (5, 5), (20, 4)]:
    x, A, b, lv = tg.problem(n, m)
    ref = stats.multivariate_normal(b, tg.dense_covariance(A, lv)).logpdf(x)
    ours = np.asarray(gaussian.log_marginal(x, A, b, lv))
    err = max(err, float(np.max(np.abs(ours - ref))))
report("log_marginal vs scipy log N(b, AA^T + Sigma)", err, 1e-4)
report("paper eq. 13 (+ M/2 log 2pi) vs scipy, M = 4", 0.5 * 4 * math.log(2 * math.pi), "must differ")

x, A, b, lv = tg.problem(3, 1, batch=3)
cov = np.diag(np.exp(lv.astype(np.float64)))
err = 0.0
for xi, ours in zip(x, np.asarray(gaussian.manifold_term(x, A, b, lv))):
    val, _ = integrate.quad(lambda z: stats.multivariate_normal(A[:, 0] * z + b, cov).pdf(xi),
                            -30, 30, points=[0.0], limit=200)
    err = max(err, abs(ours - math.log(val)))
report("manifold_term vs numeric integral (N=3, M=1)", err, 1e-4)

x, A, b, lv = tg.problem(9, 3)
w = np.exp(-0.5 * lv.astype(np.float64))
ref = np.stack([np.linalg.lstsq(A * w[:, None], (xi - b) * w, rcond=None)[0] for xi in x])
report("posterior_mean vs weighted least squares",
       float(np.max(np.abs(gaussian.posterior_mean(x, A, b, lv) - ref))), 1e-4)
x, A, b, lv = tg.problem(6, 2)
report("ELBO - log_marginal (max; must be <= 0)",
       float(np.max(gaussian.elbo_standard_normal(x, A, b, lv) - gaussian.log_marginal(x, A, b, lv))),
       "<= 0")

err_d, err_m = 0.0, 0.0
for c_x, c_z in tu.CHANNELS:
    x, W, b, lv, A = tu.problem(c_x, c_z)
    n = len(x)
    dense = (x.reshape(n, -1), A, b.ravel(), lv.ravel())
    for fn in ("log_marginal", "manifold_term"):
        err_d = max(err_d, float(np.max(np.abs(getattr(upsample, fn)(x, W, b, lv, tu.F)
                                               - getattr(gaussian, fn)(*dense)))))
    err_m = max(err_m, float(np.max(np.abs(
        np.asarray(upsample.posterior_mean(x, W, b, lv, tu.F)).reshape(n, -1)
        - gaussian.posterior_mean(*dense)))))
report("upsample log_marginal / manifold_term vs dense with explicit A", err_d, 1e-3)
report("upsample posterior_mean vs dense with explicit A", err_m, 1e-4)

init = tm.images(32, seed=1)
for prior in ("dense", "upsample"):
    model = nif_zoo.create_model("nif", latent_dim=8, nif_form=prior, init_images=init, **tm.SIZES)
    z = model.embed(tm.images(5))
    x_on = model.decode(z, s=0.0)
    report(f"NIF ({prior}) embed(decode(z, s=0)) - z", float(np.max(np.abs(model.embed(x_on) - z))), 1e-3)
    rec = model.reconstruct(x_on)
    report(f"NIF ({prior}) reconstruct idempotence", float(np.max(np.abs(model.reconstruct(rec) - rec))), 1e-3)

print("| check | measured max error | bound in tests |\n|---|---|---|")
for check, value, bound in rows:
    print(f"| {check} | {value:.2e} | {bound} |")
