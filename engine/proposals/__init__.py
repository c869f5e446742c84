"""Cuboid proposals for pre-labeling: the model-free geometric step and pluggable detectors."""

from engine.proposals.classify import refine_classes
from engine.proposals.config import ClassRuleConfig, ClusterConfig, FitConfig, GroundConfig, ProposalConfig
from engine.proposals.detectors import Detector, TorchScriptDetector
from engine.proposals.geometric import GeometricDetector, HeadingHook, propose
from engine.proposals.imported import ImportedDetections
from engine.proposals.priors import SidePrior, SizePrior, load_size_priors, priors_array
from engine.proposals.stream import propose_log
from engine.proposals.types import ProposalSet

__all__ = [
    "ClassRuleConfig",
    "ClusterConfig",
    "Detector",
    "FitConfig",
    "GeometricDetector",
    "GroundConfig",
    "HeadingHook",
    "ImportedDetections",
    "ProposalConfig",
    "ProposalSet",
    "SidePrior",
    "SizePrior",
    "TorchScriptDetector",
    "load_size_priors",
    "priors_array",
    "propose",
    "propose_log",
    "refine_classes",
]
