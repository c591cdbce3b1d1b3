"""Rule violations of the domain; entrypoints turn them into the shared problem errors."""
from __future__ import annotations


class InvalidInput(ValueError):
    """A request asks for something the rules do not allow (a 4xx, never a 5xx)."""

    def __init__(self, detail: str, field: str = ""):
        super().__init__(detail)
        self.detail, self.field = detail, field
