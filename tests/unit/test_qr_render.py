"""chalicelib/qr_render.py: every PNG decodes (zxing-cpp) to the code's URL at every error level,
the compact encoding is smaller, and print sheets carry every code with its (escaped) label."""

from __future__ import annotations

import io
import sys

import pytest

from chalicelib import qr_render
from chalicelib.qr_render import ImageOptions, SheetCode

TOKEN = "SHELF234AKQ3LRZB7XJ2MA"
LOCAL = f"http://127.0.0.1:8000/q/{TOKEN}"
DEPLOYED = f"https://abcdef1234.execute-api.us-east-1.amazonaws.com/api/q/{TOKEN}"


def decode(png: bytes) -> str:
    import zxingcpp
    from PIL import Image

    [result] = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    return result.text


@pytest.mark.parametrize("error", ["L", "M", "Q", "H"])
@pytest.mark.parametrize("url", [LOCAL, DEPLOYED, f"https://qr.shop.example.com/q/{TOKEN}"])
def test_the_png_decodes_to_the_url_a_browser_opens(url, error):
    text = decode(qr_render.png(url, ImageOptions(error=error, scale=3)))

    def path(u: str) -> str:
        return u.split("://", 1)[1].split("/", 1)[1]

    assert text.lower() == url.lower()  # scheme and host may be uppercase (alphanumeric mode)
    assert path(text) == path(url)  # the path keeps its case


@pytest.mark.parametrize("url", [LOCAL, DEPLOYED])
def test_the_compact_symbol_is_smaller_than_byte_mode(url):
    compact = qr_render.symbol(url, ImageOptions(error="M"))
    plain = qr_render.symbol(url, ImageOptions(error="M", compact=False))

    assert compact.version < plain.version
    assert decode(qr_render.png(url, ImageOptions(compact=False, scale=3))) == url


def test_a_local_code_fits_a_29_module_symbol_at_level_m():
    assert qr_render.symbol(LOCAL).symbol_size(scale=1, border=0) == (29, 29)


def test_scale_and_border_set_the_png_size():
    from PIL import Image

    image = Image.open(io.BytesIO(qr_render.png(LOCAL, ImageOptions(scale=5, border=2))))

    assert image.size == ((29 + 4) * 5, (29 + 4) * 5)


def test_the_svg_is_a_standalone_document_with_a_title():
    svg = qr_render.svg(LOCAL, ImageOptions(), title="aisle <4>")

    assert svg.startswith("<?xml") and "<svg" in svg and "aisle &lt;4&gt;" in svg


def test_the_html_sheet_has_each_code_and_its_escaped_label():
    codes = [
        SheetCode("SHELF234", LOCAL, "aisle 4 <top>", "sku-1", "https://shop.example.com/p/1"),
        SheetCode("TILL2345", LOCAL.replace("SHELF234", "TILL2345"), None, None, "https://shop.example.com/"),
    ]

    page = qr_render.sheet_html("store-7", "Market & Co", codes)

    assert page.count("<svg") == 2 and "aisle 4 &lt;top&gt;" in page and "(no placement)" in page
    assert "Market &amp; Co" in page and "2 codes" in page and "@page" in page


def test_the_svg_sheet_places_every_code_and_grows_for_many():
    codes = [SheetCode(f"CODE{i:04d}"[:8], LOCAL, f"shelf {i}", None, "https://x") for i in range(14)]

    sheet = qr_render.sheet_svg("store-7", None, codes)

    assert sheet.count("<svg") == 15 and "shelf 13" in sheet
    assert 'height="297mm"' not in sheet  # 5 rows do not fit on one A4 page


def test_segno_is_imported_only_when_drawing_never_by_app_py():
    import subprocess
    from pathlib import Path

    probe = (
        "import sys, app, chalicelib.qr_render as r, chalicelib.use_cases.qr_admin; "
        "print('segno' in sys.modules); r.symbol('https://x.example/q/A'); print('segno' in sys.modules)"
    )
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=root, capture_output=True, text=True, timeout=60
    )

    assert result.stdout.split() == ["False", "True"], result.stderr
