"""Images named by the person at the command line: an ID, or a name that must match exactly one image."""

from __future__ import annotations

import re

from glimpseclient._client import Client
from glimpseclient._exceptions import ConfigurationError

_UUID = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")
#: Matches listed in an ambiguity error, at most.
_SHOWN = 10


def image_id(client: Client, reference: str) -> str:
    """The ID of the image ``reference`` names: itself when it is a UUID, else the one image of that name.

    A reference no image is named is taken as an ID (images may have IDs of
    other shapes; an unknown one gets the service's own 404, with its request id).
    Raises :class:`ConfigurationError` when several images have the name, listing them.
    """
    if _UUID.match(reference):
        return reference
    matches = [image.raw for image in client.images.list(name=reference, limit=_SHOWN + 1)]
    if not matches:
        return reference
    if len(matches) > 1:
        listed = "; ".join(f"{m.get('id')} ({m.get('status')}, owner {m.get('owner') or '-'})"
                           for m in matches[:_SHOWN])
        more = " and more" if len(matches) > _SHOWN else ""
        raise ConfigurationError(f"{len(matches) if not more else f'more than {_SHOWN}'} images are named "
                                 f"{reference!r}: {listed}{more}; give the ID instead")
    return str(matches[0]["id"])
