"""YAML files shipped with the package (``benchmarks/tasks``, ``benchmarks/configs``): by name or by path."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from schemas.errors import UsageError


def packaged(folder: str) -> dict[str, str]:
    """``{name: file name}`` of the ``.yaml`` files in the package folder ``folder``."""
    entries = (resources.files("benchmarks") / folder).iterdir()
    return {entry.name.removesuffix(".yaml"): entry.name for entry in entries if entry.name.endswith(".yaml")}


def read_reference(reference: str | Path, folder: str, what: str) -> tuple[bytes, str]:
    """The bytes of a ``.yaml`` path, or of the packaged file named ``reference`` in ``folder``, and where
    they came from. ``what`` names the kind of file in errors (``task``, ``config``).

    A packaged name stays a packaged name: a folder or file of that name in the working directory (a held-out
    dataset unpacked as ``emotion6``, ``emovit demo --out demo``) never shadows it; only an argument ending
    in ``.yaml`` / ``.yml`` (or a file that is no packaged name) is read as a path."""
    path = Path(reference)
    known = packaged(folder)
    if path.suffix in (".yaml", ".yml") or (str(reference) not in known and path.is_file()):
        try:
            return path.read_bytes(), str(path)
        except OSError as exc:
            raise UsageError(f"{path}: cannot read {what} file ({exc.strerror})") from None
    if str(reference) not in known:
        raise UsageError(f"unknown {what} {reference!r}; packaged {what}s: {', '.join(sorted(known))} "
                         "(or give a .yaml path)")
    return (resources.files("benchmarks") / folder / known[str(reference)]).read_bytes(), \
        f"benchmarks/{folder}/{known[str(reference)]}"


def read_mapping(reference: str | Path, folder: str, what: str, shape: str) -> tuple[dict, str, bytes]:
    """The YAML mapping of :func:`read_reference`, where it came from and its bytes; ``shape`` ends the error
    when the document is no mapping (``a task file is a mapping of fields``)."""
    import yaml

    data, where = read_reference(reference, folder, what)
    try:
        document = yaml.safe_load(data.decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise UsageError(f"{where}: not valid YAML ({exc})") from None
    if not isinstance(document, dict):
        raise UsageError(f"{where}: {shape}")
    return document, where, data
