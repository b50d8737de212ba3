"""contracts/segment.py: Segment-spec bodies -> validated events, every problem named by its field."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.contracts.segment import (
    MAX_BATCH_BYTES,
    MAX_BATCH_EVENTS,
    event_from_dict,
    event_to_dict,
    parse_batch,
    parse_event,
    parse_json,
    valid_timezone,
)
from chalicelib.domain.errors import InvalidInput, PayloadTooLarge
from chalicelib.domain.events import MOMENTS
from tests.unit.builders import APP_ID, NOW, event, identify_payload, track_payload


def errors_of(obj, **kwargs) -> dict[str, str]:
    """field -> message for every error parse_event reports (fails if it accepts the event)."""
    with pytest.raises(InvalidInput) as caught:
        parse_event(obj, kwargs.pop("now", NOW), kwargs.pop("salt", APP_ID), **kwargs)
    return {e.field: e.message for e in caught.value.errors}


def parse(obj, **kwargs):
    return parse_event(obj, kwargs.pop("now", NOW), kwargs.pop("salt", APP_ID), **kwargs)


# --- Identity -----------------------------------------------------------------------------------


def test_given_neither_user_id_nor_anonymous_id_then_user_id_is_named():
    body = track_payload()
    del body["userId"]

    errors = errors_of(body)

    assert list(errors) == ["userId"]
    assert "anonymousId" in errors["userId"]


def test_given_only_an_anonymous_id_then_the_event_is_accepted():
    body = track_payload(anonymousId="a-1")
    del body["userId"]

    evt = parse(body)

    assert (evt.user_id, evt.anonymous_id) == (None, "a-1")


@pytest.mark.parametrize(("sent", "kept"), [(42, "42"), (7.5, "7.5")])
def test_given_a_numeric_user_id_then_it_is_accepted_as_text(sent, kept):
    assert parse(track_payload(userId=sent)).user_id == kept


@pytest.mark.parametrize("field", ["userId", "anonymousId"])
@pytest.mark.parametrize("bad", [True, False, ["u1"], {"id": "u1"}])
def test_given_an_identity_that_is_not_text_or_a_number_then_that_field_is_named(field, bad):
    errors = errors_of(track_payload(**{field: bad}))

    assert "must be a string or a number" in errors[field]


def test_given_a_blank_user_id_then_it_is_refused():
    assert errors_of(track_payload(userId="   "))["userId"] == "must not be empty"


# --- Strings: control characters and lengths ------------------------------------------------


@pytest.mark.parametrize("char", ["\x00", "\n", "\t", "\x1b", "\x7f"])
def test_given_a_control_character_then_the_field_is_refused(char):
    body = track_payload("Geofence Entered", userId=f"u{char}1", properties={"store_id": f"s{char}1"})

    errors = errors_of(body)

    assert errors["userId"] == "must not contain control characters"
    assert errors["properties.store_id"] == "must not contain control characters"


@pytest.mark.parametrize(
    ("field", "limit"), [("userId", 255), ("anonymousId", 255), ("messageId", 100), ("event", 200)]
)
def test_given_a_string_one_over_its_limit_then_it_is_refused_and_at_the_limit_accepted(field, limit):
    assert parse(track_payload(**{field: "x" * limit}))

    errors = errors_of(track_payload(**{field: "x" * (limit + 1)}))

    assert errors[field] == f"must be at most {limit} characters"


def test_given_a_property_id_over_128_characters_then_it_is_refused():
    body = track_payload("Product Viewed", properties={"product_id": "p" * 129})

    assert errors_of(body)["properties.product_id"] == "must be at most 128 characters"


# --- Shapes and types -------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["properties", "context"])
def test_given_a_track_part_that_is_not_an_object_then_it_is_named(field):
    assert errors_of(track_payload(**{field: ["not", "an", "object"]}))[field] == "must be an object"


def test_given_traits_that_are_not_an_object_then_traits_is_named():
    assert errors_of(identify_payload(traits="ada"))["traits"] == "must be an object"


@pytest.mark.parametrize("kind", ["page", "screen", "alias", None, 3])
def test_given_an_unsupported_type_then_type_is_named(kind):
    assert "type" in errors_of(track_payload(type=kind))


def test_given_an_identify_body_on_the_track_endpoint_then_type_is_named():
    errors = errors_of(identify_payload(), expected_type="track")

    assert errors["type"] == "must be 'track' on this endpoint"


def test_given_no_type_on_an_endpoint_then_the_endpoint_decides_it():
    body = identify_payload()
    del body["type"]

    assert parse(body, expected_type="identify").type == "identify"


def test_given_a_track_without_an_event_name_then_event_is_required():
    body = track_payload()
    del body["event"]

    assert errors_of(body)["event"] == "is required"


def test_given_a_body_that_is_not_an_object_then_body_is_named():
    assert errors_of(["track"]) == {"body": "must be a JSON object"}


def test_given_many_problems_then_all_are_reported_at_once():
    body = track_payload(
        "Video Content Playing",
        userId=True,
        messageId="",
        timestamp="yesterday",
        properties={"video_id": "v1", "position": -1, "total_length": 0},
        context={"location": {"latitude": 91, "longitude": 0}},
    )

    errors = errors_of(body)

    assert set(errors) == {
        "userId",
        "messageId",
        "timestamp",
        "properties.position",
        "properties.total_length",
        "context.location.latitude",
    }


# --- Numbers: booleans are not numbers, bounds ---------------------------------------------------


def playing(**props):
    return track_payload(
        "Video Content Playing", properties={"video_id": "v", "position": 1, "total_length": 10, **props}
    )


def milestone(percent):
    return track_payload("Video Milestone Reached", properties={"video_id": "v", "percent": percent})


def order_total(total):
    return track_payload("Order Completed", properties={"order_id": "o", "total": total})


def located(location):
    return track_payload(context={"location": location})


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (playing(position=True), "properties.position"),
        (playing(total_length=False), "properties.total_length"),
        (milestone(True), "properties.percent"),
        (order_total(True), "properties.total"),
        (located({"latitude": True, "longitude": 0}), "context.location.latitude"),
        (located({"latitude": 0, "longitude": False}), "context.location.longitude"),
        (located({"latitude": 0, "longitude": 0, "accuracy": True}), "context.location.accuracy"),
    ],
)
def test_given_a_boolean_where_a_number_is_required_then_that_field_is_refused(body, field):
    assert errors_of(body)[field] == "must be a number"


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (playing(position=-0.5), "properties.position", "must be at least 0"),
        (playing(total_length=0), "properties.total_length", "must be greater than 0"),
        (milestone(100.1), "properties.percent", "must be at most 100"),
        (order_total(-1), "properties.total", "must be at least 0"),
        (located({"latitude": -90.5, "longitude": 0}), "context.location.latitude", "must be at least -90"),
        (located({"latitude": 0, "longitude": 180.5}), "context.location.longitude", "must be at most 180"),
        (
            located({"latitude": 0, "longitude": 0, "accuracy": -1}),
            "context.location.accuracy",
            "must be at least 0",
        ),
        (located({"longitude": 0}), "context.location.latitude", "is required"),
        (located("51.5,0.1"), "context.location", "must be an object"),
    ],
)
def test_given_a_number_out_of_range_then_that_field_is_named(body, field, message):
    assert errors_of(body)[field] == message


@pytest.mark.parametrize(
    "body", [milestone(0), milestone(100), playing(position=0), located({"latitude": -90, "longitude": 180})]
)
def test_given_numbers_at_their_bounds_then_they_are_accepted(body):
    assert parse(body)


def test_given_a_valid_location_then_only_its_numbers_are_kept():
    body = track_payload(
        context={
            "location": {"latitude": 51.5, "longitude": -0.12, "accuracy": 8, "city": "London"},
            "ip": "203.0.113.9",
        }
    )

    evt = parse(body)

    assert evt.context == {"location": {"latitude": 51.5, "longitude": -0.12, "accuracy": 8.0}}


# --- Traits -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("traits", "field"),
    [
        ({"email": "not-an-email"}, "traits.email"),
        ({"email": "a@b@example.com"}, "traits.email"),
        ({"phone": "07700 900123"}, "traits.phone"),
        ({"phone": "+0447700900123"}, "traits.phone"),
        ({"firstName": 7}, "traits.firstName"),
        ({"timezone": "Mars/Olympus_Mons"}, "traits.timezone"),
        ({"timezone": "../../etc/passwd"}, "traits.timezone"),
        ({"consents": {"fax": True}}, "traits.consents.fax"),
        ({"consents": {"email": "yes"}}, "traits.consents.email"),
        ({"consents": {"sms": 1}}, "traits.consents.sms"),
        ({"consents": ["email"]}, "traits.consents"),
    ],
)
def test_given_a_bad_trait_then_its_path_is_named(traits, field):
    assert field in errors_of(identify_payload(traits=traits))


def test_given_good_traits_then_they_are_normalised_and_unknown_ones_dropped():
    traits = {
        "email": "ada@example.com",
        "phone": "+447700900123",
        "firstName": "Ada",
        "timezone": "Europe/London",
        "consents": {"email": True, "sms": False},
        "favourite_colour": "green",
    }

    evt = parse(identify_payload(traits=traits))

    assert evt.traits == {
        "email": "ada@example.com",
        "phone": "+447700900123",
        "first_name": "Ada",
        "timezone": "Europe/London",
        "consents": {"email": True, "sms": False},
    }


@pytest.mark.parametrize("bad", ["Not/AZone", "", "/etc/localtime", "Europe/../Europe/London", 5])
def test_given_an_invalid_context_timezone_then_context_timezone_is_named(bad):
    assert "context.timezone" in errors_of(track_payload(context={"timezone": bad}))


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("Europe/London", True),
        ("UTC", True),
        ("America/Argentina/Buenos_Aires", True),
        ("Nowhere/Special", False),
        ("x" * 65, False),
    ],
)
def test_valid_timezone_knows_iana_names(name, valid):
    assert valid_timezone(name) is valid


# --- Timestamps -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("age", "accepted"),
    [
        (timedelta(hours=23, minutes=59), True),
        (timedelta(hours=24, seconds=1), False),
        (timedelta(minutes=-4), True),
        (timedelta(minutes=-5, seconds=-1), False),
    ],
)
def test_given_a_timestamp_then_only_the_last_24_hours_and_5_minutes_ahead_are_accepted(age, accepted):
    body = track_payload(timestamp=(NOW - age).isoformat())

    if accepted:
        assert parse(body).timestamp == NOW - age
    else:
        assert "timestamp" in errors_of(body)


@pytest.mark.parametrize("bad", ["yesterday", "2026-13-01T00:00:00Z", 1732374245, "2" * 41])
def test_given_a_timestamp_that_is_not_iso_8601_then_timestamp_is_named(bad):
    assert "timestamp" in errors_of(track_payload(timestamp=bad))


def test_given_no_timestamp_then_the_server_time_is_used():
    body = track_payload()
    del body["timestamp"]

    assert parse(body).timestamp == NOW


def test_given_a_timestamp_with_an_offset_or_none_then_it_is_normalised_to_utc():
    assert parse(track_payload(timestamp="2026-11-23T16:04:05+01:00")).timestamp == datetime(
        2026, 11, 23, 15, 4, 5, tzinfo=UTC
    )
    assert parse(track_payload(timestamp="2026-11-23T15:04:05")).timestamp.tzinfo == UTC


def test_given_a_device_clock_one_hour_behind_when_sent_at_is_present_then_the_timestamp_is_corrected():
    device_offset = timedelta(hours=-1)
    happened = NOW - timedelta(seconds=30)  # really happened 30 s ago
    body = track_payload(
        timestamp=(happened + device_offset).isoformat(), sentAt=(NOW + device_offset).isoformat()
    )

    assert parse(body).timestamp == happened


def test_given_a_device_clock_a_day_ahead_when_sent_at_is_present_then_the_event_is_not_refused():
    device_offset = timedelta(days=1)
    body = track_payload(
        timestamp=(NOW - timedelta(seconds=5) + device_offset).isoformat(),
        sentAt=(NOW + device_offset).isoformat(),
    )

    assert parse(body).timestamp == NOW - timedelta(seconds=5)


def test_given_no_sent_at_then_the_timestamp_is_taken_as_sent():
    body = track_payload(timestamp=(NOW - timedelta(hours=1)).isoformat())

    assert parse(body).timestamp == NOW - timedelta(hours=1)


def test_given_a_bad_sent_at_then_sent_at_is_named():
    assert "sentAt" in errors_of(track_payload(sentAt="soon"))


# --- messageId ------------------------------------------------------------------------------


def test_given_a_message_id_then_it_is_kept():
    assert parse(track_payload(messageId="sdk-123")).message_id == "sdk-123"


def test_given_no_message_id_then_the_same_payload_from_the_same_app_gets_the_same_id():
    body = track_payload()
    del body["messageId"]
    reordered = dict(reversed(list(body.items())))

    first, again, other_app = parse(body), parse(reordered), parse(body, salt="app-2")

    assert first.message_id.startswith("mm-") and len(first.message_id) == 35
    assert again.message_id == first.message_id
    assert other_app.message_id != first.message_id


def test_given_no_message_id_then_a_different_payload_gets_a_different_id():
    body = track_payload()
    del body["messageId"]
    other = {**body, "properties": {"product_id": "p2"}}

    assert parse(body).message_id != parse(other).message_id


# --- Recognised events: required properties ------------------------------------------------

VALID_PROPERTIES = {
    "QR Code Scanned": {"code": "SHELF001AABCDEFGHJKLMN"},
    "Product Viewed": {"product_id": "p1"},
    "Geofence Entered": {"store_id": "s1"},
    "Geofence Dwelled": {"store_id": "s1"},
    "Geofence Exited": {"store_id": "s1"},
    "Video Content Playing": {"video_id": "v1", "position": 12, "total_length": 300},
    "Video Content Completed": {"video_id": "v1"},
    "Video Milestone Reached": {"video_id": "v1", "percent": 50},
    "Order Completed": {"order_id": "o1"},
}
REQUIRED = [(name, prop) for name, kind in MOMENTS.items() for prop in kind.required]


def test_every_recognised_event_has_a_valid_example_here():
    assert set(VALID_PROPERTIES) == set(MOMENTS)


@pytest.mark.parametrize("name", sorted(MOMENTS))
def test_given_a_recognised_event_with_its_required_properties_then_it_is_a_moment(name):
    evt = parse(track_payload(name, properties=VALID_PROPERTIES[name]))

    assert evt.moment == MOMENTS[name]


@pytest.mark.parametrize(("name", "prop"), REQUIRED)
def test_given_a_recognised_event_without_a_required_property_then_that_property_is_named(name, prop):
    properties = {k: v for k, v in VALID_PROPERTIES[name].items() if k != prop}

    errors = errors_of(track_payload(name, properties=properties))

    assert errors == {f"properties.{prop}": "is required"}


@pytest.mark.parametrize(
    ("name", "prop"), [(n, p) for n, p in REQUIRED if p in ("position", "total_length", "percent")]
)
def test_given_a_numeric_property_as_text_then_it_is_refused(name, prop):
    properties = {**VALID_PROPERTIES[name], prop: "12"}

    assert errors_of(track_payload(name, properties=properties)) == {f"properties.{prop}": "must be a number"}


def test_given_a_numeric_id_property_then_it_is_kept_as_text_but_a_numeric_qr_code_is_refused():
    assert parse(track_payload("Geofence Entered", properties={"store_id": 12})).properties == {
        "store_id": "12"
    }

    errors = errors_of(track_payload("QR Code Scanned", properties={"code": 12345}))

    assert errors == {"properties.code": "must be a string"}


@pytest.mark.parametrize(
    ("products", "field"),
    [
        ({"product_id": "p1"}, "properties.products"),
        ([{"product_id": "p1"}] * 101, "properties.products"),
        (["p1"], "properties.products[0]"),
        ([{"product_id": "p1"}, {"category": "shoes"}], "properties.products[1].product_id"),
        ([{"product_id": "p1", "category": 4}], "properties.products[0].category"),
    ],
)
def test_given_bad_order_products_then_the_product_path_is_named(products, field):
    body = track_payload("Order Completed", properties={"order_id": "o1", "products": products})

    assert field in errors_of(body)


def test_given_an_unknown_event_name_then_it_is_accepted_with_its_properties_as_sent():
    properties = {"anything": [1, {"nested": True}], "store_id": 5, "code": 7}

    evt = parse(track_payload("Wishlist Shared", properties=properties))

    assert evt.event == "Wishlist Shared"
    assert evt.moment is None
    assert evt.properties == properties


def test_given_an_event_over_32_kb_then_it_is_refused_naming_the_body():
    body = track_payload("Wishlist Shared", properties={"blob": "x" * (33 * 1024)})

    assert errors_of(body) == {"body": "event is larger than 32 KB"}


# --- parse_json -----------------------------------------------------------------------------


def json_errors(raw: bytes | None, limit: int = 1024) -> list[str]:
    with pytest.raises(InvalidInput) as caught:
        parse_json(raw, limit)
    return [e.field for e in caught.value.errors]


@pytest.mark.parametrize(
    "raw",
    [
        None,
        b"",
        b"   \n",
        b"not json",
        b"{'single': 'quotes'}",
        b'{"a": 1',
        b'{"a": "\xc3\x28"}',
        b'{"a": NaN}',
        b'{"a": Infinity}',
        b'{"a": -Infinity}',
        b"[]",
        b'[{"type": "track"}]',
        b'"text"',
        b"42",
        b"null",
    ],
)
def test_given_a_body_that_is_not_a_json_object_then_body_is_named(raw):
    assert json_errors(raw) == ["body"]


def test_given_100k_levels_of_nesting_then_it_is_refused_without_crashing():
    raw = b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}"

    assert json_errors(raw, limit=len(raw)) == ["body"]


def test_given_nesting_just_past_16_levels_then_it_is_refused_and_at_16_accepted():
    def nested(levels: int) -> bytes:  # the innermost value counts as a level
        objects = levels - 1
        return b'{"a":' * objects + b"1" + b"}" * objects

    assert parse_json(nested(16), 1024)

    assert json_errors(nested(17)) == ["body"]


def test_given_a_body_over_the_limit_then_it_is_too_large():
    raw = json.dumps({"blob": "x" * 2000}).encode()

    with pytest.raises(PayloadTooLarge):
        parse_json(raw, 1024)


def test_given_a_number_that_overflows_to_infinity_then_body_is_refused():
    raw = json.dumps(
        track_payload(
            "Video Content Playing", properties={"video_id": "v1", "position": 1, "total_length": 1}
        )
    )
    raw = raw.replace('"total_length": 1', '"total_length": 1e999').encode()

    with pytest.raises(InvalidInput):
        parse_event(parse_json(raw, 32 * 1024), NOW, APP_ID)


def test_given_a_json_object_then_it_is_returned():
    assert parse_json(b' {"type": "track", "n": 1.5} ', 1024) == {"type": "track", "n": 1.5}


# --- parse_batch ---------------------------------------------------------------------------


def batch_item(message_id: str | None, **fields) -> dict:
    item = track_payload(**fields)
    if message_id is None:
        del item["messageId"]
    else:
        item["messageId"] = message_id
    return item


def test_given_a_mixed_batch_then_valid_events_are_accepted_and_each_rejected_one_named():
    good_1 = batch_item("m-1")
    no_identity = batch_item("m-2")
    del no_identity["userId"]
    good_2 = batch_item("m-3", anonymousId="a-1")
    bad_store = batch_item("m-4", event="Geofence Entered", properties={"store_id": ["s1"]})

    accepted, rejected = parse_batch({"batch": [good_1, no_identity, good_2, bad_store, "junk"]}, NOW, APP_ID)

    assert [e.message_id for e in accepted] == ["m-1", "m-3"]
    assert [(r.index, r.message_id) for r in rejected] == [(1, "m-2"), (3, "m-4"), (4, None)]
    assert [e.field for e in rejected[0].errors] == ["batch[1].userId"]
    assert [e.field for e in rejected[1].errors] == ["batch[3].properties.store_id"]
    assert [e.field for e in rejected[2].errors] == ["batch[4]"]
    assert rejected[1].as_dict() == {
        "index": 3,
        "messageId": "m-4",
        "errors": [{"field": "batch[3].properties.store_id", "message": "must be a string or a number"}],
    }


def test_given_a_rejected_event_with_a_non_text_message_id_then_no_message_id_is_reported():
    item = {**batch_item(None), "messageId": 123, "timestamp": "soon"}

    _, rejected = parse_batch({"batch": [item]}, NOW, APP_ID)

    assert rejected[0].message_id is None
    assert {e.field for e in rejected[0].errors} == {"batch[0].messageId", "batch[0].timestamp"}


def test_given_a_stale_event_in_a_batch_then_its_timestamp_path_is_indexed():
    items = [batch_item(f"m-{i}") for i in range(5)]
    items[3]["timestamp"] = (NOW - timedelta(days=2)).isoformat()

    accepted, rejected = parse_batch({"batch": items}, NOW, APP_ID)

    assert len(accepted) == 4
    assert [e.field for e in rejected[0].errors] == ["batch[3].timestamp"]


def test_given_a_batch_sent_at_then_it_corrects_every_event_without_its_own():
    device_offset = timedelta(hours=-1)
    happened = NOW - timedelta(seconds=10)
    plain = batch_item("m-1", timestamp=(happened + device_offset).isoformat())
    own = batch_item(
        "m-2",
        timestamp=(happened + timedelta(hours=2)).isoformat(),
        sentAt=(NOW + timedelta(hours=2)).isoformat(),
    )

    accepted, _ = parse_batch(
        {"batch": [plain, own], "sentAt": (NOW + device_offset).isoformat()}, NOW, APP_ID
    )

    assert [e.timestamp for e in accepted] == [happened, happened]


def test_given_a_bad_batch_sent_at_then_the_whole_batch_is_refused_naming_sent_at():
    with pytest.raises(InvalidInput) as caught:
        parse_batch({"batch": [batch_item("m-1")], "sentAt": "later"}, NOW, APP_ID)

    assert [e.field for e in caught.value.errors] == ["sentAt"]


def test_given_more_than_100_events_then_the_batch_is_too_large_and_100_are_fine():
    assert (
        len(parse_batch({"batch": [batch_item(f"m-{i}") for i in range(MAX_BATCH_EVENTS)]}, NOW, APP_ID)[0])
        == 100
    )

    with pytest.raises(PayloadTooLarge):
        parse_batch({"batch": [batch_item(f"m-{i}") for i in range(MAX_BATCH_EVENTS + 1)]}, NOW, APP_ID)


@pytest.mark.parametrize("body", [{"batch": []}, {}, {"batch": {"0": {}}}, {"batch": "[]"}])
def test_given_no_list_of_events_then_batch_is_named(body):
    with pytest.raises(InvalidInput) as caught:
        parse_batch(body, NOW, APP_ID)

    assert [e.field for e in caught.value.errors] == ["batch"]


def test_given_the_same_event_twice_in_a_batch_then_it_is_accepted_once():
    same_id = [batch_item("m-1"), batch_item("m-1", properties={"product_id": "p2"})]
    same_payload = [batch_item(None), batch_item(None)]

    assert [e.message_id for e in parse_batch({"batch": same_id}, NOW, APP_ID)[0]] == ["m-1"]
    assert len(parse_batch({"batch": same_payload}, NOW, APP_ID)[0]) == 1


def test_a_whole_batch_body_fits_the_batch_byte_limit():
    items = [
        batch_item(f"m-{i}", properties={"product_id": "p1", "note": "x" * 4000})
        for i in range(MAX_BATCH_EVENTS)
    ]
    raw = json.dumps({"batch": items}).encode()

    assert len(raw) < MAX_BATCH_BYTES
    assert len(parse_batch(parse_json(raw, MAX_BATCH_BYTES), NOW, APP_ID)[0]) == MAX_BATCH_EVENTS


# --- event_to_dict / event_from_dict ---------------------------------------------------------


def test_given_an_event_when_written_as_json_and_read_back_then_it_is_equal():
    original = event(
        "Order Completed",
        message_id="m-9",
        user_id="u1",
        anonymous_id="a-1",
        properties={"order_id": "o1", "products": [{"product_id": "p1", "category": "shoes"}]},
        context={"timezone": "Europe/London"},
    )

    again = event_from_dict(json.loads(json.dumps(event_to_dict(original))))

    assert again == original


def test_given_an_identify_then_it_round_trips_with_its_traits():
    original = parse(
        identify_payload(anonymousId="a-1", traits={"email": "ada@example.com", "consents": {"email": True}})
    )

    assert event_from_dict(event_to_dict(original)) == original


def test_given_an_event_when_written_then_empty_parts_are_left_out():
    assert event_to_dict(event("Thing", user_id=None, anonymous_id="a-1")) == {
        "type": "track",
        "messageId": "m-1",
        "timestamp": "2026-11-23T15:04:05.123+00:00",
        "anonymousId": "a-1",
        "event": "Thing",
    }
