"""Factor-analysis EM refit of a Gaussian NIF, against independent numpy / scipy /
scikit-learn references (SPEC section 2, closed-form refit)."""
import numpy as np
import pytest
from scipy.stats import multivariate_normal

from nif_zoo.flows.reshape import depth_to_space
from nif_zoo.nif import factor_analysis as fa
from nif_zoo.nif import upsample


def factor_data(n=400, dim=6, m=2, seed=0):
    r = np.random.default_rng(seed)
    A_true = r.normal(size=(dim, m))
    noise = np.exp(0.5 * r.normal(size=dim) - 1.0)
    y = r.normal(size=(n, m)) @ A_true.T + 3.0 + noise * r.normal(size=(n, dim))
    return y.astype(np.float32)


def numpy_em(y, A, log_var, steps):
    """Textbook factor-analysis EM (Ghahramani & Hinton 1996), float64, b = mean."""
    y = np.asarray(y, np.float64)
    A = np.asarray(A, np.float64).copy()
    psi = np.exp(np.asarray(log_var, np.float64))
    b = y.mean(axis=0)
    r = y - b
    d, m = len(y), A.shape[1]
    for _ in range(steps):
        beta = A.T @ np.linalg.inv(A @ A.T + np.diag(psi))        # M x N
        ez = r @ beta.T                                            # (D, M)
        ezz = d * (np.eye(m) - beta @ A) + ez.T @ ez               # sum_n E[z z^T]
        A = (r.T @ ez) @ np.linalg.inv(ezz)
        psi = np.maximum(np.diag(r.T @ r - A @ ez.T @ r) / d, fa.DEFAULT_FLOOR)
    return A, np.log(psi), b


def mean_logpdf(y, A, b, log_var):
    cov = A @ A.T + np.diag(np.exp(log_var))
    return float(np.mean(multivariate_normal(b, cov).logpdf(np.asarray(y, np.float64))))


def dense_fit(y, A0, lv0, iterations, tol=-np.inf):
    blocks = fa.dense_blocks(y)
    A, b, lv, hist, *_ = fa.fit(lambda: [blocks[:150], blocks[150:]], A0, np.zeros((1, y.shape[1])),
                            lv0, iterations=iterations, tol=tol)
    return np.asarray(A), np.asarray(b)[0], np.asarray(lv)[0], hist


