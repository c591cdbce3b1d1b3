"""The template files under services/notification/templates/, read once each and rendered by the
domain's wording rules (domain/templates.py)."""
from __future__ import annotations

from pathlib import Path

from services.notification.domain.templates import (LANGUAGES, TEMPLATE_CHANNELS, Rendered, TemplateError,
                                                    render_text, template_name)

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"


class Templates:
    def __init__(self, directory: Path = TEMPLATE_DIR):
        self.directory = Path(directory)
        self._cache: dict[str, str] = {}

    def files(self) -> list[Path]:
        return sorted(self.directory.glob("*.txt"))

    def source(self, template: str, language: str, channel: str) -> str:
        key = f"{template}.{language}.{channel.lower()}"
        if key not in self._cache:
            path = self.directory / f"{key}.txt"
            if not path.is_file():
                raise TemplateError(f"no template {key}")
            self._cache[key] = path.read_text(encoding="utf-8")
        return self._cache[key]

    def has(self, event_type: str, template: str | None = None) -> bool:
        name = template or template_name(event_type)
        return all((self.directory / f"{name}.{lang}.{ch.lower()}.txt").is_file()
                   for lang in LANGUAGES for ch in TEMPLATE_CHANNELS)

    def render(self, event_type: str, language: str, channel: str, fields: dict[str, str],
               template: str | None = None) -> Rendered:
        """Render `template` (default: the event type's own) with the event's fields."""
        name = template or template_name(event_type)
        return render_text(self.source(name, language, channel), name, event_type, language, channel, fields)
