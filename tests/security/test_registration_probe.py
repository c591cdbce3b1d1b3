"""Probing whether a NIK or email is registered: POST /v1/accounts still answers 409 nik-taken /
email-taken (the public contract), but the owner of the account is told by email, at most once an
hour however often the probe is repeated, and the message names neither the prober's data nor the NIK."""
from __future__ import annotations

import time

from tests.integration.helpers import mails_to, wait_for


def test_the_owner_is_told_once_when_someone_registers_with_their_nik(api, stack):
    owner = api.register_applicant()
    probe = {"nik": owner["nik"], "full_name": "Orang Lain", "birth_date": owner["birth_date"],
             "email": f"probe-{time.time_ns()}@example.id", "phone": "081299999999", "password": "Sandi-Rahasia-2026"}
    for _ in range(3):
        taken = api.post("/v1/accounts", probe)
        assert taken.status == 409 and taken.body["type"].endswith("/nik-taken"), taken.body
    notices = wait_for(lambda: [m for m in mails_to(stack, owner["email"]) if "mendaftar" in m["subject"]], 90)
    assert len(notices) == 1 and "NIK Anda" in notices[0]["body"]
    assert owner["nik"] not in notices[0]["body"] and probe["email"] not in notices[0]["body"]
    time.sleep(5)  # the repeats of the same hour are not told again
    assert len([m for m in mails_to(stack, owner["email"]) if "mendaftar" in m["subject"]]) == 1
    assert not mails_to(stack, probe["email"]), "the prober's address gets nothing"
