"""``python -m emovit_model.train`` (and ``accelerate launch -m emovit_model.train``)."""

import sys

from emovit_model.train.cli import main

sys.exit(main())
