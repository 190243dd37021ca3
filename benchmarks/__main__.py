"""``python -m benchmarks run|leaderboard|list`` (and ``accelerate launch -m benchmarks run ...``)."""

import sys

from benchmarks.cli import main

sys.exit(main())
