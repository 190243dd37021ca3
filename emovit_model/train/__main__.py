"""``python -m emovit_model.train`` (and ``accelerate launch -m emovit_model.train``)."""

import sys

from builder.cli import main

sys.exit(main(["train", *sys.argv[1:]]))
