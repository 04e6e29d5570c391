"""Command-line entry points: ``glimpse-api`` and ``glimpse-manage``."""
