"""Synthetic quarterly submissions with planted defects and violations, and their ground truth.

    from pipelines.lib.generator import GeneratorConfig, generate
    truth = generate(Path("data/raw"), GeneratorConfig(n_enterprises=12, seed=2008))

See docs/generator.md.
"""

from pipelines.lib.generator.config import (
    DEFECT_KINDS,
    VARIANT_KINDS,
    VIOLATION_KINDS,
    GeneratorConfig,
    clean_config,
    demo_config,
)
from pipelines.lib.generator.core import REGISTRY_FILE, generate
from pipelines.lib.generator.ground_truth import GROUND_TRUTH_FILE, GroundTruth, TruthRow, load_ground_truth

__all__ = [
    "DEFECT_KINDS", "GROUND_TRUTH_FILE", "REGISTRY_FILE", "VARIANT_KINDS", "VIOLATION_KINDS", "GeneratorConfig",
    "GroundTruth", "TruthRow", "clean_config", "demo_config", "generate", "load_ground_truth",
]
