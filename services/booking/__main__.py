"""Composition root of the booking service: `python -m services.booking`."""
from __future__ import annotations

import logging

from passport.v1 import accounts_pb2_grpc, booking_pb2_grpc, office_pb2_grpc, payment_pb2_grpc, staff_pb2_grpc
from servicekit import grpcclient, log, mongo
from servicekit.clock import Clock
from servicekit.config import GRPC_PORTS, METRICS_PORTS, env, env_float, env_int, service_address
from servicekit.grpcserver import ServiceRunner, every
from servicekit.lease import SWEEPER_WINDOW_S, WindowLease
from servicekit.consumer import EventConsumer
from servicekit.kafka_access import CONSUMES
from servicekit.crypto import key_ring, lookup_keys
from servicekit.outbox import OutboxRelay

from services.booking import metrics as booking_metrics
from services.booking.adapters import audit as audit_log
from services.booking.adapters.accounts import Accounts
from services.booking.adapters.registration_notices import RegistrationNotices
from services.booking.adapters.second_factor import SecondFactors
from services.booking.domain import passwords
from services.booking.domain import calendar
from services.booking.entrypoints import kafka_handlers
from services.booking.entrypoints.counter_api import CounterServicer
from services.booking.entrypoints.grpc_api import AccountServicer, BookingServicer
from services.booking.entrypoints.office_api import OfficeServicer
from services.booking.usecases import releases, statistics
from services.booking.usecases.counter import Counter
from services.booking.usecases.facade import Applications
from services.booking.usecases.login import Login
from services.booking.usecases.registration import Registration
from services.booking.usecases.outreach import Outreach
from services.booking.usecases.waitlist import Waitlist
from services.booking.entrypoints.staff_api import StaffServicer
from services.booking.usecases.staff import Staff

NAME = "booking"


