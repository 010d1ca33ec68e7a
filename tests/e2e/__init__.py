"""End-to-end tests: the product as a user runs it (the CLI, the console script and its signals, the
wheel, the notebook, the browser)."""
