"""The two ways the stand-in refuses what it is given, instead of guessing."""

from __future__ import annotations


class Unsupported(Exception):
    """The input uses something this stand-in does not model (a test must not rely on it)."""


class InvalidConfiguration(Exception):
    """The API server would refuse to store this webhook configuration."""
