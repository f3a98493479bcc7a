"""Bijections on images and vectors; every layer follows :mod:`nif_zoo.flows.base`."""
from nif_zoo.flows.actnorm import ActNorm
from nif_zoo.flows.base import Bijection
from nif_zoo.flows.conv1x1 import InvertibleConv1x1
from nif_zoo.flows.coupling import AffineCoupling
from nif_zoo.flows.glow import FlowStep, FlowSteps, Glow, chain
from nif_zoo.flows.reshape import Squeeze, depth_to_space, space_to_depth
from nif_zoo.flows.shuffle import ChannelShuffle

__all__ = [
    "ActNorm", "AffineCoupling", "Bijection", "ChannelShuffle", "FlowStep", "FlowSteps", "Glow",
    "InvertibleConv1x1", "Squeeze", "chain", "depth_to_space", "space_to_depth",
]
