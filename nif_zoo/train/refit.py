"""Refit a trained NIF's Gaussian layer (b, A, Sigma) in closed form with its Glow held fixed
(SPEC section 2, factor-analysis EM; :mod:`nif_zoo.nif.factor_analysis`).

Why: the closed-form likelihood is almost flat in the prior's mean direction, so SGD leaves
the data mean in A mean(z+) instead of b (test embeddings far from N(0, I), empty samples
at s = 0); the maximum-likelihood b is the latents' mean and EM then fits A and Sigma.

    refit = refit_prior(model, train_images)        # a new Model; ``model`` is untouched
    refit.model, refit.history                      # mean log N(y | b, A A^T + Sigma) per step

The trunk latents y = trunk(x' - 1/2) (the Glow's or the Jet's output) of uniformly
dequantised images x' (one noise draw per image, from ``seed``: the training objective's
data) are computed once and kept in memory when they fit in ``max_cache_bytes``, otherwise
recomputed on every EM pass (streamed).
For a closed-form NIF (kind ``nif``) this maximises the exact training log-likelihood over
(b, A, Sigma). A deep NIF's Gaussian layer has a learned prior on z, not N(0, I): the refit
applies to it only as an approximation (its likelihood is a bound; measure before keeping).
"""
from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any, Callable, Dict, List, Optional

import jax
import jax.numpy as jnp
import numpy as np

from nif_zoo import rng
from nif_zoo.data import quantize
from nif_zoo.models import Model
from nif_zoo.models.model import example_keys, round_up
from nif_zoo.models.validation import check_images
from nif_zoo.nif import factor_analysis

DEFAULT_ITERATIONS = 100
DEFAULT_TOL = 1e-3  # nats per image: stop when an EM step gains less
DEFAULT_MAX_CACHE_BYTES = 2 * 2 ** 30


@dataclasses.dataclass
class RefitResult:
    model: Model
    history: List[factor_analysis.FitStep]  # history[0]: at b = mean, the SGD A and Sigma
    start: factor_analysis.FitStep          # the layer as it was (iteration -1)
    images: int
    kept: int = -1  # the EM step whose layer the model has (-1: the layer as it was)
    heldout_images: int = 0

    @property
    def initial_log_lik(self) -> float:
        """Mean training log-likelihood of the layer as it was."""
        return self.start.mean_log_lik

    @property
    def heldout_initial_log_lik(self) -> Optional[float]:
        """Mean held-out log-likelihood of the layer as it was (None without held-out images)."""
        return self.start.heldout_mean_log_lik

    @property
    def kept_step(self) -> factor_analysis.FitStep:
        """The fit of the layer the model has (the start's when the refit was not kept)."""
        return self.start if self.kept == -1 else self.history[self.kept]


def nif_name(model: Model) -> str:
    """The name of the model's Gaussian NIF layer (its parameters' key): the one noisy layer
    with a closed-form refit (``blocks``) after only bijections."""
    module = model.module
    noisy = module.noisy_layers
    if noisy and hasattr(module.layers[noisy[0]], "blocks"):
        if len(noisy) > 1:
            raise ValueError(f"refit_prior fits one Gaussian NIF on N(0, I) or under a flow; "
                             f"this {model.kind!r} model has {len(noisy)} noisy layers")
        return module.layer_names[noisy[0]]
    raise ValueError(f"refit_prior needs a NIF (kind nif or deep_nif); this is {model.kind!r}, "
                     "which has no Gaussian NIF layer")


def latent_flow_name(model: Model):
    """The layer name of the flow under the model's Gaussian NIF (the architecture table's
    ``latent_flow``: a deep NIF's), or None."""
    return model.architecture.latent_flow


def has_latent_flow(model: Model) -> bool:
    """Whether the model has a flow under its Gaussian NIF (a deep NIF)."""
    return latent_flow_name(model) is not None


def trunk_latents_fn(model: Model):
    """A jitted (variables, uint8 batch, noise U in [0, 1)) -> the trunk latents of the
    dequantised batch y = (k + U) / 2^n_bits (the training objective's data)."""
    levels = quantize.num_levels(model.n_bits)
    name = nif_name(model)

    def latents(variables, batch, noise):
        y = (batch.astype(jnp.float32) + noise) / levels
        return model.module.apply(variables, y, name, method="inputs_of")[0]
    return jax.jit(latents)


