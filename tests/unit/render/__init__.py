"""Unit tests of advisor.render."""
