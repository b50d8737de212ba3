"""``python -m cli qr ...`` against moto in process (the harness's container stands in for the
local stack's): the PNG it writes decodes to a URL that redirects; refusals name the option."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest

from cli.__main__ import main
from devstack.config import ROOT
from tests.integration.test_qr_admin_api import decode_png
from tests.integration.test_qr_redirect import PHONE


@pytest.fixture
def cli(harness):
    from chalicelib import wiring

    def run(*argv: str) -> tuple[int, str]:
        out = io.StringIO()
        code = main(list(argv), container=wiring.container(), out=out)
        return code, out.getvalue()

    return run


def test_qr_make_writes_a_png_that_decodes_to_a_url_that_answers_302(harness, cli, tmp_path):
    png = tmp_path / "code.png"

    code, out = cli(
        "qr", "make", "--store", "store-1", "--product", "sku-9", "--placement", "aisle 4", "--out", str(png)
    )

    assert code == 0, out
    assert "created QR code" in out and f"wrote {png}" in out and "QR version 3" in out
    url = decode_png(png.read_bytes())
    assert url.startswith("HTTP://127.0.0.1:8000/q/")
    response = harness.client.http.get(url[url.index("/q/") :], headers=PHONE)
    assert response.status_code == 302
    assert response.headers["Location"] == "https://shop.example.com/products/sku-9?src=qr"


def test_qr_make_svg_with_options(cli, tmp_path):
    svg = tmp_path / "code.svg"

    code, out = cli(
        "qr", "make", "--store", "store-1", "--destination", "https://shop.example.com/x",
        "--out", str(svg), "--error-correction", "h", "--scale", "3", "--no-compact",
    )  # fmt: skip

    assert code == 0, out
    assert svg.read_text().startswith("<?xml") and "error correction H" in out


def test_refusals_name_the_option(cli, capsys, tmp_path):
    code, _ = cli("qr", "make", "--store", "store-1", "--destination", "http://evil.example.net/x")
    assert code == 1
    err = capsys.readouterr().err
    assert "error: --destination: must use https" in err

    code, _ = cli("qr", "make", "--store", "bad#store", "--product", "p", "--out", str(tmp_path / "a.gif"))
    assert code == 1 and "--out: cannot tell the format" in capsys.readouterr().err

    code, _ = cli("qr", "make", "--store", "bad#store", "--product", "p")
    assert code == 1 and "error: --store:" in capsys.readouterr().err

    with pytest.raises(SystemExit) as usage:
        cli("qr", "make", "--store", "s", "--scale", "0")
    assert usage.value.code == 2 and "--scale: must be from 1 to 50" in capsys.readouterr().err


def test_sheet_list_update_revoke_rotate_and_stats(harness, cli, tmp_path):
    cli(
        "qr",
        "make",
        "--store",
        "store-5",
        "--product",
        "a",
        "--placement",
        "aisle 1",
        "--out",
        str(tmp_path / "a.png"),
    )
    code, out = cli(
        "qr",
        "make",
        "--store",
        "store-5",
        "--product",
        "b",
        "--placement",
        "till",
        "--out",
        str(tmp_path / "b.png"),
    )
    qr_id = out.split("created QR code ")[1].split()[0]

    code, out = cli("qr", "sheet", "--store", "store-5", "--out", str(tmp_path / "sheet.html"))
    assert code == 0 and "store-5: 2 active codes" in out
    assert (tmp_path / "sheet.html").read_text().count("<svg") == 2

    code, out = cli("qr", "list", "--store", "store-5")
    assert code == 0 and "aisle 1" in out and "till" in out and out.strip().endswith("2 codes")

    code, out = cli("qr", "update", qr_id, "--destination", "https://shop.example.com/sale")
    assert code == 0 and "the printed code is unchanged" in out

    code, out = cli("qr", "rotate", qr_id, "--grace-hours", "2", "--out", str(tmp_path / "new.png"))
    assert code == 0 and f"rotated {qr_id} ->" in out
    new_url = decode_png((tmp_path / "new.png").read_bytes())
    assert harness.client.http.get(new_url[new_url.index("/q/") :], headers=PHONE).status_code == 302

    code, out = cli("qr", "revoke", qr_id)
    assert code == 0 and "now answers 404" in out

    code, out = cli("qr", "stats", "--store", "store-5", "--days", "3")
    assert code == 0 and "scans 0, unique visitors 0" in out
    code, out = cli("qr", "stats", "ZZZZZZZZ")
    assert code == 1


def test_without_a_running_local_stack_it_says_how_to_start_one(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "cli", "--state-file", str(tmp_path / "none.json"), "qr", "list"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 3
    assert "the local stack is not running" in result.stderr and "make run" in result.stderr


def test_help_explains_each_command():
    result = subprocess.run(
        [sys.executable, "-m", "cli", "qr", "make", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0
    for option in (
        "--store",
        "--product",
        "--placement",
        "--destination",
        "--out",
        "--format",
        "--error-correction",
        "--scale",
    ):
        assert option in result.stdout
