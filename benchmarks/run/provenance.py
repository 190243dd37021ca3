"""Provenance recorded in every run's ``config.json``: library versions and git commit (a checkpoint's identity is
:func:`emovit_model.checkpoint.checkpoint_identity`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def versions() -> dict:
    """Versions of Python, torch, transformers, datasets and the other libraries a result depends on."""
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": sys.version.split()[0]}
    for name in ("torch", "transformers", "datasets", "accelerate", "peft", "scikit-learn", "scipy", "statsmodels",
                 "emovit"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


def git_commit() -> str | None:
    """The commit of the source tree this package runs from (``None`` outside a git checkout)."""
    here = Path(__file__).resolve().parent
    try:
        result = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10,
                                check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None


__all__ = ["git_commit", "versions"]
