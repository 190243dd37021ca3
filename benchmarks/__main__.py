"""``python -m benchmarks run|leaderboard|list`` (and ``accelerate launch -m benchmarks run ...``)."""

import sys

from builder.cli import main

sys.exit(main(["bench", *sys.argv[1:]]))
