"""Persistence: engine set-up, table definitions, repositories and migrations."""
