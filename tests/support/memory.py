"""The peak memory of a piece of work, measured in a fresh process of its own.

The probe reads the process's own high-water mark, ``VmHWM`` in ``/proc/self/status``. It never uses
``getrusage(RUSAGE_SELF).ru_maxrss``: on Linux a child started from a large process (the pytest process,
with torch and a suite's worth of data loaded) keeps the parent's peak in that figure across ``exec``, so a
20,000-entry and a 200,000-entry build both read as the parent's size and a memory benchmark cannot fail.
"""

from __future__ import annotations

import json
import subprocess
import sys

#: Runs the script given as its first argument (the rest are its ``sys.argv[1:]``), then prints the
#: process's own peak resident set in KiB as the last line of its output.
_RUNNER = """
import json, sys
script = sys.argv.pop(1)
exec(compile(script, "<measured>", "exec"), {"__name__": "__main__"})
with open("/proc/self/status") as status:
    peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
print(json.dumps({"peak_rss_kib": peak}))
"""


def measured_run(script: str, *args, **kwargs) -> tuple[list[str], float]:
    """Run the Python source ``script`` in a new interpreter (``args`` as its arguments; ``kwargs`` go to
    :func:`subprocess.run`); returns the lines it printed and its own peak resident set in MiB. A failing
    script raises :class:`subprocess.CalledProcessError` with its output."""
    result = subprocess.run([sys.executable, "-c", _RUNNER, script, *map(str, args)], capture_output=True,
                            text=True, check=False, **kwargs)
    if result.returncode:
        raise subprocess.CalledProcessError(result.returncode, "measured script", result.stdout, result.stderr)
    lines = result.stdout.strip().splitlines()
    return lines[:-1], json.loads(lines[-1])["peak_rss_kib"] / 1024


__all__ = ["measured_run"]
