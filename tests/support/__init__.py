"""Helpers shared by the tests and the performance suites (not part of the installed packages)."""
