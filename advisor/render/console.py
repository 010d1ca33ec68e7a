"""The terminal consoles every piece of human-readable output prints through: results on stdout, progress,
warnings and errors on stderr (so that ``--json`` and piped output stay clean).
"""

from __future__ import annotations

import sys

from rich.console import Console

# Piped output (CI logs, `make demo | tee`) would otherwise wrap tables at 80 columns.
_WIDTH = None if sys.stdout.isatty() else 160
console = Console(width=_WIDTH)
err_console = Console(stderr=True, width=_WIDTH)
