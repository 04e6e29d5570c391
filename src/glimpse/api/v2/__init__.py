"""Images API v2 resources."""
