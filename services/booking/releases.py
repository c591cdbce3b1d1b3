"""`python -m services.booking.releases verify-draw <result.json>` (the published ballot check names
this module): the ballots live in usecases/releases.py."""
import sys

from services.booking.entrypoints.verify_draw import main

if __name__ == "__main__":
    sys.exit(main())
