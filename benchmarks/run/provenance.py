"""Provenance recorded in every run's ``config.json``: library versions, git commit, and a checkpoint's identity."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

#: Files up to this size are hashed by content when identifying a checkpoint (adapters, configs, tiny
#: models); larger weight files by name and size, so a 7B checkpoint is not read just to name it.
HASH_CONTENT_BELOW = 64 * 1024 * 1024


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


def checkpoint_identity(reference: str) -> str:
    """A digest naming what ``reference`` loads: for a local folder its files (content up to
    :data:`HASH_CONTENT_BELOW`, name and size above), plus the base an adapter points at; for a Hub id the id."""
    path = Path(reference).expanduser()
    if not path.exists():
        return f"hub:{reference}"
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        size = file.stat().st_size
        digest.update(f"{file.relative_to(path) if file != path else file.name}\0{size}\0".encode())
        if size < HASH_CONTENT_BELOW:
            digest.update(hashlib.sha256(file.read_bytes()).digest())
    adapter = path / "adapter_config.json"
    if adapter.is_file():
        import json

        from emovit_model.checkpoint import resolve_base

        base = json.loads(adapter.read_text(encoding="utf-8")).get("base_model") or ""
        if base:
            digest.update(checkpoint_identity(resolve_base(path, base)).encode())
    return digest.hexdigest()[:16]


__all__ = ["checkpoint_identity", "git_commit", "versions"]
