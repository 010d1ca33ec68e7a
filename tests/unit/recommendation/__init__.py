"""Unit tests of advisor.recommendation."""
