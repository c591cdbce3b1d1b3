"""gunicorn settings that belong to the code: metrics across worker processes."""


def child_exit(server, worker):
    # prometheus_client multiprocess mode: forget the metrics files of a dead worker's gauges.
    from prometheus_client import multiprocess
    multiprocess.mark_process_dead(worker.pid)
