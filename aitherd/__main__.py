"""`python -m aitherd` runs the daemon, like the `aitherd` command."""

import sys

from aitherd.daemon import main

sys.exit(main())
