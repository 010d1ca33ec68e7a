"""Unit tests of the foundation: settings, errors, the store."""
