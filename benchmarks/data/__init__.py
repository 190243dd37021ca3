"""The samples a task scores: build splits, image folders and held-out datasets; synthetic stand-ins; leakage."""
