"""The built-in ``console`` extension: a web console served at ``/console/``.

Static HTML, CSS and vanilla JavaScript that call the public Images API from
the browser like any other client, plus one small server-side handler that
exchanges Keystone credentials for a token. On by default on nodes of role
``all``; see ``docs/console.md``.
"""
