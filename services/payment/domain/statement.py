"""Bank statements as CSV (bank_reference,billing_code,amount,paid_at); no I/O, no metrics, so
the gateway can parse an uploaded statement with the same rules."""
from __future__ import annotations

import csv
import io

from servicekit.errors import DomainError

COLUMNS = ("bank_reference", "billing_code", "amount", "paid_at")


def parse_csv(text: str) -> list[dict]:
    """Statement lines; a line that cannot be read keeps its raw values and an `error`."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise DomainError("invalid", "validation-error", f"the statement lacks the columns {', '.join(missing)}")
    lines = []
    for row in reader:
        line = {c: (row.get(c) or "").strip() for c in COLUMNS}
        try:
            line["amount"] = int(line["amount"])
        except ValueError:
            line["error"] = "amount is not an integer"
        lines.append(line)
    return lines
