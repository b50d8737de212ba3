"""domain/campaigns.py: parse_campaign names every bad field, fills the documented defaults,
and a stored campaign reads back as the same campaign."""

from __future__ import annotations

import json

import pytest

from chalicelib.domain.campaigns import (
    CHANNELS,
    DEFAULT_FRESHNESS_MINUTES,
    Caps,
    Product,
    campaign_from_dict,
    parse_campaign,
    with_status,
)
from chalicelib.domain.clock import iso
from chalicelib.domain.errors import InvalidInput
from tests.unit.builders import NOW, campaign_body

NOW_ISO = iso(NOW)


def errors_of(body) -> dict[str, str]:
    with pytest.raises(InvalidInput) as caught:
        parse_campaign(body, NOW_ISO)
    return {e.field: e.message for e in caught.value.errors}


# --- a valid body -----------------------------------------------------------------------------


def test_given_a_minimal_body_then_the_defaults_are_filled_in():
    parsed = parse_campaign(campaign_body(), NOW_ISO)

    assert parsed.id == "coffee" and parsed.status == "active" and parsed.active
    assert parsed.priority == 50
    assert parsed.holdout_percent == 0.0
    assert parsed.caps == Caps(per_user_per_day=None, per_user_per_week=None, budget=None, min_gap_minutes=0)
    assert parsed.offer.valid_minutes == 60
    assert parsed.created_at == parsed.updated_at == NOW_ISO


@pytest.mark.parametrize(
    ("moment", "minutes"),
    [("geofence_entered", 10), ("geofence_dwelled", 10), ("qr_scanned", 30), ("video_completed", 60)],
)
def test_given_no_freshness_then_it_defaults_by_moment_type(moment, minutes):
    parsed = parse_campaign(campaign_body(trigger={"moment": moment}), NOW_ISO)

    assert parsed.freshness_minutes == minutes == DEFAULT_FRESHNESS_MINUTES[moment]


def test_given_an_explicit_freshness_then_it_wins_over_the_default():
    parsed = parse_campaign(campaign_body(freshness_minutes=45), NOW_ISO)

    assert parsed.freshness_minutes == 45


def test_given_no_channels_then_every_channel_is_allowed_in_the_default_order():
    body = campaign_body()
    del body["channels"]

    assert parse_campaign(body, NOW_ISO).channels == CHANNELS


def test_given_no_id_then_one_is_made_from_the_name():
    body = campaign_body(name="Summer Coffee!")
    del body["id"]

    parsed = parse_campaign(body, NOW_ISO)

    assert parsed.id.startswith("summer-coffee-") and len(parsed.id) == len("summer-coffee-") + 6


def test_given_duplicate_store_ids_then_each_is_kept_once_in_order():
    parsed = parse_campaign(campaign_body(trigger={"store_ids": ["s2", "s1", "s2"]}), NOW_ISO)

    assert parsed.trigger.store_ids == ("s2", "s1")


def test_given_a_replacement_then_id_and_created_at_come_from_the_existing_campaign():
    existing = parse_campaign(campaign_body(), "2026-01-01T00:00:00.000+00:00")

    replaced = parse_campaign(campaign_body(id="ignored", name="Renamed", status="paused"), NOW_ISO, existing)

    assert replaced.id == "coffee" and replaced.name == "Renamed" and replaced.status == "paused"
    assert replaced.created_at == "2026-01-01T00:00:00.000+00:00" and replaced.updated_at == NOW_ISO


def test_given_timestamps_with_a_zone_then_they_are_stored_as_utc():
    parsed = parse_campaign(
        campaign_body(trigger={"starts_at": "2026-12-01T09:00:00+01:00", "ends_at": "2026-12-31T00:00:00Z"}),
        NOW_ISO,
    )

    assert parsed.trigger.starts_at == "2026-12-01T08:00:00.000+00:00"
    assert parsed.trigger.ends_at == "2026-12-31T00:00:00.000+00:00"


# --- every validation names its field ----------------------------------------------------------


def test_given_no_body_then_the_body_and_each_required_field_are_named():
    errors = errors_of(None)

    assert errors["body"] == "is required"
    assert {"name", "trigger", "trigger.moment", "offer", "offer.title", "offer.body"} <= set(errors)


