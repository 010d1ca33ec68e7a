"""The ``advisor`` command line: a thin layer over the library (see advisor.cli.app).

Importing this package is cheap: the console script (:func:`main`) installs the signal handlers before it
loads the commands.
"""

from __future__ import annotations

from advisor.cli.entry import main

__all__ = ["main"]
