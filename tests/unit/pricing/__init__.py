"""Unit tests of advisor.pricing."""
