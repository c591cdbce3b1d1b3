"""`python -m services.booking.cli` (deploy scripts and tests run it by this name): the CLI lives in
entrypoints/cli.py."""
import sys

from services.booking.entrypoints.cli import main

if __name__ == "__main__":
    sys.exit(main())
