"""Pandera schemas for every table that crosses a stage boundary, and the vocabularies they check against.

This package imports none of the other emovit packages; they import it.
"""

from schemas.vocab import EMOTIONS, Vocabulary, normalise_scene

__all__ = ["EMOTIONS", "Vocabulary", "normalise_scene"]
