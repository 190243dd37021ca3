"""Samples a task scores (build splits, image folders, held-out datasets), synthetic stand-ins, leakage."""
