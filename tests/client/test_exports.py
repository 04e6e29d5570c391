"""The public surface of glimpseclient is exactly what ``__all__`` lists."""

from __future__ import annotations

import glimpseclient


def test_all_lists_every_public_name_and_only_those() -> None:
    public = {name for name in dir(glimpseclient) if not name.startswith("_")} - {"cli"}
    assert set(glimpseclient.__all__) - {"__version__"} == public


def test_exported_members_say_they_belong_to_glimpseclient() -> None:
    for name in glimpseclient.__all__:
        member = getattr(glimpseclient, name)
        if isinstance(member, type):
            assert member.__module__.startswith("glimpseclient"), name


def test_every_error_derives_from_glimpse_client_error() -> None:
    errors = [getattr(glimpseclient, n) for n in glimpseclient.__all__ if n.endswith(("Error", "Mismatch"))]
    errors += [glimpseclient.NotFound, glimpseclient.Timeout, glimpseclient.ConnectionLost, glimpseclient.NoImageData]
    assert all(issubclass(e, glimpseclient.GlimpseClientError) for e in errors)
