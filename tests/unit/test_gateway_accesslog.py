"""The gateway's access log: a line per answer, and "come back later" answers counted into one line
per second (an overload's thousands of refusals must not cost a log line each)."""
from __future__ import annotations

import logging

from flask import Flask, Response

from services.gateway import accesslog


def test_come_back_later_answers_are_summarized_once_a_second_and_others_logged_each(caplog, monkeypatch):
    now = [100.0]
    app = Flask(__name__)

    @app.get("/v1/busy")
    def busy():
        return Response("{}", 503, {"Retry-After": "1"})

    @app.get("/v1/ok")
    def ok():
        return "fine"

    @app.get("/v1/broken")
    def broken():
        return Response("{}", 503)  # no Retry-After: an error to see, not a refusal to count

    real = accesslog.Summary
    monkeypatch.setattr(accesslog, "Summary", lambda: real(clock=lambda: now[0]))
    accesslog.install(app)
    client = app.test_client()
    with caplog.at_level(logging.INFO, logger="gateway.access"):
        for _ in range(50):
            assert client.get("/v1/busy").status_code == 503
        client.get("/v1/ok")
        client.get("/v1/broken")
        assert [r.fields["status"] for r in caplog.records if r.msg == "access"] == [200, 503]
        assert not [r for r in caplog.records if r.msg == "access summary"]  # not a second yet
        now[0] += 1.0
        client.get("/v1/busy")
    summaries = [r.fields for r in caplog.records if r.msg == "access summary"]
    assert summaries == [{"seconds": 1.0, "answers": [
        {"method": "GET", "route": "/v1/busy", "status": 503, "count": 51}]}]
