"""Unit tests: one package at a time, in-process, no servers (tests/unit/<package>/)."""