def test_given_a_body_that_is_not_an_object_then_body_is_named():
    assert errors_of([campaign_body()])["body"] == "must be an object"


def test_given_an_unknown_moment_then_trigger_moment_is_named():
    errors = errors_of(campaign_body(trigger={"moment": "walked_by"}))

    assert list(errors) == ["trigger.moment"]
    assert "geofence_entered" in errors["trigger.moment"]


def test_given_no_trigger_then_trigger_is_required_and_its_moment_named():
    body = campaign_body()
    del body["trigger"]

    assert set(errors_of(body)) == {"trigger", "trigger.moment"}


def test_given_bad_store_ids_then_each_bad_item_is_named_by_its_index():
    errors = errors_of(campaign_body(trigger={"store_ids": ["s1", "", 7, "x" * 129]}))

    assert set(errors) == {"trigger.store_ids[1]", "trigger.store_ids[2]", "trigger.store_ids[3]"}


def test_given_store_ids_that_are_not_a_list_then_the_list_is_named():
    assert set(errors_of(campaign_body(trigger={"store_ids": "s1"}))) == {"trigger.store_ids"}


@pytest.mark.parametrize(
    "window",
    [
        {"start": "25:00", "end": "08:00"},
        {"start": "7:00", "end": "08:00"},
        {"start": "07:00"},
        "07:00-08:00",
    ],
)
def test_given_a_bad_local_time_window_then_it_is_named_by_its_index(window):
    errors = errors_of(
        campaign_body(trigger={"local_time_windows": [{"start": "07:00", "end": "11:00"}, window]})
    )

    assert list(errors) == ["trigger.local_time_windows[1]"]


def test_given_a_window_across_midnight_then_it_is_accepted():
    parsed = parse_campaign(
        campaign_body(trigger={"local_time_windows": [{"start": "21:00", "end": "08:00"}]}), NOW_ISO
    )

    assert parsed.trigger.local_time_windows == (("21:00", "08:00"),)


def test_given_a_bad_day_of_week_then_it_is_named_by_its_index():
    errors = errors_of(campaign_body(trigger={"days_of_week": ["mon", "funday"]}))

    assert list(errors) == ["trigger.days_of_week[1]"]


@pytest.mark.parametrize("score", [-1, 1001, "high", True])
def test_given_a_bad_affinity_score_then_trigger_min_affinity_score_is_named(score):
    errors = errors_of(campaign_body(trigger={"min_affinity": {"category": "coffee", "score": score}}))

    assert list(errors) == ["trigger.min_affinity.score"]


def test_given_an_affinity_without_a_score_then_the_score_is_required():
    errors = errors_of(campaign_body(trigger={"min_affinity": {"category": "coffee"}}))

    assert errors == {"trigger.min_affinity.score": "is required"}


def test_given_an_affinity_without_a_category_then_the_category_is_required():
    errors = errors_of(campaign_body(trigger={"min_affinity": {"score": 2}}))

    assert errors == {"trigger.min_affinity.category": "is required"}


def test_given_a_valid_affinity_then_category_and_score_are_kept():
    parsed = parse_campaign(
        campaign_body(trigger={"min_affinity": {"category": "coffee", "score": 2}}), NOW_ISO
    )

    assert (parsed.trigger.min_affinity_category, parsed.trigger.min_affinity_score) == ("coffee", 2.0)


def test_given_an_unknown_placeholder_in_the_title_then_offer_title_names_it():
    errors = errors_of(campaign_body(offer={"title": "Hi {first_name}, {password}"}))

    assert list(errors) == ["offer.title"]
    assert "{password}" in errors["offer.title"]


@pytest.mark.parametrize(
    ("section", "key", "path"),
    [
        ("email", "subject", "offer.email.subject"),
        ("email", "html", "offer.email.html"),
        ("push", "title", "offer.push.title"),
        ("push", "body", "offer.push.body"),
        ("sms", "text", "offer.sms.text"),
    ],
)
def test_given_an_unknown_placeholder_in_channel_content_then_that_field_is_named(section, key, path):
    errors = errors_of(campaign_body(offer={section: {key: "{__class__}"}}))

    assert list(errors) == [path]


def test_given_an_sms_text_over_160_characters_then_offer_sms_text_is_named():
    errors = errors_of(campaign_body(offer={"sms": {"text": "x" * 161}}))

    assert errors == {"offer.sms.text": "must be at most 160 characters"}


