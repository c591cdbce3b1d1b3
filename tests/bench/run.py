"""`make bench`: the benchmarks that exist so far, each printing its table."""
from __future__ import annotations

import sys

from tests.bench import biometrics_bench


def main() -> int:
    print("== Biometrics: photo checks per image ==")
    biometrics_bench.main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
