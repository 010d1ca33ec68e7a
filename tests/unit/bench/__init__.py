"""Unit tests of advisor.bench."""
