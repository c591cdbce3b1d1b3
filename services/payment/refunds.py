"""`python -m services.payment.refunds list|mark-paid ...`: kept at the path operators and the
docs use; the command lives in entrypoints/cli.py."""
import sys

from services.payment.entrypoints.cli import refunds_main

if __name__ == "__main__":
    sys.exit(refunds_main())
