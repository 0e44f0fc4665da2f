"""The trainer workbench on the command line; the same as ``python -m workbench``.

Usage:
    python -m scripts.trainer inbox --flags fallback,contradicted
    python -m scripts.trainer label 'conv-1|7' --intent payment_methods --entity 'النت=service_type'
    python -m scripts.trainer health --chart reports/health.png
    python -m scripts.trainer train --load
"""

from __future__ import annotations

import sys

from workbench.cli import main

if __name__ == "__main__":
    sys.exit(main())
