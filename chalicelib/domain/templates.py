"""Offer templates: ``{first_name}``, ``{first_name|there}`` (with a fallback), nothing else.

Rendering is a regular-expression substitution from a fixed set of names, so a template can
never execute code, read attributes or reach anything but the values it is given. Values are
HTML-escaped when rendering HTML. Unknown names are refused when a campaign is saved.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping

PLACEHOLDERS = frozenset(
    {
        "first_name",
        "store_name",
        "product_name",
        "title",
        "discount",
        "deep_link",
        "code",
        "valid_until",
        "unsubscribe_url",
    }
)
_PATTERN = re.compile(r"\{([a-z_]+)(?:\|([^{}]*))?\}")


def unknown_placeholders(template: str) -> list[str]:
    return sorted({m.group(1) for m in _PATTERN.finditer(template)} - PLACEHOLDERS)


def render(template: str, values: Mapping[str, str | None], *, as_html: bool = False) -> str:
    def substitute(match: re.Match[str]) -> str:
        name, fallback = match.group(1), match.group(2) or ""
        value = values.get(name) if name in PLACEHOLDERS else None
        text = value if value else fallback
        return html.escape(text) if as_html else text

    return _PATTERN.sub(substitute, template)


def truncate(text: str, limit: int) -> str:
    """At most ``limit`` characters, cut on a word boundary with an ellipsis when needed."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0] if " " in text[: limit - 1] else text[: limit - 1]
    return cut + "…"
