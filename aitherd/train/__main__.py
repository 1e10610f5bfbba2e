"""`python -m aitherd.train SPEC.json`: the trainer subprocess (heavy imports live here)."""

import sys

from aitherd.train.trainer import main

sys.exit(main(sys.argv[1:]))
