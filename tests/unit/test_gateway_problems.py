"""Problems in the applicant's language (issue 16): title and detail in Bahasa Indonesia or English by
Accept-Language, Indonesian by default, the type URI unchanged; every slug the code raises is in the
one catalogue; errors[].message in the same language, `field` unchanged."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from flask import Flask

from services.gateway.problem_texts import CATALOGUE, GENERIC_ERROR, indonesian_error
from services.gateway.problems import BASE, Problem, language, response

ROOT = Path(__file__).resolve().parents[2]
APP = Flask(__name__)


def answer(problem: Problem, accept: str | None = None) -> tuple[dict, dict]:
    headers = {"Accept-Language": accept} if accept is not None else {}
    with APP.test_request_context("/", headers=headers):
        resp = response(problem)
        return json.loads(resp.get_data()), dict(resp.headers)


@pytest.mark.parametrize("accept,expected", [
    (None, "id"), ("", "id"), ("id", "id"), ("id-ID,id;q=0.9", "id"), ("en", "en"), ("en-US,en;q=0.9", "en"),
    ("fr, en;q=0.5", "en"), ("en;q=0.5, id;q=0.8", "id"), ("fr", "id"), ("EN-gb", "en"), ("en;q=abc", "id")])
def test_language_from_accept_language(accept, expected):
    with APP.test_request_context("/", headers={"Accept-Language": accept} if accept is not None else {}):
        assert language() == expected


def test_indonesian_by_default_english_on_request_same_type():
    problem = Problem(409, "slot-full", "this slot has no seats left; choose another time or join the waitlist")
    ind, headers = answer(problem)
    assert ind["type"] == BASE + "slot-full" and ind["status"] == 409
    assert ind["title"] == "Jadwal penuh" and "Kuota jadwal ini sudah habis" in ind["detail"]
    assert headers["Content-Language"] == "id" and "Accept-Language" in headers["Vary"]
    eng, headers = answer(problem, "en-US,en;q=0.9")
    assert eng["type"] == ind["type"] and eng["title"] == "Slot full" and eng["detail"].startswith("this slot has")
    assert headers["Content-Language"] == "en"


def test_distinct_reasons_of_one_slug_keep_their_meaning_in_indonesian():
    once, _ = answer(Problem(409, "reschedule-not-allowed", "an appointment can be rescheduled only once"))
    late, _ = answer(Problem(409, "reschedule-not-allowed", "reschedule at the latest the day before the appointment"))
    assert "satu kali" in once["detail"] and "sehari sebelum" in late["detail"]


def test_unlisted_slug_gets_the_generic_words_of_its_status_and_keeps_field_errors():
    body, _ = answer(Problem(422, "some-new-rule", "x must be y", [{"field": "x", "message": "x must be y"}]))
    assert body["type"] == BASE + "some-new-rule" and body["title"] == "Data belum benar"
    assert body["errors"] == [{"field": "x", "message": GENERIC_ERROR}]  # an unknown message: generic words
    english, _ = answer(Problem(422, "some-new-rule", "x must be y", [{"field": "x", "message": "x must be y"}]), "en")
    assert english["errors"] == [{"field": "x", "message": "x must be y"}]


def test_every_slug_the_code_raises_is_in_the_catalogue():
    pattern = re.compile(r'(?:DomainError\(\s*"[a-z_]+",\s*|Problem\(\s*\d+,\s*|problem=)"([a-z0-9-]+)"')
    slugs = set()
    for path in list((ROOT / "services").rglob("*.py")) + list((ROOT / "libs").rglob("*.py")):
        slugs |= set(pattern.findall(path.read_text(encoding="utf-8")))
    assert len(slugs) > 60
    missing = sorted(slugs - set(CATALOGUE))
    assert not missing, f"add Indonesian words for {missing} to services/gateway/problem_texts.py"


# -- errors[].message in the applicant's language ---------------------------------------------------
def test_field_error_messages_are_indonesian_by_default_and_english_on_request():
    errors = [{"field": "nik", "message": "nik is required"},
              {"field": "validity_years", "message": "validity_years must be 5 or 10"},
              {"field": "lane", "message": "lane must be one of REGULAR, PRIORITY, OUTREACH"},
              {"field": "documents", "message": "BIRTH_CERTIFICATE or MARRIAGE_BOOK or DIPLOMA"},
              {"field": "x", "message": "a sentence nobody has translated yet"}]
    problem = Problem(422, "validation-error", "some fields are missing or invalid", errors)
    ind, headers = answer(problem)
    assert ind["type"] == BASE + "validation-error" and headers["Content-Language"] == "id"
    assert [e["field"] for e in ind["errors"]] == [e["field"] for e in errors]  # the API's names stay
    assert [e["message"] for e in ind["errors"]] == [
        "nik wajib diisi", "validity_years harus 5 atau 10",
        "lane harus salah satu dari: REGULAR, PRIORITY, OUTREACH",
        "BIRTH_CERTIFICATE atau MARRIAGE_BOOK atau DIPLOMA", GENERIC_ERROR]
    eng, _ = answer(problem, "en")
    assert eng["errors"] == errors and eng["type"] == ind["type"]
    assert problem.errors[0]["message"] == "nik is required"  # the raised problem is not changed


def test_the_gateways_own_validation_answers_in_indonesian():
    from services.gateway.validation import fields, iso_date
    with APP.test_request_context("/", headers={"Accept-Language": "id-ID"}):
        with pytest.raises(Problem) as err:
            fields({"date": 5, "people": 10 ** 30, "group": "week", "ok": True},
                   {"date": (str, True), "reason": (str, True), "people": (int, False),
                    "group": (str, True, ("day", "month")), "ok": (bool, True)})
        body = json.loads(response(err.value).get_data())
    assert body["errors"] == [
        {"field": "date", "message": "date harus berupa teks"}, {"field": "reason", "message": "reason wajib diisi"},
        {"field": "people", "message": "people harus antara -9223372036854775808 dan 9223372036854775807"},
        {"field": "group", "message": "group harus salah satu dari: day, month"}]
    with APP.test_request_context("/"):
        with pytest.raises(Problem) as err:
            iso_date("2026-02-30", "from")
        body = json.loads(response(err.value).get_data())
    assert body["errors"] == [{"field": "from", "message": "from harus berupa tanggal dengan format YYYY-MM-DD"}]


def test_every_literal_field_error_of_the_services_has_indonesian_words():
    """Every message written out in the code (not built from values) is known to the catalogue; the
    ones built from values are covered by their shapes below."""
    # a literal continued by `+` or by the next literal is built, not written out: left to the shapes
    literal = re.compile(r'"message":\s*"([^"{}]+)"(?!\s*[+"])|invalid\(\s*"([^"{}]+)",\s*"[a-z_]+"')
    messages = set()
    for path in list((ROOT / "services").rglob("*.py")) + list((ROOT / "libs").rglob("*.py")):
        if "services/web/" in path.as_posix():
            continue  # the web app words its own messages (services/web/messages.py)
        for found in literal.findall(path.read_text(encoding="utf-8")):
            messages.add(found[0] or found[1])
    messages -= {"message"}  # a complaint response's own text field, not an error
    assert len(messages) > 40
    untranslated = sorted(m for m in messages if indonesian_error(m) == GENERIC_ERROR)
    assert not untranslated, f"add Indonesian words for {untranslated} to services/gateway/problem_texts.py"


@pytest.mark.parametrize("message,expected", [
    ("full_name is required, at most 120 characters", "full_name wajib diisi, paling banyak 120 karakter"),
    ("override_reason must be at most 500 characters", "override_reason paling banyak 500 karakter"),
    ("message is at most 4000 characters", "message paling banyak 4000 karakter"),
    ("capacity must be an integer from 0 to 1000", "capacity harus antara 0 dan 1000"),
    ("seats must be 1 to 2000", "seats harus 1 sampai 2000"),
    ("finger must be 1-10", "finger harus 1-10"),
    ("limit must be 1-500", "limit harus 1-500"),
    ("an integer 1-500", "bilangan bulat 1 sampai 500"),
    ("1..100", "bilangan bulat 1 sampai 100"),
    ("15 digits", "15 digit angka"),
    ("at most 5 MB", "ukuran berkas paling besar 5 MB"),
    ("status must be one of OPEN, IN_PROGRESS", "status harus salah satu dari: OPEN, IN_PROGRESS"),
    ("priority_group must be null or one of ELDERLY, DISABLED",
     "priority_group harus kosong (null) atau salah satu dari: ELDERLY, DISABLED"),
    ("one of PENDING, PAID_OUT", "salah satu dari: PENDING, PAID_OUT"),
    ("CONFIRMED or REFUSED", "CONFIRMED atau REFUSED"),
    ("service_type must be REPLACEMENT_LOST", "service_type harus REPLACEMENT_LOST"),
    ("role must be OFFICER or SUPERVISOR", "role harus OFFICER atau SUPERVISOR"),
    ("2026-05-09 is not a working day of TBK", "2026-05-09 bukan hari kerja kantor TBK"),
    ("TBK has no slot starting at 07:30", "kantor TBK tidak punya jadwal yang mulai pukul 07:30"),
    ("TBK has no OUTREACH seats on 2026-05-12", "kantor TBK tidak punya kursi jalur OUTREACH pada 2026-05-12"),
    ("the range may span at most 366 days", "rentang tanggal paling panjang 366 hari"),
    ("a collective session is for 50 to 2000 people", "layanan kolektif untuk 50 sampai 2000 orang"),
    ("draw_at must be an RFC 3339 time with offset, e.g. 2026-05-04T09:00:00+07:00",
     "draw_at harus berupa waktu RFC 3339 dengan zona waktu (mis. 2026-05-04T09:00:00+07:00)"),
    ("paid_at must be an RFC 3339 timestamp with offset",
     "paid_at harus berupa waktu RFC 3339 dengan zona waktu (mis. 2026-05-04T09:00:00+07:00)"),
    ("NIK is invalid: 99 is not a province code", "NIK tidak sah: 99 bukan kode provinsi"),
    ("NIK is invalid: a NIK is exactly 16 digits", "NIK tidak sah: NIK terdiri dari tepat 16 angka"),
    ("email is not a valid address", "alamat email tidak sah"),
    ("officer_account_id is not a valid id", "officer_account_id bukan id yang sah"),
    ("birth_date is in the future", "birth_date tidak boleh di masa depan"),
    ("expected 950000", "seharusnya 950000"),
    ("KTP", "KTP"),
    ("the file is larger than 10485760 bytes", "ukuran berkas paling besar 10485760 bytes"),
    ("fingerprints must be scanned at 500 ppi; the file states 300",
     "sidik jari harus dipindai pada 500 ppi; berkas ini 300 ppi"),
    ("page starts at 1; page_size is 1 to 100", "page mulai dari 1; page_size 1 sampai 100"),
    ("q must be at least 3 characters", "q paling sedikit 3 karakter"),
    ("month must be YYYY-MM", "month harus berformat YYYY-MM"),
])
def test_messages_built_from_values_keep_the_values(message, expected):
    assert indonesian_error(message) == expected


def test_the_real_validators_messages_are_translated():
    """Messages as the domain rules build them (values in them), through the catalogue."""
    import datetime as dt

    from servicekit.errors import DomainError
    from services.booking.domain import rules
    cases = [("0000000000000000", dt.date(1990, 1, 1)), ("3171", dt.date(1990, 1, 1)),
             ("3171010101900000", dt.date(1990, 1, 1)), ("3171015501900001", dt.date(1991, 1, 1))]
    for nik, born in cases:
        with pytest.raises(DomainError) as err:
            rules.validate_nik(nik, born)
        for e in err.value.errors:
            assert indonesian_error(e["message"]) != GENERIC_ERROR, e
    with pytest.raises(DomainError) as err:
        rules.validate_registration("3171", "", "2999-01-01", "not-an-email", "12", "x", dt.date(2026, 1, 1))
    assert err.value.errors and all(indonesian_error(e["message"]) != GENERIC_ERROR for e in err.value.errors), \
        err.value.errors