def test_dense_em_matches_the_textbook_updates():
    y = factor_data()
    r = np.random.default_rng(1)
    A0 = r.normal(size=(6, 2)).astype(np.float32)
    lv0 = np.zeros(6, np.float32)
    A, b, lv, hist = dense_fit(y, A0, lv0[None], 5)
    A_ref, lv_ref, b_ref = numpy_em(y, A0, lv0, 5)
    np.testing.assert_allclose(b, b_ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(A, A_ref, rtol=2e-3, atol=2e-3)
    np.testing.assert_allclose(lv, lv_ref, rtol=2e-3, atol=2e-3)
    # the reported likelihood is log N(y | b, A A^T + Sigma), computed independently
    assert hist[-1].mean_log_lik == pytest.approx(mean_logpdf(y, A, b, lv), abs=2e-3)
    assert len(hist) == 6 and hist[0].iteration == 0


def test_each_em_step_never_lowers_the_likelihood():
    y = factor_data(seed=3)
    A0 = np.random.default_rng(4).normal(size=(6, 2)).astype(np.float32) * 0.1
    _, _, _, hist = dense_fit(y, A0, np.full((1, 6), 2.0, np.float32), 60)
    values = np.array([h.mean_log_lik for h in hist])
    assert np.all(np.diff(values) >= -1e-4), np.diff(values).min()
    assert values[-1] > values[0] + 1.0  # and it does improve from a poor start


def test_converged_likelihood_matches_scikit_learn():
    sklearn = pytest.importorskip("sklearn.decomposition")
    y = factor_data(n=600, dim=8, m=3, seed=5)
    A0 = np.random.default_rng(6).normal(size=(8, 3)).astype(np.float32)
    # EM is slow along flat directions: many steps, no early stop (float32 likelihoods
    # differ by ~1e-6 per step near the optimum)
    A, b, lv, hist = dense_fit(y, A0, np.zeros((1, 8), np.float32), 2000)
    ref = sklearn.FactorAnalysis(n_components=3, tol=1e-8, max_iter=10000,
                                 svd_method="lapack").fit(y.astype(np.float64))
    # the same optimum: our parameters' float64 likelihood against scikit-learn's (both
    # stop within ~1e-5 of it; the float32 likelihood EM reports carries ~1e-5 of rounding,
    # which differs between BLAS builds: CI saw 1.9e-5 between the two reported numbers)
    ours = mean_logpdf(y, A, b, lv)
    assert ours == pytest.approx(ref.score(y.astype(np.float64)), abs=5e-5)
    assert hist[-1].mean_log_lik == pytest.approx(ours, abs=5e-5)
    # the covariance is identifiable (A only up to a rotation)
    np.testing.assert_allclose(A @ A.T + np.diag(np.exp(lv)), ref.get_covariance(), atol=3e-3)


def test_early_stop_and_bad_input():
    y = factor_data()
    _, _, _, hist = dense_fit(y, np.ones((6, 2), np.float32), np.zeros((1, 6), np.float32),
                              500, tol=1e-3)
    assert len(hist) < 500
    with pytest.raises(ValueError, match="expected y"):
        fa.fit(lambda: [y], np.ones((6, 2)), np.zeros(6), np.zeros(6), iterations=1)
    with pytest.raises(ValueError, match="no data"):
        fa.fit(lambda: [], np.ones((6, 2)), np.zeros((1, 6)), np.zeros((1, 6)), iterations=1)


def test_held_out_selection_keeps_the_best_fit_on_the_held_out_points():
    """Few training points in many dimensions: EM overfits them. With held-out points the fit
    returns the parameters of the best held-out likelihood (scipy's, float64) among the start,
    b = mean and every EM step, and stops ``patience`` steps after it."""
    r = np.random.default_rng(7)
    dim, m = 12, 2
    A_true = r.normal(size=(dim, m)).astype(np.float32)
    lv_true = np.full(dim, -1.0, np.float32)
    b_true = np.full(dim, 0.5, np.float32)

    def draw(n):
        noise = np.exp(0.5 * lv_true) * r.normal(size=(n, dim))
        return (r.normal(size=(n, m)) @ A_true.T + b_true + noise).astype(np.float32)

    train, heldout = draw(15), draw(3000)
    blocks, held = fa.dense_blocks(train), fa.dense_blocks(heldout)
    A0 = (A_true + 0.3 * r.normal(size=A_true.shape)).astype(np.float32)   # near the truth
    # without held-out points: every step is taken and the last one returned
    plain = fa.fit(lambda: [blocks], A0, b_true[None], lv_true[None], iterations=60,
                   tol=-np.inf)
    assert plain.kept == 60 and plain.history[-1].heldout_mean_log_lik is None
    # with them: each step's held-out likelihood is scipy's at that step's parameters
    fitted = fa.fit(lambda: [blocks], A0, b_true[None], lv_true[None], iterations=60,
                    tol=-np.inf, heldout=lambda: [held[:1000], held[1000:]], patience=3)
    steps = [fitted.start, *fitted.history]
    params = [(A0, b_true, lv_true)]
    for step in fitted.history:  # the same steps again, stopped there: its parameters
        k = step.iteration
        again = fa.fit(lambda: [blocks], A0, b_true[None], lv_true[None], iterations=k,
                       tol=-np.inf)
        params.append((np.asarray(again.A), np.asarray(again.b)[0],
                       np.asarray(again.log_var)[0]))
    reference = [mean_logpdf(heldout, *p) for p in params]
    for step, value in zip(steps, reference):
        assert step.heldout_mean_log_lik == pytest.approx(value, abs=2e-3)
    # the training likelihood keeps climbing while the held-out one turns: overfitting
    assert fitted.history[-1].mean_log_lik > fitted.history[0].mean_log_lik
    best = int(np.argmax(reference)) - 1                     # -1: the start
    assert fitted.kept == best
    np.testing.assert_allclose(np.asarray(fitted.A), params[best + 1][0], atol=1e-6)
    np.testing.assert_allclose(np.asarray(fitted.log_var)[0], params[best + 1][2], atol=1e-6)
    assert fitted.history[-1].iteration == max(best, 0) + 3 < 60   # stopped by patience
    with pytest.raises(ValueError, match="patience"):
        fa.fit(lambda: [blocks], A0, b_true[None], lv_true[None], heldout=lambda: [held],
               patience=0)


def test_held_out_selection_keeps_the_start_when_it_generalises_best():
    """Started at the true parameters with 8 training points in 12 dimensions, no refit beats
    the start on 4000 held-out points: the start comes back unchanged."""
    r = np.random.default_rng(11)
    dim, m = 12, 3
    A_true = r.normal(size=(dim, m)).astype(np.float32)
    lv_true = np.full((1, dim), -0.5, np.float32)
    b_true = np.zeros((1, dim), np.float32)

    def draw(n):
        return (r.normal(size=(n, m)) @ A_true.T
                + np.exp(0.25) ** -1 * r.normal(size=(n, dim))).astype(np.float32)

    blocks, held = fa.dense_blocks(draw(8)), fa.dense_blocks(draw(4000))
    fitted = fa.fit(lambda: [blocks], A_true, b_true, lv_true, iterations=20,
                    heldout=lambda: [held])
    assert fitted.kept == -1
    assert all(step.heldout_mean_log_lik < fitted.start.heldout_mean_log_lik
               for step in fitted.history)
    np.testing.assert_array_equal(np.asarray(fitted.A), A_true)
    np.testing.assert_array_equal(np.asarray(fitted.b), b_true)
    np.testing.assert_array_equal(np.asarray(fitted.log_var), lv_true)


# ----------------------------------------------------------------------------- upsampling form
def numpy_blocked_ecm(y, W, log_var, steps):
    """Shared W, per-block diagonal Sigma, written out block by block and row by row."""
    y = np.asarray(y, np.float64)
    W = np.asarray(W, np.float64).copy()
    lv = np.asarray(log_var, np.float64).copy()
    d, nb, rows = y.shape
    m = W.shape[1]
    b = y.mean(axis=0)
    for _ in range(steps):
        G, S_mm, S_rm = [], [], []
        for k in range(nb):
            prec = np.diag(np.exp(-lv[k]))
            g = np.linalg.inv(np.eye(m) + W.T @ prec @ W)
            mk = (y[:, k] - b[k]) @ prec @ W @ g                    # (D, M) posterior means
            G.append(g)
            S_mm.append(mk.T @ mk)
            S_rm.append((y[:, k] - b[k]).T @ mk)
        new_W = np.zeros_like(W)
        for row in range(rows):
            lhs = sum(np.exp(-lv[k, row]) * (d * G[k] + S_mm[k]) for k in range(nb))
            rhs = sum(np.exp(-lv[k, row]) * S_rm[k][row] for k in range(nb))
            new_W[row] = np.linalg.solve(lhs, rhs)
        for k in range(nb):
            for row in range(rows):
                w = new_W[row]
                resid = y[:, k, row] - b[k, row]
                second = d * G[k] + S_mm[k]
                value = (resid @ resid - 2 * w @ S_rm[k][row] + w @ second @ w) / d
                lv[k, row] = np.log(max(value, fa.DEFAULT_FLOOR))
        W = new_W
    return W, lv, b


def upsample_problem(seed=0, n=120, h=2, w=3, f=2, c_x=1, c_z=2):
    r = np.random.default_rng(seed)
    W_true = r.normal(size=(f * f * c_x, c_z))
    z = r.normal(size=(n, h, w, c_z))
    scale = np.exp(0.3 * r.normal(size=(f * h, f * w, c_x)))
    x = (depth_to_space(np.einsum("rm,nhwm->nhwr", W_true, z), f)
         + 0.5 * scale * r.normal(size=(n, f * h, f * w, c_x)) + 1.0)
    return np.asarray(x, np.float32), f


def test_upsample_ecm_matches_a_blockwise_reference_and_the_model_likelihood():
    x, f = upsample_problem()
    blocks = np.asarray(fa.upsample_blocks(x, f))
    nb, rows = blocks.shape[1:]
    r = np.random.default_rng(7)
    W0 = r.normal(size=(rows, 2)).astype(np.float32)
    lv0 = (0.2 * r.normal(size=(nb, rows))).astype(np.float32)
    W, b, lv, hist, *_ = fa.fit(lambda: [blocks[:50], blocks[50:]], W0, np.zeros_like(lv0), lv0,
                            iterations=4, tol=-np.inf)
    W_ref, lv_ref, b_ref = numpy_blocked_ecm(blocks, W0, lv0, 4)
    np.testing.assert_allclose(np.asarray(b), b_ref, atol=1e-5)
    np.testing.assert_allclose(np.asarray(W), W_ref, rtol=2e-3, atol=2e-3)
    np.testing.assert_allclose(np.asarray(lv), lv_ref, rtol=2e-3, atol=2e-3)
    # the blocked likelihood is the upsampling NIF's own closed form, in image layout
    shape = x.shape[1:]
    b_img = np.asarray(depth_to_space(np.asarray(b).reshape(shape[0] // f, shape[1] // f, -1), f))
    lv_img = np.asarray(depth_to_space(np.asarray(lv).reshape(shape[0] // f, shape[1] // f, -1), f))
    model_ll = float(np.mean(upsample.log_marginal(x, W, b_img, lv_img, f)))
    assert hist[-1].mean_log_lik == pytest.approx(model_ll, abs=1e-3)


def test_upsample_ecm_is_monotone_and_one_block_is_dense_em():
    x, f = upsample_problem(seed=2, n=200)
    blocks = np.asarray(fa.upsample_blocks(x, f))
    W0 = np.random.default_rng(3).normal(size=(blocks.shape[-1], 2)).astype(np.float32)
    lv0 = np.zeros(blocks.shape[1:], np.float32)
    hist = fa.fit(lambda: [blocks], W0, lv0, lv0, iterations=40, tol=-np.inf).history
    values = np.array([h.mean_log_lik for h in hist])
    assert np.all(np.diff(values) >= -1e-4) and values[-1] > values[0]
    # a single block (h = w = 1) is the dense case: the same numbers as the textbook EM
    one = blocks[:, :1]
    W, b, lv, *_ = fa.fit(lambda: [one], W0, lv0[:1], lv0[:1], iterations=3, tol=-np.inf)
    A_ref, lv_ref, _ = numpy_em(one[:, 0], W0, lv0[0], 3)
    np.testing.assert_allclose(np.asarray(W), A_ref, rtol=2e-3, atol=2e-3)
    np.testing.assert_allclose(np.asarray(lv)[0], lv_ref, rtol=2e-3, atol=2e-3)


def test_principal_init_is_probabilistic_pca_and_never_below_the_standard_normal():
    """Against scikit-learn's PCA (the same eigen-decomposition, its noise_variance_ is
    Tipping & Bishop's sigma^2), and the likelihood against N(0, I) and against EM from it."""
    from sklearn.decomposition import PCA

    y = factor_data(n=600, dim=7, m=2, seed=3)
    A, b, log_var = fa.principal_init([y[:250, None], y[250:, None]], 2)  # streamed in two
    pca = PCA(n_components=2).fit(np.asarray(y, np.float64))
    np.testing.assert_allclose(b[0], y.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(np.exp(log_var[0]), pca.noise_variance_ * (599 / 600), rtol=1e-4)
    # the same model covariance as sklearn's probabilistic PCA (its covariance is unbiased)
    cov = A @ A.T + np.diag(np.exp(log_var[0]))
    np.testing.assert_allclose(cov, pca.get_covariance() * (599 / 600), rtol=1e-3, atol=1e-5)
    start = mean_logpdf(y, A, b[0], log_var[0])
    standard = float(np.mean(multivariate_normal(np.zeros(7), np.eye(7)).logpdf(y)))
    assert start > standard
    A2, b2, lv2, history, *_ = fa.fit(lambda: [y[:, None]], A, b, log_var, iterations=20)
    assert history[0].mean_log_lik == pytest.approx(start, rel=1e-5)
    assert history[-1].mean_log_lik >= history[0].mean_log_lik - 1e-4


def test_principal_init_of_blocks_pools_their_covariance():
    r = np.random.default_rng(0)
    y = r.normal(size=(300, 4, 3)) @ np.diag([2.0, 1.0, 0.3]) + np.arange(12).reshape(4, 3)
    A, b, log_var = fa.principal_init([y], 1)
    np.testing.assert_allclose(b, y.mean(axis=0), rtol=1e-5, atol=1e-5)
    centred = (y - y.mean(axis=0)).reshape(-1, 3)
    eig = np.linalg.eigvalsh(centred.T @ centred / len(centred))[::-1]
    np.testing.assert_allclose(np.exp(log_var), (eig[1] + eig[2]) / 2, rtol=1e-4)
    np.testing.assert_allclose(np.sum(A ** 2), eig[0] - (eig[1] + eig[2]) / 2, rtol=1e-4)
    with pytest.raises(ValueError, match="latent_dim must be in"):
        fa.principal_init([y], 4)
