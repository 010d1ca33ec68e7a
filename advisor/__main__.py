"""``python -m advisor``: the same as the ``advisor`` console script."""

from __future__ import annotations

import sys

from advisor.cli.entry import main

sys.exit(main())
