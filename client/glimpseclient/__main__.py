"""``python -m glimpseclient``: the ``glimpse`` command."""

from glimpseclient.cli import run

run()
