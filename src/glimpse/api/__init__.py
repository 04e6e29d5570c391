"""The HTTP edge: turns requests into service calls and results into responses."""
