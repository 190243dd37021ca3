"""Exceptions that the CLI reports as one line with exit code 2."""


class UsageError(Exception):
    """Input a user can fix: a missing file, an option that does not fit, a malformed decisions file.

    The message is always one line: a line break or other unprintable character inside it (a model name or
    a file name from someone else's file) is shown as its escape (``\\n``, ``\\u2028``)."""

    def __str__(self) -> str:
        text = super().__str__()
        return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)
