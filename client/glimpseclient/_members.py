"""``client.members``: sharing an image with other projects."""

from __future__ import annotations

from glimpseclient._models import Member
from glimpseclient._session import Session, path


class MembersAPI:
    def __init__(self, session: Session) -> None:
        self._session = session

    def list(self, image_id: str) -> list[Member]:
        body = self._session.json("GET", path("v2", "images", image_id, "members"))
        return [Member.from_dict(m) for m in body.get("members", [])]

    def get(self, image_id: str, member_id: str) -> Member:
        return Member.from_dict(self._session.json("GET", path("v2", "images", image_id, "members", member_id)))

    def create(self, image_id: str, member_id: str) -> Member:
        """Share the image with project ``member_id`` (status ``pending``)."""
        body = self._session.json("POST", path("v2", "images", image_id, "members"), json={"member": member_id})
        return Member.from_dict(body)

    def update(self, image_id: str, member_id: str, status: str) -> Member:
        """Set the member status (``accepted``, ``rejected``, ``pending``); done by the member project."""
        body = self._session.json("PUT", path("v2", "images", image_id, "members", member_id),
                                  json={"status": status})
        return Member.from_dict(body)

    def delete(self, image_id: str, member_id: str) -> None:
        self._session.send("DELETE", path("v2", "images", image_id, "members", member_id)).close()
