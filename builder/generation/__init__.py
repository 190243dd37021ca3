"""Instruction generation: captions + attributes -> categorical / conversation / reasoning samples.

Entry points for the dataset builder::

    from builder.generation import GenerationConfig, GenerationItem, get_generator, categorical_record
    generator = get_generator("template", GenerationConfig(seed=0))   # or "openai:<model>"
    outcome = generator.generate([GenerationItem(record, caption, kind), ...])
    outcome.records, outcome.quarantined, outcome.usage

Backends are imported lazily by :func:`get_generator`.
"""

from builder.generation.base import (
    GenerationItem,
    GenerationOutcome,
    GenerationUsage,
    GeneratorInfo,
    InstructionGenerator,
    InstructionRecord,
)
from builder.generation.categorical import categorical_record
from builder.generation.config import GenerationConfig
from builder.generation.registry import get_generator
from builder.generation.turns import split_record

__all__ = [
    "GenerationConfig", "GenerationItem", "GenerationOutcome", "GenerationUsage", "GeneratorInfo",
    "InstructionGenerator", "InstructionRecord", "categorical_record", "get_generator", "split_record",
]
