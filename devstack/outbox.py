"""What moto "sent" by SES and SNS, as one normalised outbox, for tests and the demo.

``sent_messages(moto_url)`` reads a moto server's ``GET /moto-api/data.json``;
``sent_in_process()`` reads moto's backends under ``mock_aws`` (call it inside the mock). Both
return ``{"email": [...], "push": [...], "sms": [...]}`` in the order moto stored them:

- email: ``message_id``, ``sender``, ``recipient`` (the first), ``recipients`` (moto lists the
  envelope recipients *and* the ``To`` header's, so duplicates are removed), ``subject``
  (RFC 2047 decoded), ``text``, ``html``, ``headers`` (name -> decoded value, first of each),
  ``raw`` (the MIME text);
- push: ``message_id``, ``endpoint`` (ARN), ``platform`` (SNS's: ``APNS_SANDBOX``, ``GCM``...,
  from the ARN), ``title``, ``body``, ``offer_id``, ``deep_link`` (from that platform's part of a
  ``MessageStructure="json"`` message, else ``default``), ``payload`` (that part, parsed),
  ``raw`` (the published message string);
- sms: ``message_id``, ``recipient`` (phone), ``body``, ``raw`` (moto's record).

Where moto 5.2 keeps them (an internal format that may change between versions):

| kind | data.json | backend (account, region) |
| --- | --- | --- |
| email (SES v1 and v2: v2 stores in v1's backend) | ``ses.RawMessage[]`` ``{id, source, destinations, raw_data}``; ``ses.Message[]`` for simple sends; ``sesv2`` is null | ``moto.ses.models.ses_backends[a][r].sent_messages`` |
| push | ``sns.PlatformEndpoint[].messages`` ``{message_id: message}`` (with ``arn``, ``token``, ``enabled``) | ``moto.sns.models.sns_backends[a][r].platform_endpoints[arn].messages`` |
| sms | ``sns.SMS[]`` ``{message_id, phone_number, message}`` | ``sns_backends[a][r].sms_message_objects`` |

Not recorded by moto: SES tags and configuration set, SMS message attributes (sender id, max
price, type). data.json merges every account and region, and keeps messages of deleted
endpoints until a reset. ``reset(moto_url)`` is moto's global reset: it also wipes the
table, queues, identities and platform applications, so a running local stack must be
restarted after it; to look at new messages only, use ``sent_since(moto_url, before)``.

Imports nothing from chalicelib; moto only inside ``sent_in_process``.
"""

from __future__ import annotations

import email
import json
import urllib.request
from email import policy
from email.utils import parseaddr
from typing import Any

Outbox = dict[str, list[dict[str, Any]]]
KINDS = ("email", "push", "sms")
DEFAULT_ACCOUNT = "123456789012"


# -- reading ------------------------------------------------------------------------------
def sent_messages(moto_url: str, timeout: float = 10) -> Outbox:
    """The outbox of a moto server, e.g. ``sent_messages("http://127.0.0.1:5000")``."""
    url = f"{moto_url.rstrip('/')}/moto-api/data.json"
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - local moto
        return from_model_data(json.load(response))


def sent_since(moto_url: str, before: Outbox, timeout: float = 10) -> Outbox:
    """What was sent after ``before`` (an earlier ``sent_messages``), without resetting moto."""
    seen = {(kind, m["message_id"]) for kind in KINDS for m in before.get(kind, [])}
    now = sent_messages(moto_url, timeout)
    return {kind: [m for m in now[kind] if (kind, m["message_id"]) not in seen] for kind in KINDS}


def reset(moto_url: str, timeout: float = 10) -> None:
    """``POST /moto-api/reset``: forgets everything moto holds, not only the messages."""
    request = urllib.request.Request(f"{moto_url.rstrip('/')}/moto-api/reset", data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=timeout):  # noqa: S310 - local moto
        pass


def sent_in_process(account_id: str = DEFAULT_ACCOUNT, region: str = "us-east-1") -> Outbox:
    """The same outbox from moto's in-process backends (inside ``mock_aws``)."""
    from moto.ses.models import ses_backends
    from moto.sns.models import sns_backends

    ses = ses_backends[account_id][region]
    sns = sns_backends[account_id][region]
    email_out: list[dict[str, Any]] = []
    for sent in ses.sent_messages:
        if hasattr(sent, "raw_data"):
            email_out.append(_raw_email(sent.id, sent.source, sent.destinations, sent.raw_data))
        elif hasattr(sent, "subject"):
            email_out.append(_simple_email(vars(sent)))
    push = [
        _push(endpoint.arn, message_id, message, endpoint.token)
        for endpoint in sns.platform_endpoints.values()
        for message_id, message in endpoint.messages.items()
    ]
    sms = [
        _sms({"message_id": s.message_id, "phone_number": s.phone_number, "message": s.message})
        for s in sns.sms_message_objects.values()
    ]
    return {"email": email_out, "push": push, "sms": sms}


