"""Figures of one run, from its predictions alone: answers read again by our parser, then the metrics."""
