"""Models scored on tasks: the runner, what it prepares, run stores, provenance, judge, plans, dry run."""
