"""`python -m services.complaint.cli` (the operator's name for it): the CLI lives in entrypoints/cli.py."""
import sys

from services.complaint.entrypoints.cli import main

if __name__ == "__main__":
    sys.exit(main())
