"""Guessing passwords: after five wrong ones in a window the account answers 429 with Retry-After,
before any password is checked (the right one too), and other accounts are not affected."""
from __future__ import annotations


def test_the_sixth_password_guess_is_refused_without_being_checked(api):
    victim, bystander = api.register_applicant(), api.register_applicant()
    for _ in range(5):
        wrong = api.post("/v1/auth/token", {"email": victim["email"], "password": "Tebakan-Salah-2026"})
        assert wrong.status == 401, wrong.body
    sixth = api.post("/v1/auth/token", {"email": victim["email"].upper(), "password": victim["password"]})
    assert sixth.status == 429 and sixth.body["type"].endswith("/too-many-attempts"), sixth.body
    assert 1 <= int(sixth.headers["Retry-After"]) <= 15 * 60
    assert api.post("/v1/auth/token", {"email": bystander["email"], "password": bystander["password"]}).status == 200
