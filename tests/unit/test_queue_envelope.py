"""contracts/queue_envelope.py: what ingest puts on the queue and the worker reads back."""

from __future__ import annotations

import json

import pytest

from chalicelib.contracts import queue_envelope
from chalicelib.contracts.queue_envelope import Envelope
from chalicelib.domain.errors import PoisonMessage
from tests.unit.builders import NOW, envelope, event, identify


@pytest.mark.parametrize(
    "evt",
    [
        event("Geofence Entered", properties={"store_id": "s1"}, context={"timezone": "Europe/Paris"}),
        event(
            "Product Viewed",
            user_id=None,
            anonymous_id="a-1",
            properties={"product_id": "p1", "name": "Café crème"},
        ),
        identify(anonymous_id="a-1", traits={"email": "ada@example.com", "consents": {"sms": False}}),
    ],
)
def test_given_an_envelope_when_encoded_and_decoded_then_it_is_unchanged(evt):
    original = envelope(evt, app_id="app-7")

    body = queue_envelope.encode(original)

    assert json.loads(body)["v"] == queue_envelope.VERSION
    assert queue_envelope.decode(body) == original


def valid_body() -> dict:
    return json.loads(queue_envelope.encode(envelope(event())))


def without(data: dict, *path: str) -> dict:
    target = data
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return data


def changed(data: dict, path: tuple[str, ...], value) -> dict:
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data


@pytest.mark.parametrize(
    "body",
    [
        "",
        "not json",
        "[1, 2]",
        "null",
        '"text"',
        json.dumps(changed(valid_body(), ("v",), 2)),
        json.dumps(without(valid_body(), "v")),
        json.dumps(changed(valid_body(), ("v",), "1")),
        json.dumps(without(valid_body(), "event")),
        json.dumps(changed(valid_body(), ("event",), "track")),
        json.dumps(changed(valid_body(), ("event",), ["track"])),
        json.dumps(without(valid_body(), "event", "userId")),
        json.dumps(changed(valid_body(), ("event", "userId"), "")),
        json.dumps(changed(valid_body(), ("event", "type"), "page")),
        json.dumps(without(valid_body(), "event", "type")),
        json.dumps(without(valid_body(), "event", "messageId")),
        json.dumps(changed(valid_body(), ("event", "timestamp"), "not a time")),
        json.dumps(without(valid_body(), "receivedAt")),
        json.dumps(without(valid_body(), "app")),
    ],
    ids=lambda body: body[:60],
)
def test_given_a_body_the_worker_can_never_process_when_decoded_then_it_is_poison(body):
    with pytest.raises(PoisonMessage):
        queue_envelope.decode(body)


def test_given_an_envelope_then_its_wire_form_is_compact_and_keeps_unicode():
    body = queue_envelope.encode(Envelope("app-1", NOW, event(properties={"product_id": "crème"})))

    assert ", " not in body and ": " not in body
    assert "crème" in body
    assert json.loads(body)["receivedAt"] == "2026-11-23T15:04:05.123+00:00"
