"""Unit tests of advisor.cost."""
