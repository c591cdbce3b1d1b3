"""Problems in the applicant's language (issue 16): title and detail in Bahasa Indonesia or English by
Accept-Language, Indonesian by default, the type URI unchanged; every slug the code raises is in the
one catalogue."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from flask import Flask

from services.gateway.problem_texts import CATALOGUE
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
    assert body["errors"] == [{"field": "x", "message": "x must be y"}]


def test_every_slug_the_code_raises_is_in_the_catalogue():
    pattern = re.compile(r'(?:DomainError\(\s*"[a-z_]+",\s*|Problem\(\s*\d+,\s*|problem=)"([a-z0-9-]+)"')
    slugs = set()
    for path in list((ROOT / "services").rglob("*.py")) + list((ROOT / "libs").rglob("*.py")):
        slugs |= set(pattern.findall(path.read_text(encoding="utf-8")))
    assert len(slugs) > 60
    missing = sorted(slugs - set(CATALOGUE))
    assert not missing, f"add Indonesian words for {missing} to services/gateway/problem_texts.py"
