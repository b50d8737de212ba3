"""Data rights: a shopper created through every path (anonymous QR scan, identify with email
and phone, device registration, offers sent by push and SMS, one held out, a redemption) can be
exported in full and then erased, leaving nothing in the table that names them; an email
suppression survives only as a hash of the address."""

from __future__ import annotations

import io
import json

import boto3
import pytest

from chalicelib.domain.offers import address_hash
from chalicelib.engine.rules import in_holdout
from devstack.outbox import sent_in_process
from devstack.seed import CAMPAIGNS
from tests.integration.test_offers import DAY_ZONE, offers, ts
from tests.integration.test_qr_redirect import PHONE, set_cookies

USER = "zoe-erasable-7"
EMAIL = "zoe.erasable@example.com"
PHONE_NUMBER = "+15551230777"
TOKEN = "apns-token-zoe-erasable-0001"


def _holdout_campaign_id() -> str:
    """A campaign id whose 50 % control group holds USER (the hash is deterministic)."""
    for i in range(100):
        if in_holdout(f"look-{i}", f"user:{USER}", 50):
            return f"look-{i}"
    raise AssertionError("no campaign id puts the user in the control group")


def _track(harness, event: str, message_id: str, properties: dict) -> None:
    body = {
        "userId": USER,
        "event": event,
        "messageId": message_id,
        "timestamp": ts(),
        "properties": properties,
    }
    assert harness.post("/v1/track", body).status_code == 200
    harness.pump.drain()


@pytest.fixture
def zoe(harness):
    """Zoe, through every path that stores something about a shopper. Returns her anonymous id."""
    coffee = {
        **CAMPAIGNS[0],
        "id": "coffee",
        "trigger": {"moment": "geofence_entered", "store_ids": ["store-1"]},
    }
    scan_sms = {
        **CAMPAIGNS[0],
        "id": "scan-sms",
        "name": "SMS on a shelf scan",
        "trigger": {"moment": "qr_scanned"},
        "channels": ["sms"],
        "caps": {"per_user_per_day": 1},
    }
    look = {
        **CAMPAIGNS[0],
        "id": _holdout_campaign_id(),
        "name": "Held out",
        "trigger": {"moment": "product_viewed"},
        "caps": {},
        "holdout_percent": 50,
    }
    for campaign in (coffee, scan_sms, look):
        assert harness.admin("POST", "/admin/campaigns", campaign).status_code == 201

    # An anonymous shelf scan from the phone camera, before she is known.
    scan = harness.client.http.get(f"/q/{harness.qr['code']}", headers=PHONE)
    assert scan.status_code == 302
    anonymous_id = set_cookies(scan)["mm_vid"].split("=", 1)[1].split(";", 1)[0]
    harness.pump.drain()
    # She signs in: the anonymous history becomes hers.
    traits = {
        "email": EMAIL,
        "phone": PHONE_NUMBER,
        "first_name": "Zoe",
        "timezone": DAY_ZONE,
        "consents": {"push": True, "sms": True, "email": True},
    }
    identify = {"userId": USER, "anonymousId": anonymous_id, "messageId": "z-id", "timestamp": ts()}
    assert harness.post("/v1/identify", {**identify, "traits": traits}).status_code == 200
    device = {"userId": USER, "platform": "ios", "token": TOKEN}
    assert harness.post("/v1/devices", device).status_code == 200
    harness.pump.drain()

    _track(harness, "Geofence Entered", "z-g1", {"store_id": "store-1"})  # push, sent
    from chalicelib import wiring

    other_store = wiring.container().admin.create_qr_code(
        "store-2", "https://shop.example.com/p/43", "sku-43"
    )
    _track(harness, "QR Code Scanned", "z-q1", {"code": other_store["code"]})  # SMS, sent
    _track(harness, "Product Viewed", "z-p1", {"product_id": "sku-42"})  # held out
    records = {r["campaign_id"]: r for r in offers(harness, USER)}
    assert records["coffee"]["status"] == "sent" and records["coffee"]["channel"] == "push"
    assert records["scan-sms"]["status"] == "sent" and records["scan-sms"]["channel"] == "sms"
    assert records[look["id"]]["status"] == "holdout"
    redeemed = harness.post(
        f"/v1/offers/{records['coffee']['offer_id']}/redeem", {"code": records["coffee"]["code"]}
    )
    assert redeemed.status_code == 200
    # Her address bounced once: it must never be mailed again, even after erasure.
    bounce = {
        "notificationType": "Bounce",
        "bounce": {"bounceType": "Permanent", "bouncedRecipients": [{"emailAddress": EMAIL}]},
    }
    harness.client.lambda_.invoke(
        "ses_feedback", harness.client.events.generate_sns_event(message=json.dumps(bounce))
    )
    sent = sent_in_process()
    assert len(sent["push"]) == 1 and len(sent["sms"]) == 1
    return anonymous_id


def _mentions(row: dict, needles: list[str]) -> list[str]:
    text = json.dumps(row, default=str).lower()
    return [n for n in needles if n.lower() in text]