def from_model_data(data: dict[str, Any]) -> Outbox:
    """Normalise a ``/moto-api/data.json`` document."""
    ses = data.get("ses") or {}
    sns = data.get("sns") or {}
    email_out = [
        _raw_email(m["id"], m.get("source"), m.get("destinations") or [], m["raw_data"])
        for m in ses.get("RawMessage", [])
    ]
    email_out += [_simple_email(m) for m in ses.get("Message", [])]
    push = [
        _push(endpoint["arn"], message_id, message, endpoint.get("token"))
        for endpoint in sns.get("PlatformEndpoint", [])
        for message_id, message in (endpoint.get("messages") or {}).items()
    ]
    sms = [_sms(s) for s in sns.get("SMS", [])]
    return {"email": email_out, "push": push, "sms": sms}


# -- normalising --------------------------------------------------------------------------
def _unique(addresses: list[str]) -> list[str]:
    out: list[str] = []
    for address in addresses:
        bare = parseaddr(address)[1] or address
        if bare not in out:
            out.append(bare)
    return out


def _raw_email(message_id: str, source: str | None, destinations: list[str], raw: str) -> dict[str, Any]:
    parsed = email.message_from_string(raw, policy=policy.default)
    headers: dict[str, str] = {}
    for name, value in parsed.items():
        headers.setdefault(name, str(value))
    parts: dict[str, str | None] = {"plain": None, "html": None}
    for part in parsed.walk():
        subtype = part.get_content_subtype()
        if part.get_content_maintype() == "text" and subtype in parts and parts[subtype] is None:
            parts[subtype] = part.get_content()  # type: ignore[attr-defined]
    recipients = _unique(destinations)
    return {
        "message_id": message_id,
        "sender": source or headers.get("From"),
        "recipient": recipients[0] if recipients else None,
        "recipients": recipients,
        "subject": headers.get("Subject"),
        "text": parts["plain"],
        "html": parts["html"],
        "headers": headers,
        "raw": raw,
    }


def _simple_email(record: dict[str, Any]) -> dict[str, Any]:
    destinations = record.get("destinations") or {}
    to = destinations.get("ToAddresses", []) if isinstance(destinations, dict) else list(destinations)
    recipients = _unique(list(to))
    return {
        "message_id": record.get("id"),
        "sender": record.get("source"),
        "recipient": recipients[0] if recipients else None,
        "recipients": recipients,
        "subject": record.get("subject"),
        "text": record.get("body"),
        "html": None,
        "headers": {},
        "raw": record,
    }


def _platform(endpoint_arn: str) -> str:
    # arn:aws:sns:us-east-1:123456789012:endpoint/GCM/app-name/uuid
    parts = endpoint_arn.split(":endpoint/", 1)[-1].split("/")
    return parts[0] if len(parts) > 1 else ""


def _json(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def _push(endpoint_arn: str, message_id: str, message: str, token: str | None) -> dict[str, Any]:
    platform = _platform(endpoint_arn)
    structured = _json(message)
    part: Any = message
    if isinstance(structured, dict):
        part = structured.get(platform, structured.get("default", ""))
    payload = _json(part)
    title = body = offer_id = deep_link = None
    if isinstance(payload, dict) and "aps" in payload:
        alert = payload["aps"].get("alert")
        title, body = (alert.get("title"), alert.get("body")) if isinstance(alert, dict) else (None, alert)
        offer_id, deep_link = payload.get("offer_id"), payload.get("deep_link")
    elif isinstance(payload, dict):
        fcm = payload.get("fcmV1Message", {}).get("message", payload)
        notification = fcm.get("notification") or {}
        data = fcm.get("data") or {}
        title, body = notification.get("title"), notification.get("body")
        offer_id, deep_link = data.get("offer_id"), data.get("deep_link")
    else:
        body = payload
    return {
        "message_id": message_id,
        "endpoint": endpoint_arn,
        "platform": platform,
        "token": token,
        "title": title,
        "body": body,
        "offer_id": offer_id,
        "deep_link": deep_link,
        "payload": payload,
        "raw": message,
    }


def _sms(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "message_id": record.get("message_id"),
        "recipient": record.get("phone_number"),
        "body": record.get("message"),
        "raw": record,
    }
