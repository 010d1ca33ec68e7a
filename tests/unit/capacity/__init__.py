"""Unit tests of advisor.capacity."""
