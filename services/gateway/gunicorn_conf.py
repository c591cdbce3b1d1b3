"""gunicorn settings that belong to the code: metrics across worker processes."""


def when_ready(server):
    # /metrics on its own port (METRICS_PORT), served by the master, not the request workers: scrapes
    # and the liveness probe never queue behind requests, and the public port carries only the API.
    import os
    port = os.environ.get("METRICS_PORT")
    if port and os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import CollectorRegistry, multiprocess, start_http_server
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        start_http_server(int(port), registry=registry)


def child_exit(server, worker):
    # prometheus_client multiprocess mode: forget the metrics files of a dead worker's gauges.
    from prometheus_client import multiprocess
    multiprocess.mark_process_dead(worker.pid)


# Threads per worker, well above the load shedder's in-flight limit (GATEWAY_MAX_INFLIGHT): the
# spare threads answer an overload's excess with 503 + Retry-After at once, instead of letting it
# wait unseen in gunicorn's connection queue past the client's 2 s budget.
import os  # noqa: E402

threads = int(os.environ.get("GATEWAY_THREADS", "32"))

# Idle keep-alive connections are closed after this long (gunicorn's default is 2 s). A client that
# reuses a connection just as the server closes it gets no answer at all (a "dropped connection":
# nothing on the wire says whether the request was seen). With 2 s, a client that waits Retry-After
# (1-2 s) and is then descheduled for a moment on a busy host hits that race; 20 s moves it past any
# Retry-After the gateway gives. Idle connections cost a file descriptor, not a thread (gthread).
keepalive = int(os.environ.get("GATEWAY_KEEPALIVE_SECONDS", "20"))

# gunicorn's own lines (master and worker start/stop, timeouts) as JSON, like the app's lines; its
# access log stays off: the app writes one (services/gateway/accesslog.py).
logconfig_dict = {
    "version": 1, "disable_existing_loggers": False,
    "formatters": {"json": {"()": "servicekit.log.JsonFormatter", "service": "gateway"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"}},
    "loggers": {"gunicorn.error": {"level": "INFO", "handlers": ["console"], "propagate": False}},
}
