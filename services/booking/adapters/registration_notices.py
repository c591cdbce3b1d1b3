"""Notices to an account's owner that someone tried to register with its NIK or email: a keyed
insert `<account>:<hour>` carrying its RegistrationAttempted event (outbox), so an owner is told at
most once an hour however often the attempt is repeated (no mail bombing through the register form)."""
from __future__ import annotations

from passport.v1 import accounts_pb2
from servicekit import events, outbox
from servicekit.clock import Clock, rfc3339


class RegistrationNotices:
    def __init__(self, db, clock: Clock):
        self.notices, self.clock = db["registration_notices"], clock

    def tell(self, account_id: str, matched: str) -> bool:
        """False when the owner was already told this hour."""
        now = self.clock.now()
        event = accounts_pb2.RegistrationAttempted(account_id=account_id, matched=matched, attempted_at=rfc3339(now))
        record = {"_id": f"{account_id}:{int(now.timestamp() // 3600)}", "account_id": account_id, "at": now}
        return outbox.insert(self.notices, record, [events.new_event("booking", account_id, event, self.clock)],
                             events.TOPICS["booking"], self.clock)