def test_given_an_sms_text_of_exactly_160_characters_then_it_is_accepted():
    parsed = parse_campaign(campaign_body(offer={"sms": {"text": "x" * 160}}), NOW_ISO)

    assert len(parsed.offer.content.sms_text) == 160


@pytest.mark.parametrize(
    "link", ["javascript:alert(1)", "data:text/html,<b>x</b>", "shop.example.com/x", "https://"]
)
def test_given_an_unsafe_deep_link_then_offer_deep_link_is_named(link):
    assert list(errors_of(campaign_body(offer={"deep_link": link}))) == ["offer.deep_link"]


@pytest.mark.parametrize(
    "link",
    [
        "javascript://%0Aalert(document.cookie)",
        "vbscript://x",
        "data://text/html,x",
        "file:///etc/passwd",
        "http://shop.example.com/offers/1",
        "myapp://offers/1\\..\\x",
    ],
)
def test_given_a_script_local_or_plain_http_link_written_with_slashes_then_offer_deep_link_is_named(link):
    # (found by this suite: an "app link" pattern of any-scheme:// once let these through)
    assert list(errors_of(campaign_body(offer={"deep_link": link}))) == ["offer.deep_link"]


@pytest.mark.parametrize("link", ["https://shop.example.com/offers/1", "myapp://offers/1"])
def test_given_an_https_or_app_deep_link_then_it_is_accepted(link):
    assert parse_campaign(campaign_body(offer={"deep_link": link}), NOW_ISO).offer.deep_link == link


@pytest.mark.parametrize(
    ("caps", "path"),
    [
        ({"per_user_per_day": 0}, "caps.per_user_per_day"),
        ({"per_user_per_day": 101}, "caps.per_user_per_day"),
        ({"per_user_per_day": 1.5}, "caps.per_user_per_day"),
        ({"per_user_per_week": 501}, "caps.per_user_per_week"),
        ({"per_user_per_week": True}, "caps.per_user_per_week"),
        ({"budget": 0}, "caps.budget"),
        ({"budget": "100"}, "caps.budget"),
        ({"min_gap_minutes": -1}, "caps.min_gap_minutes"),
        ({"min_gap_minutes": 60 * 24 * 30 + 1}, "caps.min_gap_minutes"),
    ],
)
def test_given_a_bad_cap_then_that_cap_is_named(caps, path):
    assert list(errors_of(campaign_body(caps=caps))) == [path]


def test_given_caps_that_are_not_an_object_then_caps_is_named():
    assert list(errors_of(campaign_body(caps=[1, 2]))) == ["caps"]


def test_given_valid_caps_then_they_are_kept():
    parsed = parse_campaign(
        campaign_body(
            caps={"per_user_per_day": 1, "per_user_per_week": 3, "budget": 500, "min_gap_minutes": 30}
        ),
        NOW_ISO,
    )

    assert parsed.caps == Caps(1, 3, 500, 30)


@pytest.mark.parametrize("percent", [50.5, 51, -1, "10"])
def test_given_a_holdout_outside_0_to_50_then_holdout_percent_is_named(percent):
    assert list(errors_of(campaign_body(holdout_percent=percent))) == ["holdout_percent"]


def test_given_a_holdout_of_50_then_it_is_accepted():
    assert parse_campaign(campaign_body(holdout_percent=50), NOW_ISO).holdout_percent == 50.0


@pytest.mark.parametrize("status", ["deleted", "ACTIVE", 1])
def test_given_an_unknown_status_then_status_is_named(status):
    assert list(errors_of(campaign_body(status=status))) == ["status"]


def test_given_ends_at_before_starts_at_then_trigger_ends_at_is_named():
    errors = errors_of(
        campaign_body(trigger={"starts_at": "2026-12-02T00:00:00Z", "ends_at": "2026-12-01T00:00:00Z"})
    )

    assert errors == {"trigger.ends_at": "must be after trigger.starts_at"}


def test_given_a_timestamp_without_a_zone_then_it_is_named():
    assert list(errors_of(campaign_body(trigger={"starts_at": "2026-12-02T00:00:00"}))) == [
        "trigger.starts_at"
    ]


