"""`python -m services.booking.releases verify-draw <result.json | JSON text | ->`: re-run a published
ballot draw (domain/ballots.py) and say whether it holds."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from services.booking.domain.ballots import verify_result


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) != 2 or argv[0] != "verify-draw":
        print("usage: python -m services.booking.releases verify-draw <result.json | JSON text | ->",
              file=sys.stderr)
        return 2
    source = argv[1]
    if source == "-":
        text = sys.stdin.read()
    elif source.lstrip().startswith("{"):
        text = source
    else:
        text = Path(source).read_text()
    report = verify_result(json.loads(text))
    print(json.dumps({k: report[k] for k in ("ok", "problems", "entries", "winners")}, indent=2))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
