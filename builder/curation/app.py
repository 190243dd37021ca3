"""The FiftyOne App on a dataset, served on the loopback interface only (remote mode: no browser is opened).

From another machine, forward the port over ssh (``ssh -N -L PORT:127.0.0.1:PORT user@host``) and open
the printed URL locally.
"""

from __future__ import annotations

import signal
import socket
import sys
from pathlib import Path

LOOPBACK = "127.0.0.1"
DEFAULT_PORT = 5151


def app_url(name: str, port: int, address: str = LOOPBACK) -> str:
    """The URL that opens dataset ``name`` in the App."""
    from urllib.parse import quote

    return f"http://{address}:{port}/datasets/{quote(name)}"


def port_is_free(port: int, address: str = LOOPBACK) -> bool:
    """True when nothing listens on ``address:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        return probe.connect_ex((address, port)) != 0


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def serve(name: str, *, port: int = DEFAULT_PORT, database_dir: str | Path | None = None, out=sys.stdout) -> int:
    """Serve the App for dataset ``name`` on ``127.0.0.1:port`` until Ctrl-C or SIGTERM; returns 0."""
    from builder.curation.database import load_dataset
    from schemas.errors import UsageError

    dataset = load_dataset(name, database_dir)
    if not port_is_free(port):
        raise UsageError(f"port {port} on {LOOPBACK} is already in use; choose another with --port")
    import fiftyone as fo

    session = fo.launch_app(dataset, remote=True, address=LOOPBACK, port=port, auto=False)
    url = app_url(name, port)
    print(f"FiftyOne App for dataset {name!r}: {url}", file=out)
    print(f"From another machine: ssh -N -L {port}:{LOOPBACK}:{port} <user>@<this host>, then open {url}",
          file=out)
    print("Press Ctrl-C to stop.", file=out, flush=True)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        session.wait(-1)
    except KeyboardInterrupt:
        print("App stopped.", file=out, flush=True)
    finally:
        signal.signal(signal.SIGTERM, previous)
        session.close()
    return 0