def main() -> None:
    log.setup(NAME)
    clock = Clock()
    db = mongo.database(NAME)
    payment = payment_pb2_grpc.PaymentServiceStub(
        grpcclient.channel(service_address("payment", GRPC_PORTS["payment"]), deadline_s=3))
    keys = key_ring("BOOKING_ENCRYPTION_KEYS")  # documents and the NIK, email and phone of accounts
    accounts = Accounts(db, clock, keys, lookup_keys("BOOKING_LOOKUP_KEYS"))
    passwords.configure(env_int("PASSWORD_SCRYPT_N", passwords.OWASP[0]), env_int("PASSWORD_SCRYPT_R", passwords.OWASP[1]),
                        env_int("PASSWORD_SCRYPT_P", passwords.OWASP[2]), env_int("PASSWORD_HASH_CONCURRENCY", 4))
    n, r, p = passwords.cost()  # said at every start, as a warning when below OWASP (a test stack's choice)
    log.event(logging.getLogger(NAME), "password hashing cost", logging.WARNING if passwords.below_owasp() else logging.INFO,
              scrypt_n=n, scrypt_r=r, scrypt_p=p, below_owasp=passwords.below_owasp())
    factors = SecondFactors(db, key_ring("TOTP_ENCRYPTION_KEYS"))
    factors.ensure_indexes()
    login = Login(accounts, factors, clock, env("STAFF_TOTP", "required"), codes_clock=Clock(0))
    audit = audit_log.AuditLog(db, clock)
    policy = releases.ReleasePolicy(db, calendar.load(), clock)
    apps = Applications(db, calendar.load(), clock, payment,
                        hold_minutes=env_int("HOLD_MINUTES", 120),
                        slot_horizon_days=env_int("SLOT_HORIZON_DAYS", 30),
                        release_gate=policy.gate, on_staff_action=audit.append,
                        slot_list_cache_s=env_float("SLOT_LIST_CACHE_SECONDS", 2.0),
                        seat_hint_s=env_float("SEAT_HINT_SECONDS", 60.0),
                        free_seat_hint_s=env_float("FREE_SEAT_HINT_SECONDS", 5.0),
                        booking_lead_minutes=env_int("BOOKING_LEAD_MINUTES", 30), document_keys=keys)
    waitlist = Waitlist(apps, clock)
    ballots = releases.Ballots(db, apps, policy, audit, clock, waitlist)
    outreach = Outreach(db, apps, clock, keys)
    apps.outreach_gate = outreach.admits
    stats = statistics.Statistics(db, apps.calendar)
    for part in (audit, ballots, stats, outreach, waitlist):
        part.ensure_indexes()
    accounts.ensure_indexes()
    apps.ensure_indexes()
    apps.ensure_slots()

    runner = ServiceRunner(NAME, env_int("GRPC_PORT", GRPC_PORTS[NAME]), env_int("METRICS_PORT", METRICS_PORTS[NAME]))
    runner.add(booking_pb2_grpc.add_BookingServiceServicer_to_server, BookingServicer(apps, accounts, waitlist),
               "passport.v1.BookingService")
    runner.add(accounts_pb2_grpc.add_AccountServiceServicer_to_server, AccountServicer(accounts, login, Registration(accounts, RegistrationNotices(db, clock))),
               "passport.v1.AccountService")
    runner.add(staff_pb2_grpc.add_StaffServiceServicer_to_server, StaffServicer(Staff(accounts, audit, clock, factors)),
               "passport.v1.StaffService")
    runner.add(booking_pb2_grpc.add_CounterServiceServicer_to_server,
               CounterServicer(Counter(db, apps, accounts, clock)), "passport.v1.CounterService")
    runner.add(office_pb2_grpc.add_OfficeServiceServicer_to_server, OfficeServicer(audit, stats, ballots, apps.calendar, outreach),
               "passport.v1.OfficeService")
    runner.add_worker("ballot_draw", every(2, "ballot_draw", ballots.run_due))
    relay = OutboxRelay(db, NAME, clock)
    runner.add_worker("outbox_relay", relay.run)
    runner.add_worker("slot_calendar", every(3600, "slot_calendar", apps.ensure_slots))
    # Sweepers that read every held seat or open application, in one replica at a time (each decision
    # is still a keyed insert or a conditional delete, safe if two ran). Seats of interrupted bookings
    # come back within seconds: the reaper runs every SEAT_REAPER_INTERVAL_SECONDS.
    reap_every = env_int("SEAT_REAPER_INTERVAL_SECONDS", 5)
    reaper_lease = WindowLease(db, "seat-reaper", max(reap_every, SWEEPER_WINDOW_S), clock)
    runner.add_worker("seat_reaper", every(reap_every, "seat_reaper", reaper_lease.only_holder(apps.reap_seats)))
    # The quota gauges count every open slot's seats (a scan on FerretDB, ~150 ms per office): one
    # replica a minute exports them and the others export none, so sums over replicas stay right.
    quota_every = env_int("QUOTA_METRICS_INTERVAL_SECONDS", 60)
    quota_lease, quota = WindowLease(db, "quota-metrics", quota_every, clock), booking_metrics.QuotaGauges(apps)
    runner.add_worker("quota_metrics", every(quota_every, "quota_metrics",
                                             lambda: quota.refresh() if quota_lease.held() else quota.forget()))
    runner.add_worker("no_show_sweeper", every(60, "no_show_sweeper",
                                               WindowLease(db, "no-show-sweeper", 60, clock).only_holder(apps.mark_no_shows)))
    runner.add_worker("waitlist_offers", every(env_int("WAITLIST_INTERVAL_SECONDS", 5), "waitlist_offers",
                                               waitlist.offer_freed_seats))
    consumer = EventConsumer(db, "booking", list(CONSUMES["booking"]), kafka_handlers.handlers(apps, audit))
    runner.add_worker("consumer", consumer.run)
    runner.run()


if __name__ == "__main__":
    main()
