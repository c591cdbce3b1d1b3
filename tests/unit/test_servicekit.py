"""The shared library's pure parts: envelope, redaction, errors, problem mapping."""
from __future__ import annotations

import json
import logging

import grpc
import pytest

from passport.v1 import booking_pb2
from servicekit import log
from servicekit.clock import FixedClock, parse_rfc3339
from servicekit.events import MalformedEvent, decode, new_event
from services.gateway.problems import from_rpc_error


def test_envelope_round_trip_keeps_type_key_and_correlation():
    token = log.correlation_id.set("req-1")
    try:
        env = new_event("booking", "app_1", booking_pb2.ApplicationCreated(application_id="app_1"),
                        FixedClock(parse_rfc3339("2026-11-27T10:00:00+07:00")))
    finally:
        log.correlation_id.reset(token)
    decoded, payload = decode(env.SerializeToString())
    assert decoded.event_type == "ApplicationCreated" and decoded.aggregate_id == "app_1"
    assert decoded.correlation_id == "req-1" and decoded.producer == "booking"
    assert payload.application_id == "app_1"


@pytest.mark.parametrize("raw", [b"", b"\xff\xff\xff", b"\x08\x96\x01"])
def test_garbage_is_a_malformed_event(raw):
    with pytest.raises(MalformedEvent):
        decode(raw)


def test_logs_never_carry_nik_email_or_phone(capsys):
    log.setup("unit")
    logging.getLogger("unit").info("user 3171014506950003 mail siti@example.id phone 081298765432")
    log.event(logging.getLogger("unit"), "registered", nik="3171014506950003", email="a@b.id", office="TBK")
    out = capsys.readouterr().out
    assert "3171014506950003" not in out and "siti@example.id" not in out and "081298765432" not in out
    lines = [json.loads(line) for line in out.splitlines()]
    assert lines[0]["msg"] == "user 3171********0003 mail <email> phone <phone>"
    assert lines[1]["nik"] == "<redacted>" and lines[1]["office"] == "TBK"
    assert log.mask_nik("2171011205900001") == "2171********0001"


class _FakeRpcError(grpc.RpcError):
    def __init__(self, code, details, metadata=()):
        self._code, self._details, self._metadata = code, details, metadata

    def code(self): return self._code
    def details(self): return self._details
    def trailing_metadata(self): return self._metadata


def test_service_refusals_map_to_problem_details():
    p = from_rpc_error(_FakeRpcError(grpc.StatusCode.FAILED_PRECONDITION, "no seats",
                                     (("x-problem-type", "slot-full"),)))
    assert (p.status, p.slug, p.detail) == (409, "slot-full", "no seats")
    p = from_rpc_error(_FakeRpcError(grpc.StatusCode.UNAVAILABLE, "connect failed"))
    assert p.status == 503 and p.retry_after == 2
    p = from_rpc_error(_FakeRpcError(grpc.StatusCode.INTERNAL, "Traceback ... secret"))
    assert p.status == 500 and "secret" not in p.detail


def test_a_call_cut_by_a_stopping_server_is_a_503_with_retry_after():
    # grpcio answers CANCELLED to a call in flight when its server stops (a pod rolled or deleted):
    # the cluster test's rollout saw three 500s from it
    p = from_rpc_error(_FakeRpcError(grpc.StatusCode.CANCELLED, "CANCELLED"))
    assert (p.status, p.slug, p.retry_after) == (503, "service-unavailable", 2)
    assert p.detail == "a service is temporarily unavailable; please retry shortly"


def test_a_500_from_a_service_is_logged_with_its_code_only(caplog):
    with caplog.at_level("ERROR", logger="gateway.problems"):
        from_rpc_error(_FakeRpcError(grpc.StatusCode.DATA_LOSS, "nik 3171010101010001"))
    record, = caplog.records
    assert record.fields == {"grpc_code": "DATA_LOSS"} and "3171" not in record.getMessage()


def test_ttl_cache_computes_once_per_key_while_fresh_even_under_parallel_callers():
    import threading
    import time as _time
    from servicekit.cache import TtlCache
    now = [100.0]
    cache = TtlCache(ttl_s=1.0, clock=lambda: now[0])
    calls = []

    def slow_listing():
        calls.append(1)
        _time.sleep(0.05)  # parallel callers arrive while it runs
        return len(calls)

    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.get(("TBK", "2026-03-02"), slow_listing)))
               for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [1] * 20 and len(calls) == 1
    now[0] += 0.9
    assert cache.get(("TBK", "2026-03-02"), slow_listing) == 1  # still fresh
    now[0] += 0.2
    assert cache.get(("TBK", "2026-03-02"), slow_listing) == 2  # expired: computed again
    cache.invalidate(("TBK", "2026-03-02"))
    assert cache.get(("TBK", "2026-03-02"), slow_listing) == 3


def test_ttl_cache_peek_gives_the_expired_value_only_while_its_successor_is_being_computed():
    import threading
    from servicekit.cache import TtlCache
    now = [100.0]
    cache = TtlCache(ttl_s=3.0, clock=lambda: now[0])
    cache.get("day", lambda: "old")
    now[0] += 4.0  # expired one second ago
    assert cache.peek("day") is None and cache.peek("day", stale_while_computing_s=3.0) is None  # nobody computing
    computing, finish = threading.Event(), threading.Event()

    def refresh():
        computing.set()
        finish.wait(5)
        return "new"
    t = threading.Thread(target=lambda: cache.get("day", refresh))
    t.start()
    assert computing.wait(5)
    assert cache.peek("day") is None
    assert cache.peek("day", stale_while_computing_s=3.0) == "old"  # the others need not wait
    assert cache.peek("day", stale_while_computing_s=0.5) is None  # too old
    finish.set()
    t.join(5)
    assert cache.peek("day") == "new"


def test_ttl_cache_does_not_keep_failures_and_zero_ttl_means_no_cache():
    from servicekit.cache import TtlCache
    cache = TtlCache(ttl_s=5.0)
    with pytest.raises(RuntimeError):
        cache.get("k", lambda: (_ for _ in ()).throw(RuntimeError("store down")))
    assert cache.get("k", lambda: "fresh") == "fresh"
    calls = []
    off = TtlCache(ttl_s=0)
    off.get("k", lambda: calls.append(1))
    off.get("k", lambda: calls.append(1))
    assert len(calls) == 2
