"""Exceptions that the CLI reports as one line with exit code 2."""


class UsageError(Exception):
    """Input a user can fix: a missing file, an option that does not fit, a malformed decisions file."""
