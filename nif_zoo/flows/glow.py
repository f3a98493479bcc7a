"""Multiscale Glow (Kingma & Dhariwal 2018) as a bijection image -> latent image.

One step of flow: ActNorm -> invertible 1x1 conv -> affine coupling.
Level l (of L): squeeze x2, then K steps; every level but the last factors out half
of its channels (they go straight to the latent). The latent is laid out in the
image's own shape: the factored-out halves are merged back and un-squeezed level by
level, so ``forward`` maps ``(n, H, W, C) -> (n, H, W, C)`` and a prior can treat the
latent as a flat vector of N = H W C (NF, dense NIF) or as an image (upsampling NIF).

    log|det dz/dx| = sum over levels and steps of the layers' log-dets

H and W must be divisible by 2^L. With ``scan=True`` (the default) the K steps of a level
are one ``nn.scan``: one compiled body whatever K is (compile time flat in K, see
``benchmarks/compile_time.py``), parameters stacked on a leading axis of size K, the
inverse scanning them in reverse order. ``scan=False`` unrolls them as a Python loop
(separate parameters ``step_0`` ... ``step_{K-1}``; some bundled checkpoints use it).
Speed of the two forms: ``BENCHMARKS.md``. ``conv`` chooses how the couplings' 3x3
convolutions run (:mod:`nif_zoo.flows.conv`: ``"auto"``, ``"matmul"``, ``"lax"``) and
``remat=True`` wraps every step in ``jax.checkpoint`` (training memory traded for a second
forward pass per step); neither changes the parameters.
"""
from __future__ import annotations

import flax.linen as nn

from nif_zoo.flows.actnorm import ActNorm
from nif_zoo.flows.base import Bijection, chain
from nif_zoo.flows.conv1x1 import InvertibleConv1x1
from nif_zoo.flows.coupling import AffineCoupling
from nif_zoo.flows.reshape import depth_to_space, merge_channels, space_to_depth, split_channels


class FlowStep(Bijection):
    """ActNorm -> invertible 1x1 conv -> coupling (inverse runs them backwards)."""

    width: int
    additive: bool = False
    lu: bool = True
    conv: str = "auto"

    def setup(self):
        self.layers = (
            ActNorm(name="actnorm"),
            InvertibleConv1x1(lu=self.lu, name="conv1x1"),
            AffineCoupling(self.width, additive=self.additive, conv=self.conv, name="coupling"),
        )

    def __call__(self, x, reverse: bool = False):
        return chain(self.layers, x, reverse)


# jax.checkpoint around a step: its activations are recomputed in the backward pass instead
# of stored (``remat=True``); ``reverse`` (argument 2, counting the module) stays static
RematFlowStep = nn.remat(FlowStep, static_argnums=(2,))


class FlowSteps(Bijection):
    """K flow steps; ``scan=True`` runs them as one ``nn.scan`` over stacked parameters;
    ``remat=True`` recomputes each step's activations in the backward pass."""

    steps: int
    width: int
    additive: bool = False
    lu: bool = True
    scan: bool = True
    conv: str = "auto"
    remat: bool = False

    def setup(self):
        step = RematFlowStep if self.remat else FlowStep
        if self.scan:
            self.step = step(self.width, self.additive, self.lu, self.conv, name="step")
        else:
            self.step_list = [
                step(self.width, self.additive, self.lu, self.conv, name=f"step_{k}")
                for k in range(self.steps)
            ]

    def __call__(self, x, reverse: bool = False):
        if not self.scan:
            return chain(self.step_list, x, reverse)

        def body(step, h, _):
            return step(h, reverse)

        scanned = nn.scan(
            body,
            variable_axes={"params": 0, "constants": 0, "cache": 0},
            split_rngs={"params": True},
            length=self.steps,
            reverse=reverse,
        )
        y, log_dets = scanned(self.step, x, None)
        return y, log_dets.sum(axis=0)


class Glow(Bijection):
    """Multiscale Glow: ``levels`` L, ``steps`` K per level, conditioner ``width``."""

    levels: int = 3
    steps: int = 8
    width: int = 128
    additive: bool = False
    lu: bool = True
    scan: bool = True
    conv: str = "auto"    # the couplings' 3x3 convolutions: nif_zoo.flows.conv.CONV_FORMS
    remat: bool = False   # jax.checkpoint around every step (memory for compute)

    def setup(self):
        self.level_steps = [
            FlowSteps(self.steps, self.width, self.additive, self.lu, self.scan, self.conv,
                      self.remat, name=f"level_{l}")
            for l in range(self.levels)
        ]

    def check_shape(self, x):
        f = 2 ** self.levels
        if x.ndim != 4 or x.shape[1] % f or x.shape[2] % f:
            raise ValueError(
                f"Glow with {self.levels} levels needs images (n, H, W, C) with H and W "
                f"divisible by {f}; got shape {tuple(x.shape)}"
            )

    def __call__(self, x, reverse: bool = False):
        self.check_shape(x)
        return self._inverse(x) if reverse else self._forward(x)

    def _forward(self, x):
        total = 0.0
        factored = []
        h = x
        for l, level in enumerate(self.level_steps):
            h, log_det = level(space_to_depth(h, 2))
            total = total + log_det
            if l < self.levels - 1:
                h, z_l = split_channels(h)
                factored.append(z_l)
        z = depth_to_space(h, 2)
        for z_l in reversed(factored):
            z = depth_to_space(merge_channels(z, z_l), 2)
        return z, total

    def _inverse(self, z):
        factored = []
        h = z
        for _ in range(self.levels - 1):
            h, z_l = split_channels(space_to_depth(h, 2))
            factored.append(z_l)
        h = space_to_depth(h, 2)
        total = 0.0
        for l in reversed(range(self.levels)):
            if l < self.levels - 1:
                h = merge_channels(h, factored[l])
            h, log_det = self.level_steps[l](h, reverse=True)
            total = total + log_det
            h = depth_to_space(h, 2)
        return h, total
