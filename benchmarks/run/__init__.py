"""Scoring models on tasks: the runner and what it needs (processes, data, stores, provenance, judge), plans."""