def test_export_returns_everything_held_about_the_user(harness, zoe):
    response = harness.admin("GET", f"/admin/users/{USER}/export")

    assert response.status_code == 200, response.body
    export = json.loads(response.body)
    assert export["profile"]["traits"]["email"] == EMAIL
    assert export["profile"]["traits"]["phone"] == PHONE_NUMBER
    assert {o["status"] for o in export["offers"]} == {"sent", "holdout"}
    assert any(o.get("redeemed_at") for o in export["offers"])
    assert any(o.get("target") == PHONE_NUMBER for o in export["offers"])
    assert {m["SK"] for m in export["moments"]} >= {"MSG#z-id", "MSG#z-g1", "MSG#z-q1", "MSG#z-p1"}
    assert export["caps"] and len(export["devices"]) == 1
    [anonymous] = export["anonymous"]
    assert anonymous["anonymous_id"] == zoe
    assert anonymous["alias"]["user_id"] == USER
    assert anonymous["moments"], "the anonymous scan is part of her history"
    # Every item of her partitions is in the export, and nothing of anyone else's.
    held = harness.scan(f"USER#{USER}") + harness.scan(f"ANON#{zoe}")
    sections = ("moments", "offers", "caps", "devices", "campaigns")
    exported = [export["profile"], *(r for k in sections for r in export[k])]
    exported += [anonymous[k] for k in ("profile", "alias") if anonymous[k]]
    exported += [r for k in sections for r in anonymous[k]]
    assert {r["SK"] for r in export["campaigns"]} >= {"SEEN#coffee"}
    assert sorted(r["SK"] for r in exported) == sorted(r["SK"] for r in held)


def test_erasure_leaves_nothing_that_names_the_user_anywhere_in_the_table(harness, zoe):
    needles = [USER, EMAIL, PHONE_NUMBER, zoe, TOKEN]
    before = [r for r in harness.scan() if _mentions(r, needles)]
    assert len(before) > 10
    codes = [r["code"] for r in offers(harness, USER) if r.get("code")]
    assert codes and all(harness.item(f"REDEEM#{c}", "META") for c in codes)
    sns = boto3.client("sns")
    app_arn = boto3.client("sns").list_platform_applications()["PlatformApplications"][0][
        "PlatformApplicationArn"
    ]
    endpoints = sns.list_endpoints_by_platform_application(PlatformApplicationArn=app_arn)["Endpoints"]
    assert any(USER in e["Attributes"].get("CustomUserData", "") for e in endpoints)

    response = harness.admin("DELETE", f"/admin/users/{USER}")

    assert response.status_code == 200, response.body
    result = json.loads(response.body)
    assert result["items_deleted"] >= len(before)
    assert result["anonymous_ids"] == 1 and result["push_endpoints_deleted"] == 1
    leftovers = {
        f"{r['PK']} {r['SK']}": _mentions(r, needles) for r in harness.scan() if _mentions(r, needles)
    }
    assert leftovers == {}
    assert all(harness.item(f"REDEEM#{c}", "META") is None for c in codes)
    endpoints = sns.list_endpoints_by_platform_application(PlatformApplicationArn=app_arn)["Endpoints"]
    assert not any(USER in e["Attributes"].get("CustomUserData", "") for e in endpoints)
    # Kept: the bounce, as a hash of the address only, so the address is never mailed again.
    assert harness.item(f"EMAIL#{address_hash(EMAIL)}", "META")["suppressed"] == "bounce"
    # Redeeming the erased offer's code now finds nothing; asking again is a 404.
    assert harness.admin("GET", f"/admin/users/{USER}/export").status_code == 404
    assert harness.admin("DELETE", f"/admin/users/{USER}").status_code == 404


def test_erasure_spares_an_anonymous_id_aliased_to_someone_else(harness):
    """A shared device: its anonymous id belongs to whoever it was aliased to first."""
    identify = {"anonymousId": "shared-tablet", "timestamp": ts(), "traits": {}}
    for user, message_id in (("uma", "u-1"), ("vic", "v-1")):
        body = {**identify, "userId": user, "messageId": message_id}
        assert harness.post("/v1/identify", body).status_code == 200
    harness.pump.drain()
    owner = harness.item("ANON#shared-tablet", "ALIAS")["user_id"]
    other = "vic" if owner == "uma" else "uma"

    assert harness.admin("DELETE", f"/admin/users/{other}").status_code == 200

    assert harness.item("ANON#shared-tablet", "ALIAS")["user_id"] == owner
    assert harness.scan(f"USER#{other}") == []


def test_the_cli_exports_and_erases(harness, zoe, tmp_path, capsys):
    from chalicelib import wiring
    from cli.__main__ import main

    out = io.StringIO()
    target = tmp_path / "zoe.json"
    assert main(["users", "export", USER, "--out", str(target)], container=wiring.container(), out=out) == 0
    assert json.loads(target.read_text())["profile"]["traits"]["email"] == EMAIL
    assert f"wrote {target}" in out.getvalue()

    out = io.StringIO()
    assert main(["users", "erase", USER, "--yes"], container=wiring.container(), out=out) == 0
    assert "erased" in out.getvalue() and harness.scan(f"USER#{USER}") == []

    assert main(["users", "erase", "nobody"], container=wiring.container(), out=out) == 1
    assert "--yes" in capsys.readouterr().err
    assert main(["users", "erase", USER, "--yes"], container=wiring.container(), out=out) == 1
    assert "no data" in capsys.readouterr().err
