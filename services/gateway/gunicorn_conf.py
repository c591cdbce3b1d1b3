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


# Threads per worker: the load shedder's in-flight and waiting places (GATEWAY_MAX_INFLIGHT +
# GATEWAY_MAX_WAITING). More threads did not answer more: each is one more contender for the
# worker's GIL (32 threads booked 70 seats in a 7x overload where 8 booked 162-173, 12 booked 122).
# The excess waits in gunicorn's queue, stamped on arrival (worker.py), and the front door refuses
# it at once with 503 + Retry-After after GATEWAY_MAX_QUEUE_WAIT_MS.
import os  # noqa: E402

threads = int(os.environ.get("GATEWAY_THREADS", "8"))

# Idle keep-alive connections are closed after this long (gunicorn's default is 2 s). A client that
# reuses a connection just as the server closes it gets no answer at all (a "dropped connection":
# nothing on the wire says whether the request was seen). With 2 s, a client that waits Retry-After
# (1-2 s) and is then descheduled for a moment on a busy host hits that race; 20 s moves it past any
# Retry-After the gateway gives. Idle connections cost a file descriptor, not a thread (gthread).
keepalive = int(os.environ.get("GATEWAY_KEEPALIVE_SECONDS", "20"))

# gunicorn's own lines (master and worker start/stop, timeouts) as JSON, like the app's lines; its
# access log stays off: the app writes one (services/gateway/accesslog.py). Any logconfig_dict makes
# gunicorn build and log an access record for every request (its "access log enabled"), which was
# 11% of a worker's Python time answering a 7x overload's refusals (py-spy --gil): the logger class
# below skips it.
from gunicorn.glogging import Logger  # noqa: E402


class WithoutAccessLog(Logger):
    def access(self, resp, req, environ, request_time):
        return None


logger_class = WithoutAccessLog

logconfig_dict = {
    "version": 1, "disable_existing_loggers": False,
    "formatters": {"json": {"()": "servicekit.log.JsonFormatter", "service": "gateway"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"}},
    "loggers": {"gunicorn.error": {"level": "INFO", "handlers": ["console"], "propagate": False}},
}
