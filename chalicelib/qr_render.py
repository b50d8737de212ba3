"""QR code images and print sheets, drawn with segno (pure Python, imported only when drawing:
every Lambda function imports app.py, and only admin image routes and the CLI need it).

The symbol is kept small so a shelf label scans from a distance: the scheme and host (case-
insensitive) and the token (uppercase base32) are encoded in QR alphanumeric mode, and only
the case-sensitive path (``/q/``) in byte mode. For ``http://127.0.0.1:8000/q/{token}`` or a
short custom domain that is a 29 x 29 module symbol (version 3) at error correction M, where
plain byte mode needs 33 x 33. Readers decode ``HTTPS://SHOP.EXAMPLE.COM/q/TOKEN``, which every
browser opens as the lowercase URL. ``compact=False`` encodes the URL exactly as given.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

ERROR_LEVELS = ("L", "M", "Q", "H")
FORMATS = ("png", "svg")
_ALNUM = re.compile(r"^[0-9A-Z $%*+\-./:]+$")
_SPLIT = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*://[^/?#]+)(/[^?#]*/)([A-Z2-7]{22})$")


@dataclass(frozen=True)
class ImageOptions:
    error: str = "M"  # L, M, Q or H: how much of the symbol may be damaged and still scan
    scale: int = 10  # pixels (PNG) or user units (SVG) per module
    border: int = 4  # quiet zone in modules (the QR spec asks for 4)
    compact: bool = True


def _segments(url: str) -> list[tuple[str, int]] | None:
    from segno import consts

    match = _SPLIT.match(url)
    if not match:
        return None
    origin, path, token = match.group(1).upper(), match.group(2), match.group(3)
    if not _ALNUM.match(origin):
        return None
    return [(origin, consts.MODE_ALPHANUMERIC), (path, consts.MODE_BYTE), (token, consts.MODE_ALPHANUMERIC)]


def symbol(url: str, options: ImageOptions = ImageOptions()) -> Any:
    """The smallest QR code (segno.QRCode) for ``url`` at the requested error level."""
    import segno

    make: Any = segno.make  # typed for str only; it takes a list of (text, mode) segments too
    error = options.error.upper()
    plain = make(url, error=error, micro=False, boost_error=False)
    segments = _segments(url) if options.compact else None
    if segments is None:
        return plain
    compact = make(segments, error=error, micro=False, boost_error=False)
    return compact if int(compact.version) < int(plain.version) else plain


def png(url: str, options: ImageOptions = ImageOptions()) -> bytes:
    import io

    buffer = io.BytesIO()
    symbol(url, options).save(buffer, kind="png", scale=options.scale, border=options.border)
    return buffer.getvalue()


def svg(url: str, options: ImageOptions = ImageOptions(), title: str | None = None) -> str:
    import io

    buffer = io.BytesIO()
    symbol(url, options).save(
        buffer,
        kind="svg",
        scale=options.scale,
        border=options.border,
        title=title,
        xmldecl=True,
        svgns=True,
        nl=True,
    )
    return buffer.getvalue().decode()


@dataclass(frozen=True)
class SheetCode:
    qr_id: str
    url: str
    placement: str | None
    product_id: str | None
    destination: str


def _inline_svg(url: str, error: str) -> str:
    """An <svg> element with a viewBox and no size (no XML declaration): it scales to whatever
    size CSS or the enclosing SVG gives it."""
    qr = symbol(url, ImageOptions(error=error))
    return str(qr.svg_inline(scale=1, border=4, omitsize=True, svgclass="qr", lineclass=None))


def sheet_html(store_id: str, store_name: str | None, codes: list[SheetCode], error: str = "Q") -> str:
    """One printable A4 page (more if needed) with every code's symbol and its label."""
    title = f"QR codes: {store_name or store_id}"
    cards = []
    for code in codes:
        label = html.escape(code.placement or "(no placement)")
        product = f"<div class=product>{html.escape(code.product_id)}</div>" if code.product_id else ""
        cards.append(
            f"<figure class=card>{_inline_svg(code.url, error)}"
            f"<figcaption><div class=placement>{label}</div>{product}"
            f"<div class=meta>{html.escape(code.qr_id)} &middot; {html.escape(store_id)}</div>"
            f"<div class=url>{html.escape(code.url)}</div></figcaption></figure>"
        )
    empty = "<p>No active codes for this store.</p>" if not codes else ""
    return f"""<!doctype html><html lang="en"><meta charset="utf-8">
<title>{html.escape(title)}</title>
<style>
@page {{ size: A4; margin: 12mm; }}
body {{ font-family: system-ui, sans-serif; margin: 0; color: #000; }}
h1 {{ font-size: 14pt; margin: 0 0 6mm; }}
.grid {{ display: grid; grid-template-columns: repeat(3, 1fr); gap: 6mm; }}
.card {{ margin: 0; padding: 3mm; border: 0.3mm dashed #999; break-inside: avoid; text-align: center; }}
.card svg.qr {{ width: 40mm; height: 40mm; display: block; margin: 0 auto; }}
.placement {{ font-size: 12pt; font-weight: 600; margin-top: 2mm; }}
.product {{ font-size: 9pt; }}
.meta, .url {{ font-size: 7pt; color: #444; word-break: break-all; }}
</style>
<h1>{html.escape(title)} ({len(codes)} code{"s" if len(codes) != 1 else ""})</h1>
<div class=grid>{"".join(cards)}</div>{empty}
</html>
"""


def sheet_svg(store_id: str, store_name: str | None, codes: list[SheetCode], error: str = "Q") -> str:
    """The same sheet as one SVG (A4 width, 3 codes per row; taller if there are many)."""
    columns, cell_w, cell_h, margin, size = 3, 62.0, 68.0, 12.0, 40.0
    rows = max(1, -(-len(codes) // columns))
    height = max(297.0, margin * 2 + 10 + rows * cell_h)
    title = f"QR codes: {store_name or store_id}"
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="210mm" height="{height:g}mm" '
        f'viewBox="0 0 210 {height:g}" font-family="sans-serif">',
        f'<text x="{margin:g}" y="{margin + 4:g}" font-size="5">{html.escape(title)}</text>',
    ]
    for i, code in enumerate(codes):
        x = margin + (i % columns) * cell_w
        y = margin + 10 + (i // columns) * cell_h
        inner = _inline_svg(code.url, error)
        inner = inner.replace("<svg ", f'<svg x="{x + (cell_w - size) / 2:g}" y="{y:g}" width="{size:g}" '
                              f'height="{size:g}" ', 1)  # fmt: skip
        center = x + cell_w / 2
        parts.append(inner)
        parts.append(
            f'<text x="{center:g}" y="{y + size + 5:g}" font-size="4" font-weight="bold" '
            f'text-anchor="middle">{html.escape(code.placement or "(no placement)")}</text>'
        )
        detail = " · ".join(x for x in (code.product_id, code.qr_id) if x)
        parts.append(
            f'<text x="{center:g}" y="{y + size + 10:g}" font-size="3" text-anchor="middle">'
            f"{html.escape(detail)}</text>"
        )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
