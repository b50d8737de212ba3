"""/admin/qr-codes and the store QR routes, through chalice.test.Client against moto: create,
list, get, update (dynamic: the printed code keeps working), revoke, rotate, images, print
sheets; every refusal names its field and says why."""

from __future__ import annotations

import io
import json

import pytest

from tests.integration.conftest import ADMIN_TOKEN
from tests.integration.test_qr_redirect import PHONE

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
BODY = {
    "store_id": "store-9",
    "product_id": "sku-77",
    "placement": "aisle 4, top shelf",
    "destination": "https://shop.example.com/p/77?src=qr",
}


def create(harness, **changes):
    response = harness.admin("POST", "/admin/qr-codes", {**BODY, **changes})
    assert response.status_code == 201, response.body
    return json.loads(response.body)


def body(response):
    return json.loads(response.body)


def scan(harness, code, **headers):
    return harness.client.http.get(f"/q/{code}", headers={**PHONE, **headers})


def decode_png(data: bytes) -> str:
    import zxingcpp
    from PIL import Image

    [result] = zxingcpp.read_barcodes(Image.open(io.BytesIO(data)))
    return result.text


def test_create_returns_the_signed_code_and_its_scan_url_and_the_code_redirects(harness):
    view = create(harness)

    assert len(view["code"]) == 22 and view["code"].startswith(view["qr_id"])
    assert view["url"] == f"http://127.0.0.1:8000/q/{view['code']}"
    assert (view["state"], view["kid"], view["key_live"]) == ("active", "A", True)
    assert view["placement"] == "aisle 4, top shelf"
    response = scan(harness, view["code"])
    assert response.status_code == 302
    assert response.headers["Location"] == BODY["destination"]


def test_every_bad_field_is_named_with_its_reason(harness):
    response = harness.admin(
        "POST",
        "/admin/qr-codes",
        {
            "store_id": "store#1",
            "product_id": "",
            "placement": "x" * 81,
            "destination": "https://evil.example.net/p",
            "visitor_param": "bad param",
            "colour": "red",
        },
    )

    assert response.status_code == 400
    errors = {e["field"]: e["message"] for e in body(response)["errors"]}
    assert set(errors) == {"store_id", "product_id", "placement", "destination", "visitor_param", "colour"}
    assert "'evil.example.net' is not an allowed domain (shop.example.com)" in errors["destination"]
    assert errors["colour"] == "is not a field of a QR code"


@pytest.mark.parametrize(
    ("destination", "reason"),
    [
        ("http://shop.example.com/p", "must use https"),
        ("https://shop.example.com.evil.net/p", "not an allowed domain"),
        ("https://user:pw@shop.example.com/p", "user name or password"),
        ("javascript:alert(1)", "must use https"),
        ("https://shop.example.com/\r\nSet-Cookie:x", "control characters"),
    ],
)
def test_destinations_must_be_https_on_an_allowed_domain(harness, destination, reason):
    response = harness.admin("POST", "/admin/qr-codes", {**BODY, "destination": destination})

    assert response.status_code == 400
    [error] = body(response)["errors"]
    assert error["field"] == "destination" and reason in error["message"]


def test_without_a_destination_the_product_url_template_is_used(harness):
    payload = {k: v for k, v in BODY.items() if k != "destination"}
    response = harness.admin("POST", "/admin/qr-codes", payload)
    view = body(response)

    assert response.status_code == 201
    assert view["destination"] == "https://shop.example.com/products/sku-77?src=qr"


def test_admin_routes_need_the_admin_credentials(harness):
    for method, path in (
        ("post", "/admin/qr-codes"),
        ("get", "/admin/qr-codes"),
        ("get", f"/admin/qr-codes/{harness.qr['qr_id']}/image"),
        ("get", "/admin/stores/store-1/qr-sheet"),
        ("get", "/admin/stores/store-1/qr-stats"),
    ):
        response = getattr(harness.client.http, method)(
            path, headers={"Authorization": "Bearer wrong", "Content-Type": "application/json"}, body=b"{}"
        )
        assert response.status_code == 401, path


def test_list_filters_by_store_state_and_key(harness):
    a = create(harness)
    b = create(harness, placement="till")
    create(harness, store_id="store-8")
    harness.admin("POST", f"/admin/qr-codes/{b['qr_id']}/revoke")

    def ids(query):
        return {v["qr_id"] for v in body(harness.admin("GET", f"/admin/qr-codes{query}"))["qr_codes"]}

    assert ids("?store=store-9") == {a["qr_id"], b["qr_id"]}
    assert ids("?store=store-9&state=active") == {a["qr_id"]}
    assert len(ids("")) == 4  # with the harness's own code
    assert ids("?kid=B") == set()
    bad = harness.admin("GET", "/admin/qr-codes?state=lost")
    assert bad.status_code == 400 and body(bad)["errors"][0]["field"] == "state"


