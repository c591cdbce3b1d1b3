"""The background loops: delivery per channel, the safety sweep, reminders. Each pass is a use case;
a failing pass is logged and the loop goes on."""
from __future__ import annotations

import logging
import threading

from servicekit import idle, metrics

from services.notification.adapters import queue as due_queue
from services.notification.usecases.delivery import Delivery
from services.notification.usecases.reminders import Reminders



def delivery_loop(delivery: Delivery, channel: str, idle_s: float = 0.5, idle_max_s: float = 5.0):
    """Sends while there is work; idle, it polls its due queue ever more seldom (idle_s doubling up to
    idle_max_s), and a message queued by this process wakes it at once."""
    def run(stop: threading.Event) -> None:
        queue = due_queue.of(delivery.queues.db, channel).name
        waiting = idle.register(queue, idle_s, idle_max_s)
        try:
            while not stop.is_set():
                try:
                    acted = delivery.cycle(channel)
                    metrics.WORKER_LAST_RUN.labels(f"delivery:{channel}").set_to_current_time()
                except Exception:
                    logging.getLogger("notification.delivery").exception("delivery cycle for %s failed", channel)
                    acted = 0
                waiting.after(acted=bool(acted))
        finally:
            idle.unregister(queue, waiting)
    return run


def sweep_loop(delivery: Delivery, lease, interval_s: float = 300.0):
    """At start and then every interval, by one replica per interval (`lease`, a servicekit WindowLease;
    sweeping twice is harmless)."""
    def run(stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                if lease.held():
                    delivery.sweep()
                metrics.WORKER_LAST_RUN.labels("delivery:sweep").set_to_current_time()
            except Exception:
                logging.getLogger("notification.delivery").exception("notification sweep failed")
            stop.wait(interval_s)
    return run


def reminder_loop(reminders: Reminders, interval_s: float = 30.0):
    def run(stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                reminders.run_due()
                metrics.WORKER_LAST_RUN.labels("reminders").set_to_current_time()
            except Exception:
                logging.getLogger("notification.reminders").exception("reminder pass failed")
            stop.wait(interval_s)
    return run
