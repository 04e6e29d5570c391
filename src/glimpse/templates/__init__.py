"""The built-in ``templates`` extension: server templates (see ``docs/templates.md``)."""
