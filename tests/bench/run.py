"""`make bench`: the benchmarks that exist so far, each printing its table."""
from __future__ import annotations

import sys

from tests.bench import biometrics_bench
from tests.bench import booking_rush


def main() -> int:
    print("== Biometrics: photo checks per image ==")
    biometrics_bench.main()
    from tests.bench import logins_bench
    print("\n== Accounts: sign-ins per second per core, scrypt before and after (BENCH_LOGIN_SECONDS per row) ==",
          flush=True)
    logins_bench.main([])
    print("\n== Booking: the release rush (BENCH_APPLICANTS, BENCH_OFFICES, BENCH_SEATS, ...) ==", flush=True)
    booking_rush.main([])
    from tests.bench import notification_bench
    print("\n== Notification: burst of BENCH_NOTIFY_EVENTS (10,000) events through SMTP and SMS sinks ==", flush=True)
    notification_bench.main()
    from tests.bench import web_pages
    print("\n== Web app: page weights (gzip, first page <= 100 KB, every page <= 200 KB) and Lighthouse (mobile) ==",
          flush=True)
    web_pages.main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
