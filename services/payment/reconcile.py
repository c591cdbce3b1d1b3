"""`python -m services.payment.reconcile statement.csv [--office TBK] [--json]`: kept at the path
operators and the docs use; the command lives in entrypoints/cli.py."""
import sys

from services.payment.entrypoints.cli import reconcile_main

if __name__ == "__main__":
    sys.exit(reconcile_main())