def test_changing_the_destination_keeps_the_printed_code(harness):
    view = create(harness)

    response = harness.admin(
        "PATCH", f"/admin/qr-codes/{view['qr_id']}", {"destination": "https://shop.example.com/sale"}
    )

    assert response.status_code == 200
    assert body(response)["code"] == view["code"]
    assert scan(harness, view["code"]).headers["Location"] == "https://shop.example.com/sale"
    refused = harness.admin("PATCH", f"/admin/qr-codes/{view['qr_id']}", {"destination": "https://evil.net"})
    assert refused.status_code == 400 and body(refused)["errors"][0]["field"] == "destination"
    assert scan(harness, view["code"]).headers["Location"] == "https://shop.example.com/sale"


def test_a_revoked_code_answers_the_404_page(harness):
    view = create(harness)

    response = harness.admin("POST", f"/admin/qr-codes/{view['qr_id']}/revoke")

    assert body(response)["state"] == "revoked"
    page = scan(harness, view["code"])
    assert page.status_code == 404 and page.headers["Content-Type"].startswith("text/html")
    again = harness.admin("PATCH", f"/admin/qr-codes/{view['qr_id']}", {"placement": "x"})
    assert again.status_code == 400 and body(again)["errors"][0]["field"] == "state"


def test_rotating_retires_the_old_label_and_the_new_one_redirects(harness):
    view = create(harness)

    response = harness.admin("POST", f"/admin/qr-codes/{view['qr_id']}/rotate")

    rotated = body(response)
    assert response.status_code == 200
    assert rotated["qr_id"] != view["qr_id"] and rotated["replaces"] == [view["qr_id"]]
    assert rotated["previous"]["state"] == "rotated"
    assert rotated["previous"]["replaced_by"] == rotated["qr_id"]
    assert scan(harness, view["code"]).status_code == 404
    assert scan(harness, rotated["code"]).headers["Location"] == BODY["destination"]
    old = body(harness.admin("GET", f"/admin/qr-codes/{view['qr_id']}"))
    assert (old["state"], old["scans_accepted"]) == ("rotated", False)
    twice = harness.admin("POST", f"/admin/qr-codes/{view['qr_id']}/rotate")
    assert twice.status_code == 400 and rotated["qr_id"] in body(twice)["errors"][0]["message"]


def test_a_rotation_with_grace_keeps_the_old_label_working_until_then(harness):
    view = create(harness)

    response = harness.admin("POST", f"/admin/qr-codes/{view['qr_id']}/rotate", {"grace_hours": 24})

    assert response.status_code == 200
    assert scan(harness, view["code"]).status_code == 302
    bad = harness.admin("POST", f"/admin/qr-codes/{body(response)['qr_id']}/rotate", {"grace_hours": -1})
    assert bad.status_code == 400 and body(bad)["errors"][0]["field"] == "grace_hours"


def test_png_image_is_binary_and_decodes_to_a_url_that_redirects(harness):
    view = create(harness)

    response = harness.client.http.get(
        f"/admin/qr-codes/{view['qr_id']}/image?format=png&error=H&scale=4",
        headers={**AUTH, "Accept": "image/png"},
    )

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/png"
    assert response.body.startswith(b"\x89PNG")
    url = decode_png(response.body)
    assert url.lower() == view["url"].lower()
    path = url[url.index("/q/") :]
    assert scan(harness, path.removeprefix("/q/")).status_code == 302


def test_svg_image_and_option_errors(harness):
    view = create(harness)

    svg = harness.client.http.get(f"/admin/qr-codes/{view['qr_id']}/image?format=svg", headers=AUTH)
    bad = harness.client.http.get(
        f"/admin/qr-codes/{view['qr_id']}/image?format=gif&error=Z&scale=0", headers=AUTH
    )

    assert svg.status_code == 200 and svg.headers["Content-Type"] == "image/svg+xml"
    assert b"<svg" in svg.body and b"aisle 4, top shelf" in svg.body
    assert bad.status_code == 400
    assert {e["field"] for e in body(bad)["errors"]} == {"format", "error", "scale"}


def test_the_print_sheet_has_every_active_code_of_the_store_with_its_label(harness):
    a = create(harness, placement="aisle 4 <top>")
    b = create(harness, placement="till")
    c = create(harness, placement="window")
    harness.admin("POST", f"/admin/qr-codes/{c['qr_id']}/revoke")

    page = harness.client.http.get("/admin/stores/store-9/qr-sheet", headers=AUTH)
    svg = harness.client.http.get("/admin/stores/store-9/qr-sheet?format=svg", headers=AUTH)

    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    text = page.body.decode()
    assert text.count("<svg") == 2 and "aisle 4 &lt;top&gt;" in text and "till" in text
    assert a["qr_id"] in text and b["qr_id"] in text and c["qr_id"] not in text
    assert svg.headers["Content-Type"] == "image/svg+xml" and svg.body.decode().count("<svg") == 3


def test_unknown_codes_are_404(harness):
    for path in ("/admin/qr-codes/ZZZZZZZZ", "/admin/qr-codes/nope", "/admin/qr-codes/ZZZZZZZZ/stats"):
        assert harness.admin("GET", path).status_code == 404, path
