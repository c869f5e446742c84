"""Cuboid proposals for pre-labeling: the model-free geometric step and pluggable detectors."""

from engine.proposals.config import ClusterConfig, FitConfig, GroundConfig, ProposalConfig
from engine.proposals.geometric import GeometricDetector, HeadingHook, propose
from engine.proposals.priors import SidePrior, SizePrior, load_size_priors, priors_array
from engine.proposals.types import ProposalSet

__all__ = [
    "ClusterConfig",
    "FitConfig",
    "GeometricDetector",
    "GroundConfig",
    "HeadingHook",
    "ProposalConfig",
    "ProposalSet",
    "SidePrior",
    "SizePrior",
    "load_size_priors",
    "priors_array",
    "propose",
]
