"""Unit tests of advisor.optimize."""
