"""The messages waiting in the transactional outbox, for whatever relays them (the ``notifications`` extension).

Changes write their messages into the outbox in their own transaction (the
repositories do that); this service is how a relay, running outside the
service layer, takes them out again without holding the repository.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from glimpse.db.outbox import OutboxRepository
from glimpse.domain.events import ClaimedMessage


class OutboxMessages:
    """Claim, acknowledge and prune outbox messages (see :class:`glimpse.db.outbox.OutboxRepository`)."""

    def __init__(self, outbox: OutboxRepository) -> None:
        self._outbox = outbox

    def claim(self, relay_id: str, *, limit: int, lease: dt.timedelta) -> list[ClaimedMessage]:
        """Up to ``limit`` unsent messages, reserved for ``relay_id`` for ``lease``."""
        return self._outbox.claim(relay_id, limit=limit, lease=lease)

    def mark_sent(self, relay_id: str, ids: Sequence[int]) -> None:
        """The messages ``ids`` claimed by ``relay_id`` were published."""
        self._outbox.mark_sent(relay_id, ids)

    def release(self, relay_id: str, ids: Sequence[int]) -> None:
        """The messages ``ids`` claimed by ``relay_id`` were not published: another relay may take them."""
        self._outbox.release(relay_id, ids)

    def prune(self, *, sent_before: dt.datetime) -> int:
        """Forget the messages sent before ``sent_before``; how many."""
        return self._outbox.prune(sent_before=sent_before)
