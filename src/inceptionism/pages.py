"""Static HTML pages the commands write (a channel gallery, a concepts report): one document
head and one dark look, readable offline from the folder they are in."""

from __future__ import annotations

__all__ = ["static_page"]

_LOOK = "body { font: 14px system-ui, sans-serif; background: #111; color: #ddd; margin: 1rem; }"


def static_page(title: str, style: str, body: str) -> str:
    """A whole page: ``title`` (HTML-escaped already) as its title and first heading, ``style``
    (CSS) after the common look, then ``body``."""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
{_LOOK}
{style.strip()}
</style></head><body>
<h1>{title}</h1>
{body.strip()}
</body></html>
"""
