"""Instruction generation: captions + attributes -> categorical / conversation / reasoning samples."""
