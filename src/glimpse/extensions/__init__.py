"""Optional components: hook specifications, the plugin manager, and the built-in extensions."""
