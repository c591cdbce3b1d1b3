"""The web app's message catalogue: both languages complete, every key the pages use exists, and the
API's problem types and NIK errors read as sentences (services/web/messages.py)."""
from __future__ import annotations

import re
from pathlib import Path

from services.web import messages

WEB = Path(__file__).resolve().parents[2] / "services" / "web"


def test_both_languages_have_the_same_keys_and_placeholders():
    assert set(messages.ID) == set(messages.EN)
    for key in messages.ID:
        assert set(re.findall(r"\{(\w+)\}", messages.ID[key])) == set(re.findall(r"\{(\w+)\}", messages.EN[key])), key


def test_every_literal_key_used_by_the_pages_exists():
    used = set()
    for f in list((WEB / "templates").glob("*.html")) + [WEB / "app.py"]:
        used |= set(re.findall(r"""\bt\(\s*['"]([a-z0-9_.-]+)['"]""", f.read_text()))
        used |= set(re.findall(r"""flash\(\s*['"]([a-z0-9_.-]+)['"]""", f.read_text()))
    missing = {k for k in used if not k.endswith((".", "_")) and k not in messages.ID}  # prefixes: built keys
    assert used and not missing, sorted(missing)


def test_problems_and_nik_errors_are_sentences_in_each_language():
    assert messages.problem("id", "slot-full", 409).startswith("Jam ini baru saja penuh")
    assert messages.problem("en", "slot-full", 409).startswith("This time has just filled up")
    assert "(kode 418)" in messages.problem("id", "no-such-problem", 418)
    nik = "NIK does not match the birth date (digits 7-12 are DDMMYY, day + 40 for women)"
    assert "tidak cocok dengan tanggal lahir" in messages.field_error("id", "nik", nik)
    assert "does not match the date of birth" in messages.field_error("en", "nik", nik)
    assert "provinsi" in messages.field_error("id", "nik", "NIK is invalid: 99 is not a province code")
    assert messages.field_error("en", "nik", "NIK is invalid: a NIK is exactly 16 digits") == "The NIK must be 16 digits."
