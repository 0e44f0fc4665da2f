"""``python -m workbench``: the workbench's web process; ``python -m workbench <command>``: its command line."""

import sys

from workbench.cli import main

sys.exit(main())