@functools.partial(jax.jit, static_argnums=(2, 3))
def per_image_noise(base_key, start, count: int, shape):
    """U[0, 1) noise for images start .. start + count - 1, image i from fold_in(base, i)."""
    return jax.vmap(lambda k: rng.uniform(k, shape))(example_keys(base_key, start, count))


def trunk_latents(model: Model, images: np.ndarray, *, seed: int, batch_size: int,
                  max_cache_bytes: int, progress: bool) -> Callable:
    """``latents()``: an iterator over the trunk latents (n, ...) of all ``images`` in batches
    (dequantisation noise of image i from fold_in(key(seed), i), so the draw does not
    depend on the batch size); computed once and cached when they fit in
    ``max_cache_bytes``, otherwise recomputed on every call (streamed)."""
    from tqdm.auto import tqdm

    fn = trunk_latents_fn(model)
    base = jax.random.key(seed)
    total = len(images)
    batch_size = round_up(batch_size, model._batch_multiple)  # split over the model's devices

    def compute():
        for start in range(0, total, batch_size):
            stop = min(start + batch_size, total)
            batch = images[start:stop]
            size = stop - start
            if size < batch_size:  # pad so one compiled function serves every batch
                batch = np.concatenate([batch, np.repeat(batch[-1:], batch_size - size, 0)])
            noise = per_image_noise(base, start, batch_size, images.shape[1:])
            yield np.asarray(fn(model._compute_variables, model._place_batch(batch),
                                model._place_batch(noise))[:size])

    bytes_needed = total * math.prod(images.shape[1:]) * 4
    if bytes_needed > max_cache_bytes:
        return compute
    cached = list(tqdm(compute(), total=-(-total // batch_size), unit="batch",
                       desc="trunk latents", disable=not progress))
    return lambda: iter(cached)


def refit_prior(model: Model, images, *, iterations: int = DEFAULT_ITERATIONS,
                tol: float = DEFAULT_TOL, seed: int = 0, batch_size: int = 500,
                floor: float = factor_analysis.DEFAULT_FLOOR,
                max_cache_bytes: int = DEFAULT_MAX_CACHE_BYTES,
                progress: bool = False, init: str = "current",
                heldout_images=None, patience: int = 3) -> RefitResult:
    """A copy of ``model`` whose Gaussian NIF has b = the mean trunk latent of ``images``
    (uint8, the model's shape and bits) and A, Sigma refit by up to ``iterations`` EM steps
    (stopping when a step gains less than ``tol`` nats per image). EM starts from the
    layer's current A and Sigma (``init="current"``) or from probabilistic PCA of the
    latents (``init="principal"``, :func:`nif_zoo.nif.factor_analysis.principal_init`: a
    start that does not depend on the layer's parameters, never below N(0, I)).

    With ``heldout_images`` (validation images, never the test split) the refit is early
    stopped on their likelihood (:func:`nif_zoo.nif.factor_analysis.fit`): the layer kept is
    the best of the current one, b = mean and every EM step, so a refit that overfits the
    training images (a flow's latents have as many dimensions as pixels; EM fits A and
    Sigma to one dequantisation draw) is cut short or not kept at all (``kept`` -1: the
    model is returned unchanged)."""
    from tqdm.auto import tqdm

    if init not in ("current", "principal"):
        raise ValueError(f"init must be 'current' or 'principal'; got {init!r}")
    name = nif_name(model)
    images = check_images(images, model.image_shape, model.n_bits)
    if not np.issubdtype(images.dtype, np.integer):
        raise ValueError("refit_prior needs the integer (quantised) training images")
    nif = model.module.layer(name)
    params = model.variables["params"]
    A, b, log_var = nif.block_parameters(params[name])
    latents = trunk_latents(model, images, seed=seed, batch_size=batch_size,
                            max_cache_bytes=max_cache_bytes, progress=progress)

    def batches():  # the factor-analysis layout of the NIF form, batch by batch
        return (np.asarray(nif.blocks(y)) for y in latents())

    heldout = None
    if heldout_images is not None:
        if init != "current":
            raise ValueError("held-out selection compares the refit with the current layer; "
                             "it needs init='current'")
        heldout_images = check_images(heldout_images, model.image_shape, model.n_bits)
        heldout_latents = trunk_latents(model, heldout_images, seed=seed + 1,
                                        batch_size=batch_size, max_cache_bytes=max_cache_bytes,
                                        progress=progress)

        def heldout():
            return (np.asarray(nif.blocks(y)) for y in heldout_latents())

    if init == "principal":
        A, b, log_var = factor_analysis.principal_init(batches(), np.shape(A)[1], floor)

    bar = tqdm(total=iterations, unit="EM step", desc="refit", disable=not progress)

    def report(step: factor_analysis.FitStep):
        if step.iteration:
            bar.update(1)
        postfix = {"log_lik": f"{step.mean_log_lik:.2f}"}
        if step.heldout_mean_log_lik is not None:
            postfix["heldout"] = f"{step.heldout_mean_log_lik:.2f}"
        bar.set_postfix(postfix)

    try:
        fitted = factor_analysis.fit(batches, A, b, log_var, iterations=iterations, tol=tol,
                                     floor=floor, heldout=heldout, patience=patience,
                                     callback=report)
    finally:
        bar.close()
    if fitted.kept == -1:
        refit = model  # the current layer generalises best: nothing changes
    else:
        new_params = {**params, name: {**params[name], **nif.parameters_from_blocks(
            fitted.A, fitted.b, fitted.log_var)}}
        refit = model.with_variables({**model.variables, "params": new_params})
    return RefitResult(refit, fitted.history, fitted.start, len(images), kept=fitted.kept,
                       heldout_images=0 if heldout_images is None else len(heldout_images))


@dataclasses.dataclass
class FlowRefitResult:
    model: Model
    losses: List[float]  # -mean log p_z(z), z ~ q(z | u), every 50 steps (nats per image)
    steps: int


def refit_latent_flow(model: Model, images, *, steps: int = 1000, batch_size: int = 256,
                      learning_rate: float = 1e-3, seed: int = 0,
                      max_cache_bytes: int = DEFAULT_MAX_CACHE_BYTES,
                      progress: bool = False) -> FlowRefitResult:
    """A deep NIF's low-dimensional flow refit to its (possibly refit) Gaussian layer: with
    the Glow and the NIF fixed, Adam on the flow's parameters maximises E_q[log p_z(z)],
    z ~ q(z | u) drawn afresh each step for a random batch of the training images' Glow
    latents u: the ELBO's only term that depends on the flow."""
    import optax
    from tqdm.auto import tqdm

    if not has_latent_flow(model):
        raise ValueError(f"refit_latent_flow needs a deep NIF (a flow under its Gaussian NIF); "
                         f"this is {model.kind!r}")
    name = nif_name(model)
    images = check_images(images, model.image_shape, model.n_bits)
    latents = np.concatenate(list(trunk_latents(model, images, seed=seed, batch_size=500,
                                                max_cache_bytes=max_cache_bytes,
                                                progress=progress)()))
    params = model.variables["params"]
    rest = {k: v for k, v in model.variables.items() if k != "params"}
    flow_name = latent_flow_name(model)
    optimizer = optax.adam(learning_rate)

    def loss_fn(flow_params, u, key):
        variables = {**rest, "params": {**params, flow_name: flow_params}}
        log_p = model.module.apply(variables, u, name, method="latent_log_prob",
                                   rngs={"posterior": key})
        return -jnp.mean(log_p)

    @jax.jit
    def step(flow_params, opt_state, u, key):
        loss, grads = jax.value_and_grad(loss_fn)(flow_params, u, key)
        updates, opt_state = optimizer.update(grads, opt_state, flow_params)
        return optax.apply_updates(flow_params, updates), opt_state, loss

    flow_params = params[flow_name]
    opt_state = optimizer.init(flow_params)
    order = np.random.default_rng(seed)
    base = jax.random.fold_in(jax.random.key(seed), 1)
    losses = []
    for k in tqdm(range(steps), unit="step", desc="flow refit", disable=not progress):
        idx = order.integers(0, len(latents), min(batch_size, len(latents)))
        flow_params, opt_state, loss = step(flow_params, opt_state, jnp.asarray(latents[idx]),
                                            jax.random.fold_in(base, k))
        if k % 50 == 0 or k == steps - 1:
            losses.append(float(loss))
    variables = {**model.variables, "params": {**params, flow_name: flow_params}}
    return FlowRefitResult(model.with_variables(variables), losses, steps)


@dataclasses.dataclass
class RefitReport:
    model: Model                  # the refit model
    record: Dict[str, Any]        # what a card / metrics.json says about the refit
    heldout_after: Dict[str, Any]  # held-out bits/dim of the refit model (heldout_bits_per_dim)
    prior_fit_after: Dict[str, Any]


def refit_and_measure(model: Model, train_images, test_images, *,
                      iterations: int = DEFAULT_ITERATIONS, tol: float = DEFAULT_TOL,
                      flow_steps: int = 0, seed: int = 0, validation_images=None,
                      patience: int = 3, progress: bool = False) -> RefitReport:
    """The closed-form refit of the Gaussian NIF on ``train_images`` (and for a deep NIF,
    ``flow_steps`` Adam steps refitting its low-dimensional flow to the new layer), with the
    held-out bits/dim and prior-fit diagnostics on ``test_images`` before and after (the
    ``nif-zoo refit-prior`` command and ``nif-zoo publish``). With ``validation_images`` the
    refit is early stopped on them (:func:`refit_prior`; the test images never choose), and
    when no refit step beats the trained layer there, the model is kept as it was."""
    from nif_zoo.evaluate.likelihood import heldout_bits_per_dim
    from nif_zoo.evaluate.prior_fit import describe, prior_fit

    say = print if progress else (lambda *a, **k: None)
    before = heldout_bits_per_dim(model, test_images, seed=0)
    fit_before = prior_fit(model, test_images)
    say(f"before: held-out bits/dim {before['bpd']:.4f}; {describe(fit_before)}", flush=True)
    result = refit_prior(model, train_images, iterations=iterations, tol=tol, seed=seed,
                         heldout_images=validation_images, patience=patience,
                         progress=progress)
    refit, flow = result.model, None
    if flow_steps and has_latent_flow(model) and result.kept != -1:
        flow = refit_latent_flow(refit, train_images, steps=flow_steps, seed=seed,
                                 progress=progress)
        refit = flow.model
    after = heldout_bits_per_dim(refit, test_images, seed=0)
    fit_after = prior_fit(refit, test_images)
    kept = result.kept_step
    record = {"images": result.images, "em_steps": max(kept.iteration, 0),
              "train_log_lik_before": result.initial_log_lik,
              "train_log_lik_after": kept.mean_log_lik,
              "test_bpd_before": before["bpd"], "test_bpd_after": after["bpd"],
              "prior_fit_before": fit_before}
    if validation_images is not None:
        record.update(kept=result.kept >= 0, em_steps_run=result.history[-1].iteration,
                      validation_images=result.heldout_images,
                      validation_log_lik_before=result.heldout_initial_log_lik,
                      validation_log_lik_after=kept.heldout_mean_log_lik,
                      validation_log_lik_by_step=[step.heldout_mean_log_lik
                                                  for step in result.history])
    if flow is not None:
        record.update(flow_steps=flow.steps,
                      flow_loss_first=flow.losses[0], flow_loss_last=flow.losses[-1])
    if result.kept == -1:
        say(f"after: the refit is not kept (neither b = mean nor any of "
            f"{result.history[-1].iteration} EM steps on "
            f"{result.images} training images raised the likelihood of the "
            f"{result.heldout_images} validation images): held-out bits/dim "
            f"{after['bpd']:.4f}; {describe(fit_after)}", flush=True)
    else:
        say(f"after {record['em_steps']} EM steps on {result.images} training images: held-out "
            f"bits/dim {after['bpd']:.4f}; {describe(fit_after)}", flush=True)
    return RefitReport(refit, record, after, fit_after)
