"""Sign-in cost: password verifications per second on one core, at the old scrypt cost and at the
configured (OWASP) one, so the cost of a rush of sign-ins is known. A sign-in is one scrypt
(services/booking/domain/passwords.py); a wrong password and an unknown email cost the same.

    PYTHONPATH=.:libs:gen/python .venv/bin/python -m tests.bench.logins_bench [--seconds 5]

Single-threaded, in process (the gRPC and HTTP hops around it are the same before and after, and
small next to the hash); on a shared machine run it when the machine is quiet."""
from __future__ import annotations

import argparse
import os
import time

from services.booking.domain import passwords

COSTS = [("before (scrypt N=2^14 r=8 p=1)", (2 ** 14, 8, 1)),
         ("now, default (OWASP: N=2^15 r=8 p=3)", passwords.OWASP),
         ("OWASP alternative (N=2^17 r=8 p=1)", (2 ** 17, 8, 1))]
RUSH = 10_000  # sign-ins of a release rush (every applicant signs in once)


def per_core(cost: tuple[int, int, int], seconds: float) -> float:
    before = passwords.cost()
    passwords.configure(*cost)
    try:
        stored = passwords.hash_password("Sandi-Rahasia-2026")
        done, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds or done < 3:
            passwords.verify_password("Sandi-Rahasia-2026", stored)
            done += 1
        return done / (time.perf_counter() - start)
    finally:
        passwords.configure(*before)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--seconds", type=float, default=float(os.environ.get("BENCH_LOGIN_SECONDS", 5)))
    args = p.parse_args(argv if argv is not None else [])
    print(f"{'scrypt cost':<40} {'memory/hash':>11} {'logins/s/core':>14} {'core-min for ' + str(RUSH):>18}")
    baseline = None
    for label, cost in COSTS:
        rate = per_core(cost, args.seconds)
        baseline = baseline or rate
        n, r, _p = cost
        print(f"{label:<40} {128 * r * n // 2 ** 20:>8} MiB {rate:>14.1f} {RUSH / rate / 60:>18.1f}"
              f"   ({baseline / rate:.1f}x the old cost)", flush=True)
    print(f"(load average now {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores: a busy machine lowers every row alike)")


if __name__ == "__main__":
    import sys
    main(sys.argv[1:])
