"""Centring: images y in [0, 1] -> y - 1/2, the Glow's input without the logit transform
(:mod:`nif_zoo.flows.logit`). Volume preserving: log-det 0."""
from __future__ import annotations

from nif_zoo.flows.base import Bijection, zero_log_det


class Center(Bijection):
    """y -> y - 1/2 (forward), x -> x + 1/2 (inverse)."""

    def __call__(self, x, reverse: bool = False):
        return (x + 0.5 if reverse else x - 0.5), zero_log_det(x)
