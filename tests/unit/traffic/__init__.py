"""Unit tests of advisor.traffic."""
