"""Unit tests of advisor.insights."""