@pytest.mark.parametrize("priority", [0, 101, "high"])
def test_given_a_priority_outside_1_to_100_then_priority_is_named(priority):
    assert list(errors_of(campaign_body(priority=priority))) == ["priority"]


@pytest.mark.parametrize("channels", [["push", "fax"], "push"])
def test_given_an_unknown_channel_then_channels_is_named(channels):
    assert all(f.startswith("channels") for f in errors_of(campaign_body(channels=channels)))


def test_given_a_bad_id_then_id_is_named():
    assert list(errors_of(campaign_body(id="Coffee Promo"))) == ["id"]


def test_given_several_problems_then_every_one_is_named_at_once():
    body = campaign_body(
        trigger={"moment": "nope", "store_ids": [""]},
        offer={"title": "", "sms": {"text": "x" * 200}},
        caps={"budget": 0},
        holdout_percent=90,
        status="gone",
    )

    assert set(errors_of(body)) == {
        "trigger.moment",
        "trigger.store_ids[0]",
        "offer.title",
        "offer.sms.text",
        "caps.budget",
        "holdout_percent",
        "status",
    }


def test_given_a_control_character_in_the_body_then_offer_body_is_named():
    assert list(errors_of(campaign_body(offer={"body": "Hello\x07"}))) == ["offer.body"]


def test_given_a_product_without_a_name_then_it_is_named_by_its_index():
    errors = errors_of(
        campaign_body(offer={"products": [{"product_id": "p1", "name": "Latte"}, {"product_id": "p2"}]})
    )

    assert list(errors) == ["offer.products[1].name"]


# --- status changes ----------------------------------------------------------------------------


def test_given_a_campaign_when_paused_then_only_status_and_updated_at_change():
    parsed = parse_campaign(campaign_body(), "2026-01-01T00:00:00.000+00:00")

    paused = with_status(parsed, "paused", NOW_ISO)

    assert paused.status == "paused" and not paused.active and paused.updated_at == NOW_ISO
    assert paused.created_at == parsed.created_at and paused.offer == parsed.offer


def test_given_an_unknown_status_when_changing_status_then_status_is_named():
    with pytest.raises(InvalidInput) as caught:
        with_status(parse_campaign(campaign_body(), NOW_ISO), "deleted", NOW_ISO)

    assert [e.field for e in caught.value.errors] == ["status"]


# --- stored and read back ----------------------------------------------------------------------


def full_campaign():
    return parse_campaign(
        campaign_body(
            trigger={
                "moment": "video_milestone",
                "store_ids": ["s1", "s2"],
                "product_ids": ["p1"],
                "categories": ["coffee"],
                "video_ids": ["v1"],
                "min_percent": 75,
                "min_affinity": {"category": "coffee", "score": 1.5},
                "local_time_windows": [
                    {"start": "07:00", "end": "11:00"},
                    {"start": "21:00", "end": "02:00"},
                ],
                "days_of_week": ["mon", "sat"],
                "starts_at": "2026-11-01T00:00:00Z",
                "ends_at": "2026-12-31T00:00:00Z",
            },
            offer={
                "valid_minutes": 30,
                "products": [
                    {"product_id": "p1", "name": "Latte", "category": "coffee"},
                    {"product_id": "p2", "name": "Mug"},
                ],
                "email": {"subject": "For {first_name|you}", "html": "<p>{title}</p>", "text": "{title}"},
                "push": {"title": "{title}", "body": "Code {code}"},
                "sms": {"text": "{title} {deep_link}"},
            },
            channels=["sms", "push"],
            caps={"per_user_per_day": 1, "per_user_per_week": 2, "budget": 10, "min_gap_minutes": 15},
            priority=80,
            holdout_percent=12.5,
            freshness_minutes=20,
        ),
        NOW_ISO,
    )


def test_given_a_campaign_then_as_dict_and_campaign_from_dict_round_trip():
    original = full_campaign()

    assert campaign_from_dict(original.as_dict()) == original


def test_given_a_campaign_stored_as_json_then_it_reads_back_the_same():
    original = full_campaign()

    restored = campaign_from_dict(json.loads(json.dumps(original.as_dict())))

    assert restored == original
    assert restored.offer.products[1] == Product("p2", "Mug", None)
    assert restored.trigger.local_time_windows == (("07:00", "11:00"), ("21:00", "02:00"))
