"""``python -m handoff.workbench``: the trainer's command line (see :mod:`handoff.workbench.cli`)."""

import sys

from handoff.workbench.cli import main

sys.exit(main())
